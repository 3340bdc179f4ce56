use gradc::network;

#[network]
fn f(w: f64) -> f64 {
    w + -1.8e308 * 10.0 - 2e308
}

fn main() {}
