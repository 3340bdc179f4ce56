use gradc::network;

#[network]
fn net(#[input] x: [[f32; 4]; 2], ws: [[[f32; 4]; 4]; 10], depth: f32) -> f32 {
    let mut h = x;
    for k in 0..depth {
        h = tanh(h.matmul(ws[k]));
    }
    sum(h)
}

fn main() {}
