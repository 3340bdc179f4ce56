use gradc::network;

#[network]
fn f(#[cfg(test)] v: f32, w: f32) -> f32 {
    w * w
}

fn main() {}
