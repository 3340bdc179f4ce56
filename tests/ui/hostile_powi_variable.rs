use gradc::network;

#[network]
fn f(w: f32) -> f32 {
    let n = 2.0;
    powi(w, n)
}

fn main() {}
