use gradc::network;

#[network]
fn net(w: [f32; 3]) -> f32 {
    println!("{:?}", w);
    sum(w)
}

fn main() {}
