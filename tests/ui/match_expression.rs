use gradc::network;

#[network]
fn net(w: [f32; 2]) -> f32 {
    match 1 {
        _ => sum(w),
    }
}

fn main() {}
