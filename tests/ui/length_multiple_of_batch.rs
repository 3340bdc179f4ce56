use gradc::network;

#[network]
fn net(#[input] x: [f32; 1000003], w: f32) -> f32 {
    mean(x * w)
}

fn main() {}
