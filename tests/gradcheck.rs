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

/// Fills parameters and inputs with seeded values, then checks that the compiled
/// fused pass, the interpreter and central differences agree on loss and gradients.
macro_rules! check {
    ($net:ident) => {
        check!($net, 0x5eed)
    };
    ($net:ident, $seed:expr) => {{
        let mut state: u64 = $seed;
        let mut params = $net::Params::zeros();
        let mut inputs = $net::Inputs::zeros();
        for (_, s) in params.slices_mut() {
            fill(s, &mut state);
        }
        for (_, s) in inputs.slices_mut() {
            fill(s, &mut state);
        }
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
