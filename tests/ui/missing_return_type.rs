use gradc::network;

#[network]
fn net(w: f32) {
    w * w
}

fn main() {}
