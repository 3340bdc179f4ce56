use gradc::network;

#[network]
fn net(w: f32) -> f32 {
    w * "two"
}

fn main() {}
