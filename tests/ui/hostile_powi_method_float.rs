use gradc::network;

#[network]
fn f(w: f32) -> f32 {
    w.powi(2.0)
}

fn main() {}
