use gradc::network;

#[network]
fn f(#[allow(unused)] w: f32) -> f32 {
    w * w
}

fn main() {}
