use gradc::network;

#[network]
fn net(#[input] x: [[f32; 4]; 2], w: [[f32; 3]; 4]) -> f32 {
    let mut h = x;
    h = h.matmul(w);
    sum(h)
}

fn main() {}
