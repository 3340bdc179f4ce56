use gradc::network;

#[network(fast_math())]
fn f(w: f32) -> f32 {
    w * w
}

fn main() {}
