use gradc::network;

#[network]
fn net(#[input] x: [[f32; 2]; 4], #[input] labels: [f32; 3], w: [[f32; 3]; 2]) -> f32 {
    cross_entropy(x.matmul(w), labels)
}

#[network]
fn one(#[input] x: [f32; 2], #[input] label: [f32; 1], w: [[f32; 3]; 2]) -> f32 {
    cross_entropy(x.matmul(w), label)
}

fn main() {}
