use gradc::network;

#[network]
fn net(#[input] x: [f32; 3], w: [f32; 3], bias: f32) -> f32 {
    let unused = bias * 2.0;
    sum(x * w)
}

fn main() {}
