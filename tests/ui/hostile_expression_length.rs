use gradc::network;

#[network]
fn f(#[input] x: [f32; 2 + 2], w: f32) -> f32 {
    sum(x) * w
}

fn main() {}
