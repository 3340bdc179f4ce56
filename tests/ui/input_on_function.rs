use gradc::network;

#[network]
#[input]
fn net(x: [f32; 3], w: f32) -> f32 {
    sum(x * w)
}

fn main() {}
