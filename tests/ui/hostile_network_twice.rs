use gradc::network;

#[network]
#[network]
fn f(w: f32) -> f32 {
    w * w
}

fn main() {}
