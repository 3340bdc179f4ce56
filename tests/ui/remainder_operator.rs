use gradc::network;

#[network]
fn net(w: f32) -> f32 {
    w % 2.0
}

fn main() {}
