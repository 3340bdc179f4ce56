use gradc::network;

#[network(1)]
fn f(w: f32) -> f32 {
    w * w
}

fn main() {}
