//! Every op's gradient, compiled and interpreted, against central finite differences
//! of the compiled forward pass in f64.

use gradc::network;

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

/// Fills parameters and inputs with seeded values (then lets `setup` change the
/// inputs, e.g. to class labels), and checks that the compiled fused pass, the
/// interpreter and central differences agree on loss and gradients.
macro_rules! check {
    ($net:ident) => {
        check!($net, 0x5eed)
    };
    ($net:ident, $seed:expr) => {
        check!($net, $seed, |_| {})
    };
    ($net:ident, $seed:expr, $setup:expr) => {{
        let mut state: u64 = $seed;
        let mut params = $net::Params::zeros();
        let mut inputs = $net::Inputs::zeros();
        for (_, s) in params.slices_mut() {
            fill(s, &mut state);
        }
        for (_, s) in inputs.slices_mut() {
            fill(s, &mut state);
        }
        let setup: fn(&mut $net::Inputs) = $setup;
        setup(&mut inputs);
        let mut grads = $net::Grads::zeros();
        let loss = $net::forward_backward(&params, &inputs, &mut grads);
        let mut igrads = $net::Grads::zeros();
        let iloss = $net::interpreted_forward_backward(&params, &inputs, &mut igrads);
        let fwd = $net::forward(&params, &inputs);
        assert!(loss.is_finite(), "{}: loss {loss}", stringify!($net));
        assert!(
            close(loss, fwd, 1e-12),
            "{}: fused loss {loss} vs forward {fwd}",
            stringify!($net)
        );
        assert!(
            close(loss, iloss, 1e-12),
            "{}: fused loss {loss} vs interpreted {iloss}",
            stringify!($net)
        );
        let h = 1e-6;
        let n_fields = params.slices().len();
        for f in 0..n_fields {
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
                    "{}: d{name}[{i}] compiled {c} vs finite difference {fd}",
                    stringify!($net)
                );
                assert!(
                    close(c, it, 1e-12),
                    "{}: d{name}[{i}] compiled {c} vs interpreted {it}",
                    stringify!($net)
                );
            }
        }
        (params, inputs, loss, grads)
    }};
}

#[network]
fn add_sub_broadcast(
    #[input] w: [[f64; 2]; 3],
    a: [[f64; 2]; 3],
    b: [f64; 2],
    c: [[f64; 1]; 3],
    s: f64,
) -> f64 {
    sum((a + b) * (a - c) * w - s + b * s)
}

#[network]
fn mul_div(#[input] w: [f64; 4], a: [f64; 4], b: [f64; 4]) -> f64 {
    sum(a * b / (b * b + 1.5) * w) + sum(w / (a * a + 2.0))
}

#[network]
fn neg_exp_ln(#[input] w: [f64; 3], a: [f64; 3]) -> f64 {
    sum(-(a.exp()) * w) + sum(ln(a * a + 0.5) * w)
}

#[network]
fn activations(#[input] w: [f64; 5], a: [f64; 5]) -> f64 {
    sum((sigmoid(a) + tanh(a * 2.0) + softplus(a * 3.0) + relu(a + 0.05)) * w)
}

#[network]
fn sqrt_powi(#[input] w: [f64; 3], a: [f64; 3]) -> f64 {
    let p = a * a + 1.0;
    sum(sqrt(p) * w)
        + sum(a.powi(3) * w)
        + sum(p.powi(-1))
        + sum(a.powi(0) * a.powi(1))
        + sum(a.powi(2))
}

#[network]
fn elementwise_max(#[input] w: [f64; 4], a: [f64; 4], b: [f64; 4]) -> f64 {
    sum(max(a, b) * w) + sum(a.max(0.1) * w)
}

#[network]
fn matmuls(
    #[input] x: [[f64; 3]; 2],
    a: [[f64; 4]; 3],
    v: [f64; 4],
    u: [f64; 2],
    p: [f64; 3],
) -> f64 {
    let m = x.matmul(a);
    let r = m.matmul(v);
    let s = u.matmul(m);
    let t = p.dot(p) + dot(u, r);
    sum(s * v) + t + sum(x.t().matmul(m) * a) + sum(m.transpose().matmul(u) * v)
}

#[network]
fn reductions(#[input] w: [[f64; 3]; 2], a: [[f64; 3]; 2]) -> f64 {
    sum(a * w) + mean(a * a) + a.mean()
}

#[network]
fn softmaxes(#[input] w: [[f64; 4]; 3], z: [[f64; 4]; 3], v: [f64; 4]) -> f64 {
    sum(softmax(z) * w) + sum(log_softmax(z * 2.0) * w) + sum(v.softmax() * v)
}

#[network]
fn losses(#[input] t: [[f64; 3]; 4], #[input] y: [f64; 4], z: [[f64; 3]; 4], q: [f64; 4]) -> f64 {
    cross_entropy(z, t) + binary_cross_entropy_with_logits(q, y) + mse(q, y)
}

#[network]
fn mlp(
    #[input] x: [[f64; 3]; 5],
    #[input] t: [[f64; 2]; 5],
    w1: [[f64; 4]; 3],
    b1: [f64; 4],
    w2: [[f64; 2]; 4],
    b2: [f64; 2],
) -> f64 {
    let h = tanh(x.matmul(w1) + b1);
    let h = relu(h + 0.3);
    let z = h.matmul(w2) + b2;
    cross_entropy(z, t)
}

#[test]
fn elementwise_and_broadcasting() {
    check!(add_sub_broadcast);
    check!(mul_div);
    check!(neg_exp_ln);
}

#[test]
fn activations_and_powers() {
    check!(activations);
    check!(sqrt_powi);
    check!(elementwise_max);
}

#[test]
fn matmul_dot_transpose() {
    check!(matmuls);
    check!(matmuls, 7);
}

#[test]
fn reductions_softmax_losses() {
    check!(reductions);
    check!(softmaxes);
    check!(losses);
    check!(mlp);
    check!(mlp, 99);
}

/// Cross-entropy with class-index targets: one label per row of the logits.
#[network]
fn ce_labels(
    #[input] x: [[f64; 3]; 5],
    #[input] labels: [f64; 5],
    w: [[f64; 4]; 3],
    b: [f64; 4],
) -> f64 {
    cross_entropy(tanh(x.matmul(w)) + b, labels)
}

/// The same network with one-hot (or all-zero) targets.
#[network]
fn ce_onehot(
    #[input] x: [[f64; 3]; 5],
    #[input] t: [[f64; 4]; 5],
    w: [[f64; 4]; 3],
    b: [f64; 4],
) -> f64 {
    cross_entropy(tanh(x.matmul(w)) + b, t)
}

/// 1-D logits take one scalar label.
#[network]
fn ce_label_1d(#[input] x: [f64; 3], #[input] label: f64, w: [[f64; 4]; 3]) -> f64 {
    x.matmul(w).cross_entropy(label)
}

/// A label passed as a parameter is data to the loss: its gradient is zero,
/// as for the mask of `gt` (finite differences agree: a step of ±h moves the
/// label off its class on both sides).
#[network]
fn ce_param_label(#[input] z: [f64; 3], label: f64, v: [f64; 3]) -> f64 {
    cross_entropy(z * v, label)
}

/// The one-hot rows of `labels` built by hand: a row of zeros for a label that
/// is not an integer in `0..4`.
fn one_hot_by_hand(labels: &[f64; 5]) -> [[f64; 4]; 5] {
    let mut t = [[0.0; 4]; 5];
    for (row, &l) in t.iter_mut().zip(labels) {
        if l.fract() == 0.0 && (0.0..4.0).contains(&l) {
            row[l as usize] = 1.0;
        }
    }
    t
}

/// ce_labels's loss by hand in f64: the mean over rows of logsumexp(z) − z[label],
/// without the second term for a label that is not a class index.
fn ce_by_hand(p: &ce_labels::Params, i: &ce_labels::Inputs) -> f64 {
    let mut total = 0.0;
    for r in 0..5 {
        let z: Vec<f64> = (0..4)
            .map(|c| (0..3).map(|k| i.x[r][k] * p.w[k][c]).sum::<f64>().tanh() + p.b[c])
            .collect();
        let m = z.iter().fold(f64::NEG_INFINITY, |a, &v| a.max(v));
        let lse = m + z.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
        let l = i.labels[r];
        let picked = if l.fract() == 0.0 && (0.0..4.0).contains(&l) {
            z[l as usize]
        } else {
            0.0
        };
        total += lse - picked;
    }
    total / 5.0
}

/// Class-index and one-hot runs of the same data agree to 1e-12, compiled and
/// interpreted, and the loss matches the hand formula.
fn labels_match_one_hot(params: &ce_labels::Params, inputs: &ce_labels::Inputs) {
    let hand = ce_by_hand(params, inputs);
    let p1 = ce_onehot::Params {
        w: params.w,
        b: params.b,
    };
    let i1 = ce_onehot::Inputs {
        x: inputs.x,
        t: one_hot_by_hand(&inputs.labels),
    };
    for interpreted in [false, true] {
        let (mut g, mut g1) = (ce_labels::Grads::zeros(), ce_onehot::Grads::zeros());
        let (l, l1) = if interpreted {
            (
                ce_labels::interpreted_forward_backward(params, inputs, &mut g),
                ce_onehot::interpreted_forward_backward(&p1, &i1, &mut g1),
            )
        } else {
            (
                ce_labels::forward_backward(params, inputs, &mut g),
                ce_onehot::forward_backward(&p1, &i1, &mut g1),
            )
        };
        let what = format!("labels {:?}, interpreted: {interpreted}", inputs.labels);
        assert!(l.is_finite(), "{what}: loss {l}");
        assert!(close(l, hand, 1e-12), "{what}: loss {l} vs hand {hand}");
        assert!(close(l, l1, 1e-12), "{what}: loss {l} vs one-hot {l1}");
        for ((n, a), (_, b)) in g.slices().iter().zip(g1.slices().iter()) {
            for (x, y) in a.iter().zip(b.iter()) {
                assert!(x.is_finite(), "{what}: d{n} {x}");
                assert!(close(*x, *y, 1e-12), "{what}: d{n} {x} vs one-hot {y}");
            }
        }
    }
}

#[test]
fn cross_entropy_with_class_indices() {
    let (params, inputs, _, _) =
        check!(ce_labels, 0x5eed, |i| i.labels = [1.0, 3.0, 0.0, 2.0, 3.0]);
    labels_match_one_hot(&params, &inputs);
    let (params, inputs, _, _) = check!(ce_labels, 17, |i| i.labels = [0.0, 0.0, 2.0, 1.0, 1.0]);
    labels_match_one_hot(&params, &inputs);
    check!(ce_label_1d, 0x5eed, |i| i.label = 2.0);
    check!(ce_label_1d, 3, |i| i.label = 0.0);
    // At a random (fractional) label and at a class index.
    let (mut params, inputs, _, grads) = check!(ce_param_label, 5, |_| {});
    assert_eq!(grads.label, 0.0);
    params.label = 1.0;
    let (mut g, mut gi) = (
        ce_param_label::Grads::zeros(),
        ce_param_label::Grads::zeros(),
    );
    let l = ce_param_label::forward_backward(&params, &inputs, &mut g);
    let li = ce_param_label::interpreted_forward_backward(&params, &inputs, &mut gi);
    assert!(close(l, li, 1e-12), "{l} vs {li}");
    assert_eq!((g.label, gi.label), (0.0, 0.0));
    // d/dv of logsumexp(z·v) − z₁v₁: softmax(z·v)·z minus z at class 1.
    let zv: Vec<f64> = (0..3).map(|k| inputs.z[k] * params.v[k]).collect();
    let se: f64 = zv.iter().map(|v| v.exp()).sum();
    for (k, zvk) in zv.iter().enumerate() {
        let want = zvk.exp() / se * inputs.z[k] - if k == 1 { inputs.z[k] } else { 0.0 };
        assert!(close(g.v[k], want, 1e-12), "dv[{k}] {} vs {want}", g.v[k]);
        assert!(close(gi.v[k], want, 1e-12), "dv[{k}] {} vs {want}", gi.v[k]);
    }
}

#[test]
fn cross_entropy_labels_out_of_range_select_no_class() {
    // Fractional, negative, too large, NaN and infinite labels: the row
    // contributes logsumexp(z) alone; the loss stays finite, and so do the
    // gradients (central differences too: the labels are inputs).
    let (params, inputs, _, _) = check!(ce_labels, 23, |i| i.labels =
        [0.5, -1.0, 4.0, f64::NAN, 2.0]);
    labels_match_one_hot(&params, &inputs);
    let (params, inputs, _, _) = check!(ce_labels, 29, |i| {
        i.labels = [1e9, f64::INFINITY, f64::NEG_INFINITY, 3.0000001, -0.0]
    });
    labels_match_one_hot(&params, &inputs);
}

/// relu'(0) = 0, and a tie in `max` sends the gradient to the first argument.
#[network]
fn kinks(a: [f64; 2], b: [f64; 2]) -> f64 {
    sum(relu(a)) + sum(max(a, b)) * 2.0
}

#[test]
fn kinks_follow_the_documented_convention() {
    let p = kinks::Params {
        a: [0.0, 1.0],
        b: [0.0, 2.0],
    };
    for interpreted in [false, true] {
        let mut g = kinks::Grads::zeros();
        if interpreted {
            kinks::interpreted_forward_backward(&p, &kinks::Inputs {}, &mut g);
        } else {
            kinks::forward_backward(&p, &kinks::Inputs {}, &mut g);
        }
        // relu'(0) = 0, relu'(1) = 1; max tie at [0] goes to a, max at [1] is b.
        assert_eq!(g.a, [0.0 + 2.0, 1.0], "interpreted: {interpreted}");
        assert_eq!(g.b, [0.0, 2.0], "interpreted: {interpreted}");
    }
}
