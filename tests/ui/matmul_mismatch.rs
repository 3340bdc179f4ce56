use gradc::network;

#[network]
fn net(#[input] x: [[f32; 2]; 4], w: [[f32; 2]; 3]) -> f32 {
    sum(x.matmul(w))
}

fn main() {}
