use gradc::network;

#[network]
fn net(w: f32) -> f32 {
    if w > 0.0 { w } else { -w }
}

fn main() {}
