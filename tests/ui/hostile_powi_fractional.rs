use gradc::network;

#[network]
fn f(w: f32) -> f32 {
    powi(w, 1.5)
}

fn main() {}
