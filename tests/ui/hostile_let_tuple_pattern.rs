use gradc::network;

#[network]
fn f(w: f32) -> f32 {
    let (a, b) = (w, w);
    a * b
}

fn main() {}
