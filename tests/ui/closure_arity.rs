use gradc::network;

#[network]
fn net(#[input] x: [[f32; 4]; 2], w: [[f32; 4]; 4], b: [f32; 4]) -> f32 {
    let dense = |x, w, b| relu(x.matmul(w) + b);
    sum(dense(x, w))
}

fn main() {}
