//! A network far larger than a thread's stack, made and stepped on the main
//! thread (`harness = false`: this file's `main` is the test, so it runs on
//! the 8 MiB main thread, not a test-harness thread). `Params`, `Grads`,
//! `Inputs`, `Features` and the workspace of 784-4096-4096-10 are about
//! 80 MB each: `zeros_boxed()` must make them on the heap without building
//! them on the stack first, in the dev profile too. Generated code implements
//! an `unsafe` marker trait, so this crate also checks that a user crate that
//! forbids unsafe code still compiles.

#![forbid(unsafe_code)]

use gradc::network;

#[network]
fn big<const B: usize>(
    #[input] x: [[f32; 784]; B],
    #[input] y: [[f32; 10]; B],
    w1: [[f32; 4096]; 784],
    b1: [f32; 4096],
    w2: [[f32; 4096]; 4096],
    b2: [f32; 4096],
    w3: [[f32; 10]; 4096],
    b3: [f32; 10],
) -> f32 {
    let h1 = relu(x.matmul(w1) + b1);
    let h2 = relu(h1.matmul(w2) + b2);
    #[output]
    let logits = h2.matmul(w3) + b3;
    cross_entropy(logits, y)
}

const B: usize = 2;

/// A cheap deterministic fill in [-scale, scale) (a full-size random
/// initialisation is slow in a debug build).
fn fill(xs: &mut [f32], seed: u32, scale: f32) {
    let mut s = seed.wrapping_mul(2_654_435_761) | 1;
    for x in xs {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        *x = ((s >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0) * scale;
    }
}

fn main() {
    assert_eq!(std::thread::current().name(), Some("main"));
    let mut params = big::Params::zeros_boxed();
    let mut grads = big::Grads::zeros_boxed();
    let mut inputs = big::Inputs::<B>::zeros_boxed();
    let mut ws = big::Workspace::<B>::new();
    for r in 0..B {
        inputs.y[r][3 * r + 1] = 1.0;
    }
    fill(inputs.x.as_flattened_mut(), 1, 1.0);

    // All parameters zero: every logit is 0, so the loss is ln 10, the hidden
    // layers are 0 (no gradient reaches w1, b1, w2, b2 or w3), and
    // d_b3[j] = mean over rows of (1/10 - y[r][j]).
    let loss = big::forward_backward_with(&params, &inputs, &mut grads, &mut ws);
    assert!((f64::from(loss) - 10f64.ln()).abs() < 1e-6, "loss {loss}");
    for (j, &g) in grads.b3.iter().enumerate() {
        let want = (0..B).map(|r| 0.1 - f64::from(inputs.y[r][j])).sum::<f64>() / B as f64;
        assert!(
            (f64::from(g) - want).abs() < 1e-6,
            "d_b3[{j}] = {g}, want {want}"
        );
    }
    for (name, g) in grads.slices().into_iter().take(5) {
        assert!(g.iter().all(|&v| v == 0.0), "{name} is not zero");
    }

    // Non-zero parameters: the compiled step against the interpreter, and
    // `predict` against `interpreted_predict`, with features made on the heap.
    for (k, (_, t)) in params.slices_mut().into_iter().enumerate() {
        let scale = 1.0 / (t.len() as f32).sqrt().max(1.0);
        fill(t, 10 + k as u32, scale.max(0.05));
    }
    let loss = big::forward_backward(&params, &inputs, &mut grads);
    let mut igrads = big::Grads::zeros_boxed();
    let iloss = big::interpreted_forward_backward(&params, &inputs, &mut igrads);
    assert!(loss.is_finite() && (loss - iloss).abs() <= 1e-4 * iloss.abs().max(1.0));
    for ((name, a), (_, b)) in grads.slices().into_iter().zip(igrads.slices()) {
        let scale = b.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
        let diff = a
            .iter()
            .zip(b)
            .fold(0.0f32, |m, (u, v)| m.max((u - v).abs()));
        assert!(
            diff <= 1e-3 * scale,
            "{name}: compiled vs interpreted {diff:e} (scale {scale:e})"
        );
    }
    let mut features = big::Features::<B>::zeros_boxed();
    features.x = inputs.x;
    let out = big::predict(&params, &features);
    let iout = big::interpreted_predict(&params, &features);
    for (a, b) in out
        .logits
        .as_flattened()
        .iter()
        .zip(iout.logits.as_flattened())
    {
        assert!(
            (a - b).abs() <= 1e-4 * b.abs().max(1.0),
            "logits {a} vs {b}"
        );
    }
    println!("784-4096-4096-10 made on the heap and stepped on the main thread");
}
