use gradc::network;

#[network]
fn net(#[input] x: [[f32; 4]; 2], ws: [[[f32; 4]; 4]; 3]) -> f32 {
    for k in 0..3 {
        h = tanh(x.matmul(ws[k]));
    }
    sum(x)
}

fn main() {}
