use gradc::network;

struct S;

impl S {
    #[network]
    fn f(w: f32) -> f32 {
        w * w
    }
}

fn main() {}
