use gradc::network;

#[network]
fn net(#[input] x: [f32; 3], w: [f32; 3]) -> f32 {
    (x * w).iter().map(|v| v * v).sum()
}

fn main() {}
