use gradc::network;

#[network]
fn net(a: [[f32; 3]; 2], b: [[f32; 3]; 4]) -> f32 {
    sum(concat(a, b))
}

fn main() {}
