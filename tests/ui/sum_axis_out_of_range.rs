use gradc::network;

#[network]
fn net(w: [[f32; 3]; 2]) -> f32 {
    sum(sum_axis(w, 2))
}

fn main() {}
