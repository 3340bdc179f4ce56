use gradc::network;

#[network]
fn f(r#w: f32, w: f32) -> f32 {
    w * w
}

fn main() {}
