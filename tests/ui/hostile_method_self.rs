use gradc::network;

struct S;

impl S {
    #[network]
    fn f(&self, w: f32) -> f32 {
        w * w
    }
}

fn main() {}
