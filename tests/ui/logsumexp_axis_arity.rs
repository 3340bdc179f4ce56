use gradc::network;

#[network]
fn net(w: [[f32; 3]; 2]) -> f32 {
    sum(logsumexp_axis(w))
}

fn main() {}
