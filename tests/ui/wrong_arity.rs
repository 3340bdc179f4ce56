use gradc::network;

#[network]
fn net(w: [f32; 3]) -> f32 {
    sum(relu(w, w))
}

fn main() {}
