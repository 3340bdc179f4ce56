use gradc::network;

#[network]
fn net(w: [f32; 3]) -> f32 {
    sum(max(w))
}

fn main() {}
