use gradc::network;

#[network]
fn net<const B: usize, const C: usize>(#[input] x: [[f32; 4]; B], w: [f32; 4]) -> f32 {
    mean(x.matmul(w))
}

fn main() {}
