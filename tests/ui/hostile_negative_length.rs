use gradc::network;

#[network]
fn f(#[input] x: [f32; -1], w: f32) -> f32 {
    sum(x) * w
}

fn main() {}
