use gradc::network;

#[network]
fn f(w: [f32; 4]) -> f32 {
    let h: [[f32; 4]; 4611686018427387904] = w;
    sum(h)
}

fn main() {}
