use gradc::network;

#[network]
fn f(w: f32) -> f32 {
    let x = w?;
    x * x
}

fn main() {}
