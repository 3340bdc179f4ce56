use gradc::network;

#[network]
fn net(x: [f32; 3], w: f32) -> f32 {
    #[input]
    let data = x;
    sum(data * w)
}

fn main() {}
