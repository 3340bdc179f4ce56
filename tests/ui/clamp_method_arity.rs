use gradc::network;

#[network]
fn net(w: [f32; 3]) -> f32 {
    sum(w.clamp(0.0))
}

fn main() {}
