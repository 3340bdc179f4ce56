use gradc::network;

#[network]
fn net(w: f32) -> f32 {
    powi(w, 4294967296)
}

fn main() {}
