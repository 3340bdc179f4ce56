use gradc::network;

#[network]
fn f<const B: usize>(#[input] x: [[f32; 35184372088832]; B], w: f32) -> f32 {
    sum(x) * w
}

fn main() {}
