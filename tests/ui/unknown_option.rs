use gradc::network;

#[network(fast)]
fn net(w: f32) -> f32 {
    w * w
}

fn main() {}
