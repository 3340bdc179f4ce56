use gradc::network;

#[network]
fn net(w: f32, w: f32) -> f32 {
    w * w
}

fn main() {}
