//! Trains the lecture's XOR network (slide 14: two ReLU hidden units, a linear
//! output, mean squared error) with plain gradient descent on the compiled
//! `forward_backward`, from a seeded random start.
//!
//! Run: `cargo run --release --example xor`

use gradc::network;

#[network]
fn xor(
    #[input] x: [[f32; 2]; 4],
    #[input] y: [f32; 4],
    w1: [[f32; 2]; 2],
    c: [f32; 2],
    w2: [f32; 2],
    b: f32,
) -> f32 {
    let h = relu(x.matmul(w1) + c);
    let yhat = h.matmul(w2) + b;
    mse(yhat, y)
}

/// The same model's predictions: every argument is data, so only `forward` exists.
#[network]
fn predict(
    #[input] x: [[f32; 2]; 4],
    #[input] w1: [[f32; 2]; 2],
    #[input] c: [f32; 2],
    #[input] w2: [f32; 2],
    #[input] b: f32,
) -> [f32; 4] {
    let h = relu(x.matmul(w1) + c);
    h.matmul(w2) + b
}

/// A small seeded generator (SplitMix64), uniform in [-1, 1).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f32 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        ((z >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
}

fn main() {
    let seed = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(7);
    let mut rng = Rng(seed);
    let mut params = xor::Params::zeros();
    // Small random weights; biases start at zero (slide 18).
    for (name, values) in params.slices_mut() {
        if name.starts_with('w') {
            values.iter_mut().for_each(|v| *v = rng.next());
        }
    }
    let inputs = xor::Inputs {
        x: [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]],
        y: [0.0, 1.0, 1.0, 0.0],
    };
    let learning_rate = 0.1;
    let mut grads = xor::Grads::zeros();
    println!("training the slide-14 XOR network (seed {seed}, learning rate {learning_rate})");
    for step in 0..=3000 {
        let loss = xor::forward_backward(&params, &inputs, &mut grads);
        if step % 500 == 0 {
            println!("step {step:>5}  loss {loss:.6}");
        }
        for ((_, p), (_, g)) in params.slices_mut().into_iter().zip(grads.slices()) {
            for (p, g) in p.iter_mut().zip(g) {
                *p -= learning_rate * g;
            }
        }
    }
    let xor::Params { w1, c, w2, b } = params;
    let out = predict(inputs.x, w1, c, w2, b);
    println!("\n  x1 x2 | target | prediction");
    for (i, x) in inputs.x.iter().enumerate() {
        println!(
            "  {:>2} {:>2} | {:>6} | {:>10.4} -> {}",
            x[0],
            x[1],
            inputs.y[i],
            out[i],
            out[i].round()
        );
    }
    println!("\nlearned: w1 = {w1:?}, c = {c:?}, w2 = {w2:?}, b = {b:.4}");
}
