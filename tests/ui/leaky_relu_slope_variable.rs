use gradc::network;

#[network]
fn net(w: [f32; 3], s: f32) -> f32 {
    sum(leaky_relu(w, s))
}

fn main() {}
