use gradc::network;

#[network]
fn net(w: [f32; 3]) -> f32 {
    sum(leaky_relu(w))
}

fn main() {}
