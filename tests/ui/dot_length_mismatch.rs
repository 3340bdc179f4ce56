use gradc::network;

#[network]
fn net(#[input] x: [f32; 3], w: [f32; 4]) -> f32 {
    dot(x, w)
}

fn main() {}
