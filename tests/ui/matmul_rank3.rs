use gradc::network;

#[network]
fn net(#[input] x: [[[f32; 2]; 2]; 2], w: [[f32; 2]; 2]) -> f32 {
    sum(x.matmul(w))
}

fn main() {}
