use gradc::network;

#[network]
fn net<const B: usize>(#[input] x: [[f32; B]; B], w: f32) -> f32 {
    sum(x) * w
}

fn main() {}
