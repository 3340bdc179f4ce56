use gradc::network;

#[network]
fn net(#[input] x: [[f32; 4]; 2], ws: [[[f32; 4]; 4]; 3]) -> f32 {
    let mut h = x;
    for k in 0..3 {
        #[output]
        let p = tanh(h.matmul(ws[k]));
        h = p;
    }
    sum(h)
}

fn main() {}
