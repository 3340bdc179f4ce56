use gradc::network;

#[network]
fn net<const B: usize>(#[input] x: [f32; B], w: [f32; B]) -> f32 {
    sum(x * w)
}

fn main() {}
