use gradc::network;

#[network]
fn net(w: f32) -> f32 {
    mean_axis(w, 0)
}

fn main() {}
