use gradc::network;

#[network]
fn net(w: f32, k: f32) -> f32 {
    w.powi(k)
}

fn main() {}
