use gradc::network;

#[network]
fn f(#[input] x: [[[f32; 4194304]; 4194304]; 4194304], w: f32) -> f32 {
    sum(x) * w
}

fn main() {}
