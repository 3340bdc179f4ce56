use gradc::network;

#[network]
fn net(#[input(x)] x: [f32; 3], w: f32) -> f32 {
    sum(x * w)
}

fn main() {}
