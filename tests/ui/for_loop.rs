use gradc::network;

#[network]
fn net(w: [f32; 3]) -> f32 {
    let mut s = 0.0;
    for i in 0..3 {
        s = s + w[i];
    }
    s
}

fn main() {}
