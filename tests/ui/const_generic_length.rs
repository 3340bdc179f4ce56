use gradc::network;

// The batch size must be called `B`: any other name is neither a generic
// parameter nor an array length the macro accepts.
#[network]
fn net<const N: usize>(#[input] x: [f32; N], w: f32) -> f32 {
    sum(x * w)
}

fn main() {}
