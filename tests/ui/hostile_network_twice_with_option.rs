use gradc::network;

#[network(fast_math)]
#[network]
fn f(w: f32) -> f32 {
    w * w
}

fn main() {}
