use gradc::network;

#[network]
fn net(w: f32) -> f32 {
    let f = |v: f32| v * 2.0;
    f(w)
}

fn main() {}
