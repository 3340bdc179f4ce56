use gradc::network;

#[network]
fn net(#[input] x: [[f32; 2]; 4], #[input] labels: [f32; 4], w: [[f32; 3]; 2]) -> f32 {
    cross_entropy(x.matmul(w), labels)
}

fn main() {}
