use gradc::network;

#[network]
fn f(#[input] x: [f64; 18446744073709551615], w: f64) -> f64 {
    sum(x) * w
}

fn main() {}
