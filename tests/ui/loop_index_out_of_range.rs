use gradc::network;

#[network]
fn net(#[input] x: [[f32; 4]; 2], ws: [[[f32; 4]; 4]; 10]) -> f32 {
    let mut h = x;
    for k in 0..10 {
        h = tanh(h.matmul(ws[k]));
    }
    sum(h.matmul(ws[10]))
}

fn main() {}
