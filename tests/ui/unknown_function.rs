use gradc::network;

#[network]
fn net(#[input] x: [f32; 3], w: [f32; 3]) -> f32 {
    sum(frobnicate(x * w))
}

fn main() {}
