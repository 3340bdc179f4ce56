use gradc::network;

#[network]
fn net(#[input] x: [f32; 3], n: i32) -> f32 {
    sum(x)
}

fn main() {}
