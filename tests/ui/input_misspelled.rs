use gradc::network;

#[network]
fn net(#[inputs] x: [f32; 3], w: f32) -> f32 {
    sum(x * w)
}

fn main() {}
