use gradc::network;

#[network]
fn net(w: [f32; 3]) -> f32 {
    sum(clamp(w, 1.0, -1.0))
}

fn main() {}
