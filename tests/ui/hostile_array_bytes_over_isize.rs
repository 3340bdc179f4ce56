use gradc::network;

#[network]
fn f(#[input] x: [[f32; 1152921504606846976]; 2], w: f32) -> f32 {
    sum(x) * w
}

fn main() {}
