use gradc::network;

// `_bias` may stay unused on purpose; the real error here is the loss shape.
#[network]
fn net(#[input] x: [f32; 3], w: [f32; 3], _bias: f32) -> f32 {
    x * w
}

fn main() {}
