use gradc::network;

#[network]
fn net<const B: usize>(#[input] x: [[f32; 64]; B], w: [[f32; 64]; 64]) -> f32 {
    let h = x.matmul(w);
    let gram = h.matmul(x.t());
    mean(gram)
}

fn main() {}
