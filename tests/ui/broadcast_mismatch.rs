use gradc::network;

#[network]
fn net(#[input] x: [[f32; 2]; 4], c: [f32; 4]) -> f32 {
    sum(x + c)
}

fn main() {}
