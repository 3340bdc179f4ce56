use gradc::network;

#[network]
fn net(#[input] x: [[f32; 2]; 4], #[input] y: [f32; 3], w: [f32; 2]) -> f32 {
    mse(x.matmul(w), y)
}

fn main() {}
