use gradc::network;

#[network]
fn net(#[input] x: [[f32; 4]; 2], ws: [[[f32; 4]; 4]; 3]) -> f32 {
    let h = x;
    for k in 0..3 {
        h = tanh(h.matmul(ws[k]));
    }
    sum(h)
}

fn main() {}
