use gradc::network;

const N: usize = 4;

#[network]
fn f(#[input] x: [f32; N], w: f32) -> f32 {
    sum(x) * w
}

fn main() {}
