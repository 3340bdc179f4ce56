//! Gradient checks any `f64` network can run through the `gradc::Network`
//! trait: the compiled fused pass against the tape interpreter, and both
//! against central finite differences of the loss.

use gradc::{Network, Tensors};

/// Deterministic values in [-1, 1) from a 64-bit LCG, so failures reproduce.
pub fn fill(s: &mut [f64], state: &mut u64) {
    for v in s {
        *state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *v = ((*state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0;
    }
}

/// Every tensor of a fresh value filled by [`fill`] from `seed`.
pub fn seeded<T: Tensors<Elem = f64>>(seed: u64) -> Box<T> {
    let mut t = T::zeros_boxed();
    let mut state = seed;
    for s in t.tensors_mut() {
        fill(s, &mut state);
    }
    t
}

/// `|a − b| ≤ tol · (1 + max(|a|, |b|))`.
pub fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
}

/// Checks loss and every gradient: compiled against interpreted to 1e-12, and
/// compiled against central differences (step 1e-6) to `fd_tol`. Returns the
/// compiled loss and gradients. Panics with the first disagreement.
pub fn check_gradients<N: Network<Elem = f64>>(
    params: &N::Params,
    inputs: &N::Inputs,
    fd_tol: f64,
) -> (f64, Box<N::Grads>) {
    let mut grads = N::Grads::zeros_boxed();
    let loss = N::forward_backward(params, inputs, &mut grads);
    let mut igrads = N::Grads::zeros_boxed();
    let iloss = N::interpreted_forward_backward(params, inputs, &mut igrads);
    let name = N::NAME;
    assert!(loss.is_finite(), "{name}: loss {loss}");
    assert!(
        close(loss, iloss, 1e-12),
        "{name}: compiled loss {loss} vs interpreted {iloss}"
    );
    let loss_at = |p: &N::Params| {
        let mut scratch = N::Grads::zeros_boxed();
        N::forward_backward(p, inputs, &mut scratch)
    };
    let h = 1e-6;
    let mut p = params.clone();
    let fields = <N::Params as Tensors>::SHAPES;
    for (f, (field, _)) in fields.iter().enumerate() {
        let n = params.tensors()[f].len();
        for i in 0..n {
            let x = params.tensors()[f][i];
            p.tensors_mut()[f][i] = x + h;
            let up = loss_at(&p);
            p.tensors_mut()[f][i] = x - h;
            let down = loss_at(&p);
            p.tensors_mut()[f][i] = x;
            let fd = (up - down) / (2.0 * h);
            let (c, it) = (grads.tensors()[f][i], igrads.tensors()[f][i]);
            assert!(
                close(c, fd, fd_tol),
                "{name}: d{field}[{i}] compiled {c} vs finite difference {fd}"
            );
            assert!(
                close(c, it, 1e-12),
                "{name}: d{field}[{i}] compiled {c} vs interpreted {it}"
            );
        }
    }
    (loss, grads)
}
