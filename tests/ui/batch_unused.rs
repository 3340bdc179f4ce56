use gradc::network;

#[network]
fn net<const B: usize>(#[input] x: [[f32; 4]; 32], w: [f32; 4]) -> f32 {
    mean(x.matmul(w))
}

fn main() {}
