use gradc::network;

#[network]
fn f(#[input] x: [f32; 0], w: f32) -> f32 {
    w * w
}

fn main() {}
