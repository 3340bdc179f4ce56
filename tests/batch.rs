//! Batch-generic networks (`fn net<const B: usize>`): one definition, any batch
//! size chosen by the caller. Checked at several `B` against the interpreter,
//! central finite differences in f64, the same network written with a literal
//! batch, and row-by-row evaluation at `B = 1`.

use gradc::{network, Network, Tensors};

/// Deterministic values in [-1, 1) (a 64-bit LCG), so failures reproduce.
fn fill(s: &mut [f64], state: &mut u64) {
    for v in s {
        *state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *v = ((*state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0;
    }
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
}

/// A 6-8-4 ReLU classifier with softmax cross-entropy (divides by `B`).
#[network]
fn mlp<const B: usize>(
    #[input] x: [[f64; 6]; B],
    #[input] t: [[f64; 4]; B],
    w1: [[f64; 8]; 6],
    b1: [f64; 8],
    w2: [[f64; 4]; 8],
    b2: [f64; 4],
) -> f64 {
    let h = relu(x.matmul(w1) + b1);
    cross_entropy(h.matmul(w2) + b2, t)
}

/// The same network at a literal batch of 3.
#[network]
fn mlp3(
    #[input] x: [[f64; 6]; 3],
    #[input] t: [[f64; 4]; 3],
    w1: [[f64; 8]; 6],
    b1: [f64; 8],
    w2: [[f64; 4]; 8],
    b2: [f64; 4],
) -> f64 {
    let h = relu(x.matmul(w1) + b1);
    cross_entropy(h.matmul(w2) + b2, t)
}

/// Sigmoid regression with `mse` (divides by `2·B` elements), a sum over the
/// batch broadcast back (`mean` of a `[B]` vector), and a bias gradient.
#[network]
fn reg<const B: usize>(
    #[input] x: [[f64; 3]; B],
    #[input] y: [[f64; 2]; B],
    w: [[f64; 2]; 3],
    c: [f64; 2],
) -> f64 {
    let yhat = sigmoid(x.matmul(w) + c);
    let centred = yhat - mean(yhat);
    mse(centred, y) + 0.5 * mean(tanh(x).sum())
}

/// Logits out (a forward-only network: every argument an input), so `forward`
/// returns `[[f64; 4]; B]`.
#[network]
fn logits<const B: usize>(
    #[input] x: [[f64; 6]; B],
    #[input] w1: [[f64; 8]; 6],
    #[input] b1: [f64; 8],
    #[input] w2: [[f64; 4]; 8],
) -> [[f64; 4]; B] {
    relu(x.matmul(w1) + b1).matmul(w2)
}

/// A batch large enough for the run-time GEMM and for workspace buffers.
#[network]
fn wide<const B: usize>(
    #[input] x: [[f32; 48]; B],
    #[input] y: [[f32; 10]; B],
    w1: [[f32; 96]; 48],
    b1: [f32; 96],
    w2: [[f32; 10]; 96],
    b2: [f32; 10],
) -> f32 {
    let h = relu(x.matmul(w1) + b1);
    cross_entropy(h.matmul(w2) + b2, y)
}

/// Softmax cross-entropy with class-index targets: one label per row.
#[network]
fn clf<const B: usize>(
    #[input] x: [[f64; 6]; B],
    #[input] labels: [f64; B],
    w: [[f64; 4]; 6],
    b: [f64; 4],
) -> f64 {
    cross_entropy(tanh(x.matmul(w)) + b, labels)
}

/// Compiled vs interpreted vs central differences for one batch size (after
/// `setup` changed the seeded inputs, e.g. to class labels).
macro_rules! check_at {
    ($net:ident, $b:literal, $seed:expr) => {
        check_at!($net, $b, $seed, |_| {})
    };
    ($net:ident, $b:literal, $seed:expr, $setup:expr) => {{
        let mut state: u64 = $seed;
        let mut params = $net::Params::zeros();
        let mut inputs = $net::Inputs::<$b>::zeros();
        for (_, s) in params.slices_mut() {
            fill(s, &mut state);
        }
        for (_, s) in inputs.slices_mut() {
            fill(s, &mut state);
        }
        let setup: fn(&mut $net::Inputs<$b>) = $setup;
        setup(&mut inputs);
        let mut grads = $net::Grads::zeros();
        let loss = $net::forward_backward(&params, &inputs, &mut grads);
        let mut igrads = $net::Grads::zeros();
        let iloss = $net::interpreted_forward_backward(&params, &inputs, &mut igrads);
        let fwd = $net::forward(&params, &inputs);
        let what = concat!(stringify!($net), " at B = ", $b);
        assert!(loss.is_finite(), "{what}: loss {loss}");
        assert!(
            close(loss, fwd, 1e-12),
            "{what}: fused {loss} vs forward {fwd}"
        );
        assert!(
            close(loss, iloss, 1e-12),
            "{what}: fused {loss} vs interpreted {iloss}"
        );
        let h = 1e-6;
        for f in 0..params.slices().len() {
            let (name, n) = (params.slices()[f].0, params.slices()[f].1.len());
            for i in 0..n {
                let mut p = params.clone();
                p.slices_mut()[f].1[i] += h;
                let up = $net::forward(&p, &inputs);
                p.slices_mut()[f].1[i] -= 2.0 * h;
                let down = $net::forward(&p, &inputs);
                let fd = (up - down) / (2.0 * h);
                let (c, it) = (grads.slices()[f].1[i], igrads.slices()[f].1[i]);
                assert!(
                    close(c, fd, 1e-6),
                    "{what}: d{name}[{i}] compiled {c} vs finite difference {fd}"
                );
                assert!(
                    close(c, it, 1e-12),
                    "{what}: d{name}[{i}] compiled {c} vs interpreted {it}"
                );
            }
        }
        (params, inputs, loss, grads)
    }};
}

/// `fast_math` with a batch size: reassociation and `x·0 → 0` must leave the
/// `count B` divisors symbolic.
#[network(fast_math)]
fn fast<const B: usize>(
    #[input] x: [[f64; 3]; B],
    #[input] y: [f64; B],
    w: [f64; 3],
    c: f64,
) -> f64 {
    let z = x.matmul(w) + c;
    mse(tanh(z) * 0.5 + z * 0.0, y) + mean(x * 0.0) + mean(softplus(z).powi(2))
}

#[test]
fn one_definition_checks_at_every_batch_size() {
    check_at!(mlp, 1, 1);
    check_at!(mlp, 3, 2);
    check_at!(mlp, 32, 3);
    check_at!(mlp, 57, 4);
    check_at!(reg, 1, 5);
    check_at!(reg, 5, 6);
    check_at!(reg, 40, 7);
    check_at!(fast, 1, 8);
    check_at!(fast, 9, 9);
}

/// The class-index loss by hand: the mean over rows of logsumexp(z) − z[label]
/// (no second term for a label that is not a class index).
fn clf_by_hand<const B: usize>(p: &clf::Params, i: &clf::Inputs<B>) -> f64 {
    let mut total = 0.0;
    for r in 0..B {
        let z: Vec<f64> = (0..4)
            .map(|c| (0..6).map(|k| i.x[r][k] * p.w[k][c]).sum::<f64>().tanh() + p.b[c])
            .collect();
        let lse = z.iter().map(|v| v.exp()).sum::<f64>().ln();
        let l = i.labels[r];
        let ok = l.fract() == 0.0 && (0.0..4.0).contains(&l);
        total += lse - if ok { z[l as usize] } else { 0.0 };
    }
    total / B as f64
}

#[test]
fn class_index_targets_at_two_batch_sizes() {
    let (p, i, loss, _) = check_at!(clf, 1, 41, |i| i.labels = [2.0]);
    assert!(close(loss, clf_by_hand(&p, &i), 1e-12));
    let (p, i, loss, _) = check_at!(clf, 7, 42, |i| {
        i.labels = [3.0, 0.0, 1.0, 2.0, 2.0, 9.0, 0.5];
    });
    assert!(close(loss, clf_by_hand(&p, &i), 1e-12));
    // Row by row at B = 1 gives the same mean.
    let mut g = clf::Grads::zeros();
    let rows: f64 = (0..7)
        .map(|r| {
            let one = clf::Inputs::<1> {
                x: [i.x[r]],
                labels: [i.labels[r]],
            };
            clf::forward_backward(&p, &one, &mut g)
        })
        .sum();
    assert!(close(loss, rows / 7.0, 1e-12), "{loss} vs {}", rows / 7.0);
    assert!(clf::graph().to_string().contains("[B 4] (one_hot 4 %1)"));
}

#[test]
fn generic_equals_literal_batch() {
    let (params, inputs, loss, grads) = check_at!(mlp, 3, 11);
    let p3 = mlp3::Params {
        w1: params.w1,
        b1: params.b1,
        w2: params.w2,
        b2: params.b2,
    };
    let i3 = mlp3::Inputs {
        x: inputs.x,
        t: inputs.t,
    };
    let mut g3 = mlp3::Grads::zeros();
    let l3 = mlp3::forward_backward(&p3, &i3, &mut g3);
    assert!(close(loss, l3, 1e-14), "{loss} vs {l3}");
    for ((n, a), (_, b)) in grads.slices().iter().zip(g3.slices().iter()) {
        for (x, y) in a.iter().zip(b.iter()) {
            assert!(close(*x, *y, 1e-13), "d{n}: {x} vs {y}");
        }
    }
}

#[test]
fn forward_at_b_is_rows_at_one() {
    let mut state = 21u64;
    let params = logits::Params {};
    let mut inputs = logits::Inputs::<5>::zeros();
    for (_, s) in inputs.slices_mut() {
        fill(s, &mut state);
    }
    let all: [[f64; 4]; 5] = logits::forward(&params, &inputs);
    for (r, want) in all.iter().enumerate() {
        let one = logits::Inputs::<1> {
            x: [inputs.x[r]],
            ..logits::Inputs::<1>::zeros()
        };
        let one = logits::Inputs::<1> {
            w1: inputs.w1,
            b1: inputs.b1,
            w2: inputs.w2,
            ..one
        };
        let row = logits::forward(&params, &one);
        assert_eq!(row[0], *want, "row {r}");
    }
    // The original function is generic too and runs the compiled forward pass.
    assert_eq!(logits(inputs.x, inputs.w1, inputs.b1, inputs.w2), all);
}

#[test]
fn large_batch_uses_workspace_and_matches_interpreter() {
    fn run<const B: usize>(seed: u64) {
        let mut state = seed;
        let mut params = wide::Params::zeros();
        let mut inputs = wide::Inputs::<B>::zeros_boxed();
        let mut buf = vec![0.0f64; 96 * 48];
        for (_, s) in params.slices_mut() {
            fill(&mut buf[..s.len()], &mut state);
            for (d, v) in s.iter_mut().zip(&buf) {
                *d = (*v * 0.2) as f32;
            }
        }
        for (_, s) in inputs.slices_mut() {
            let mut b = vec![0.0f64; s.len()];
            fill(&mut b, &mut state);
            for (d, v) in s.iter_mut().zip(&b) {
                *d = *v as f32;
            }
        }
        let mut ws = wide::Workspace::<B>::new();
        let mut g = wide::Grads::zeros();
        let loss = wide::forward_backward_with(&params, &inputs, &mut g, &mut ws);
        let mut g2 = wide::Grads::zeros();
        let loss2 = wide::forward_backward(&params, &inputs, &mut g2);
        assert_eq!(loss.to_bits(), loss2.to_bits(), "B = {B}");
        // `forward` too (its large buffers on the heap at B = 200).
        let f = wide::forward(&params, &inputs);
        assert!(
            (f - loss).abs() <= 1e-5 * (1.0 + loss.abs()),
            "B = {B}: forward {f} vs {loss}"
        );
        assert_eq!(g, g2);
        let mut gi = wide::Grads::zeros();
        let li = wide::interpreted_forward_backward(&params, &inputs, &mut gi);
        assert!(
            close(loss as f64, li as f64, 1e-5),
            "B = {B}: {loss} vs {li}"
        );
        for ((n, a), (_, b)) in g.slices().iter().zip(gi.slices().iter()) {
            let scale = b.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            for (x, y) in a.iter().zip(b.iter()) {
                assert!(
                    (x - y).abs() <= 1e-4 * (1.0 + scale),
                    "B = {B}: d{n} {x} vs {y}"
                );
            }
        }
    }
    run::<1>(31);
    run::<64>(32);
    run::<200>(33);
    // Alternating batch sizes on one thread keeps one workspace per size.
    run::<64>(34);
}

#[test]
fn graph_is_symbolic_and_instantiates() {
    let g = mlp::graph();
    let text = g.to_string();
    assert!(text.contains("x [B 6] (input 0)"), "{text}");
    assert!(text.contains("(count B)"), "{text}");
    assert!(g.is_batch_generic());
    let g7 = <mlp::Net<7> as Network>::graph();
    assert!(!g7.is_batch_generic());
    assert!(g7.to_string().contains("x [7 6] (input 0)"));
    assert_eq!(
        <mlp::Inputs<7> as Tensors>::SHAPES,
        &[("x", &[7usize, 6][..]), ("t", &[7, 4][..])]
    );
    assert!(mlp::GRADIENT_CODE.contains("pub fn forward_backward<const B: usize>("));
    let g = reg::graph().to_string();
    assert!(g.contains("(count 2B)"), "{g}");
}

#[test]
fn trained_params_serve_any_batch() {
    use gradc::train::{Adam, Optimizer};
    // Learn a fixed linear labelling at B = 16, evaluate at B = 1 and B = 50.
    let mut state = 99u64;
    let mut params = mlp::Params::zeros();
    for (_, s) in params.slices_mut() {
        fill(s, &mut state);
        for v in s.iter_mut() {
            *v *= 0.5;
        }
    }
    let sample = |state: &mut u64| {
        let mut x = [0.0; 6];
        fill(&mut x, state);
        let class = if x[0] + x[1] > 0.0 {
            0
        } else if x[2] > 0.0 {
            1
        } else {
            2
        };
        let mut t = [0.0; 4];
        t[class] = 1.0;
        (x, t)
    };
    let mut opt = Adam::new(0.02);
    let mut grads = mlp::Grads::zeros();
    for _ in 0..400 {
        let mut inputs = mlp::Inputs::<16>::zeros();
        for r in 0..16 {
            (inputs.x[r], inputs.t[r]) = sample(&mut state);
        }
        <mlp::Net<16> as Network>::forward_backward(&params, &inputs, &mut grads);
        opt.step(&mut params, &grads).unwrap();
    }
    let mut test = mlp::Inputs::<50>::zeros();
    for r in 0..50 {
        (test.x[r], test.t[r]) = sample(&mut state);
    }
    let mut g = mlp::Grads::zeros();
    let loss50 = mlp::forward_backward(&params, &test, &mut g);
    let mut mean1 = 0.0;
    for r in 0..50 {
        let one = mlp::Inputs::<1> {
            x: [test.x[r]],
            t: [test.t[r]],
        };
        mean1 += mlp::forward_backward(&params, &one, &mut g) / 50.0;
    }
    assert!(close(loss50, mean1, 1e-12), "{loss50} vs {mean1}");
    assert!(loss50 < 0.35, "trained loss {loss50}");
}
