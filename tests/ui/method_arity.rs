use gradc::network;

#[network]
fn net(#[input] x: [[f32; 2]; 4], w: [f32; 2]) -> f32 {
    let h = x.matmul();
    sum(h.relu(w))
}

fn main() {}
