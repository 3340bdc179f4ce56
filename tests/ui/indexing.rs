use gradc::network;

#[network]
fn net(w: [f32; 3]) -> f32 {
    w[0] * w[1]
}

fn main() {}
