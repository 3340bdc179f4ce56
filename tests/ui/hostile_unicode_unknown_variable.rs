use gradc::network;

#[network]
fn f(ω: f32) -> f32 {
    ω * ŵ
}

fn main() {}
