use gradc::network;

#[network]
fn net(w: f32) -> f32 {
    while w > 1.0 {}
    w * w
}

fn main() {}
