use gradc::network;

#[network]
fn net(#[input] x: [[f32; 3]; 2], w: [[f32; 2]; 3]) -> f32 {
    let y = x / w;
    sum(y)
}

fn main() {}
