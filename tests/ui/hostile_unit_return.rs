use gradc::network;

#[network]
fn f(w: f32) -> () {
    w;
}

fn main() {}
