use gradc::network;

#[network]
fn net(w: [f32; 3], lo: f32) -> f32 {
    let hi = lo + 1.0;
    sum(w.clamp(lo, hi))
}

fn main() {}
