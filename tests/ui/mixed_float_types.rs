use gradc::network;

#[network]
fn net(#[input] x: [f64; 3], w: [f32; 3]) -> f32 {
    sum(x * w)
}

fn main() {}
