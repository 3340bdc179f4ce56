use gradc::network;

#[network]
fn f(#[input] x: [[f32; 1]; 4294967296], #[input] y: [f32; 4294967296], w: f32) -> f32 {
    sum(x * y) * w
}

fn main() {}
