use gradc::network;

#[network]
fn net(w: [[f32; 3]; 2], a: f32) -> f32 {
    sum(w.max_axis(a))
}

fn main() {}
