//! Stable forms at extremes, in f32 and f64, compiled and interpreted: logits
//! of ±1e4 in softmax cross-entropy, sigmoid, softplus and BCE-with-logits at
//! ±1e3, `ln` of tiny positives. Loss and gradients must be finite and equal
//! the exact limits (worked out by hand in each test).

use gradc::network;

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + b.abs())
}

/// Asserts both passes give `loss` and `grads` (flattened, in parameter order).
macro_rules! expect {
    ($net:ident, $params:expr, $inputs:expr, $loss:expr, $grads:expr, $tol:expr) => {{
        let (params, inputs) = ($params, $inputs);
        let want: &[f64] = &$grads;
        for (pass, (loss, grads)) in [
            ("compiled", {
                let mut g = $net::Grads::zeros();
                let l = $net::forward_backward(&params, &inputs, &mut g);
                (l, g)
            }),
            ("interpreted", {
                let mut g = $net::Grads::zeros();
                let l = $net::interpreted_forward_backward(&params, &inputs, &mut g);
                (l, g)
            }),
        ] {
            let loss = loss as f64;
            assert!(
                loss.is_finite() && close(loss, $loss, $tol),
                "{} {pass}: loss {loss}, exact {}",
                stringify!($net),
                $loss
            );
            let got: Vec<f64> = grads
                .slices()
                .iter()
                .flat_map(|(_, s)| s.iter().map(|v| *v as f64))
                .collect();
            assert_eq!(got.len(), want.len());
            for (i, (g, w)) in got.iter().zip(want).enumerate() {
                assert!(
                    g.is_finite() && close(*g, *w, $tol),
                    "{} {pass}: gradient [{i}] {g}, exact {w}",
                    stringify!($net)
                );
            }
        }
    }};
}

#[network]
fn ce64(#[input] t: [[f64; 3]; 2], z: [[f64; 3]; 2]) -> f64 {
    cross_entropy(z, t)
}

#[network]
fn ce32(#[input] t: [[f32; 3]; 2], z: [[f32; 3]; 2]) -> f32 {
    cross_entropy(z, t)
}

// Row 0: the target class has the largest logit 1e4, so its term is
// logsumexp − 1e4 = ln(1 + e^-1e4 + e^-2e4) = 0 and its softmax is one-hot.
// Row 1: logsumexp = 1e4 (the softmax is one-hot on class 1), the target
// logit is 5e3, so the term is 5e3. Mean over the batch: 2500.
// dz = (softmax(z) − t) / 2: row 0 zero, row 1 (0, 1, −1) / 2.
const CE_Z: [[f64; 3]; 2] = [[1e4, -1e4, 0.0], [-1e4, 1e4, 5e3]];
const CE_T: [[f64; 3]; 2] = [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]];
const CE_GRAD: [f64; 6] = [0.0, 0.0, 0.0, 0.0, 0.5, -0.5];

#[test]
fn cross_entropy_with_logits_of_1e4() {
    expect!(
        ce64,
        ce64::Params { z: CE_Z },
        ce64::Inputs { t: CE_T },
        2500.0,
        CE_GRAD,
        1e-12
    );
    let f = |a: [[f64; 3]; 2]| a.map(|r| r.map(|v| v as f32));
    expect!(
        ce32,
        ce32::Params { z: f(CE_Z) },
        ce32::Inputs { t: f(CE_T) },
        2500.0,
        CE_GRAD,
        1e-6
    );
}

#[network]
fn lsm64(#[input] t: [f64; 4], z: [f64; 4]) -> f64 {
    sum(log_softmax(z) * t) + sum(softmax(z) * t)
}

#[network]
fn lsm32(#[input] t: [f32; 4], z: [f32; 4]) -> f32 {
    sum(log_softmax(z) * t) + sum(softmax(z) * t)
}

// z = (1e4, −1e4, 1e4, 0): logsumexp = 1e4 + ln 2, softmax = (½, 0, ½, 0),
// log_softmax = (−ln 2, −2e4 − ln 2,
// −ln 2, −1e4 − ln 2). With t = (1, 0, 0, 1): loss = −2 ln 2 − 1e4 + ½.
// d/dz Σ t·log_softmax = t − softmax·Σt with Σt = 2: (0, 0, −1, 1).
// d/dz Σ t·softmax = s ⊙ (t − s·t) with s·t = ½: (¼, 0, −¼, 0).
const LSM_Z: [f64; 4] = [1e4, -1e4, 1e4, 0.0];
const LSM_T: [f64; 4] = [1.0, 0.0, 0.0, 1.0];
const LSM_GRAD: [f64; 4] = [0.25, 0.0, -1.25, 1.0];

#[test]
fn log_softmax_and_softmax_of_1e4() {
    let loss = -2.0 * std::f64::consts::LN_2 - 1e4 + 0.5;
    expect!(
        lsm64,
        lsm64::Params { z: LSM_Z },
        lsm64::Inputs { t: LSM_T },
        loss,
        LSM_GRAD,
        1e-12
    );
    expect!(
        lsm32,
        lsm32::Params {
            z: LSM_Z.map(|v| v as f32)
        },
        lsm32::Inputs {
            t: LSM_T.map(|v| v as f32)
        },
        loss,
        LSM_GRAD,
        // Logits of 1e4 in f32 are known to ±ulp(1e4)/2 ≈ 5e-4, and so are
        // log_softmax = z − logsumexp and the softmax derived from it.
        2e-3
    );
}

#[network]
fn sig64(x: [f64; 4]) -> f64 {
    sum(sigmoid(x)) + sum(softplus(x))
}

#[network]
fn sig32(x: [f32; 4]) -> f32 {
    sum(sigmoid(x)) + sum(softplus(x))
}

// x = (1e3, −1e3, 1e3, −1e3): sigmoid = (1, 0, 1, 0) (e^-1000 underflows),
// softplus = (1e3, 0, 1e3, 0); loss = 2 + 2000. d sigmoid = s(1 − s) = 0,
// d softplus = sigmoid(x): the gradient is (1, 0, 1, 0).
const SIG_X: [f64; 4] = [1e3, -1e3, 1e3, -1e3];
const SIG_GRAD: [f64; 4] = [1.0, 0.0, 1.0, 0.0];

#[test]
fn sigmoid_and_softplus_of_1e3() {
    expect!(
        sig64,
        sig64::Params { x: SIG_X },
        sig64::Inputs {},
        2002.0,
        SIG_GRAD,
        1e-12
    );
    expect!(
        sig32,
        sig32::Params {
            x: SIG_X.map(|v| v as f32)
        },
        sig32::Inputs {},
        2002.0,
        SIG_GRAD,
        1e-6
    );
}

#[network]
fn bce64(#[input] y: [f64; 4], z: [f64; 4]) -> f64 {
    binary_cross_entropy_with_logits(z, y)
}

#[network]
fn bce32(#[input] y: [f32; 4], z: [f32; 4]) -> f32 {
    binary_cross_entropy_with_logits(z, y)
}

// softplus(z) − y·z per element, z = (1e3, −1e3, 1e3, −1e3), y = (0, 1, 1, 0):
// (1e3, 1e3, 0, 0), mean 500. Gradient (sigmoid(z) − y) / 4 = (¼, −¼, 0, 0).
const BCE_Z: [f64; 4] = [1e3, -1e3, 1e3, -1e3];
const BCE_Y: [f64; 4] = [0.0, 1.0, 1.0, 0.0];
const BCE_GRAD: [f64; 4] = [0.25, -0.25, 0.0, 0.0];

#[test]
fn bce_with_logits_of_1e3() {
    expect!(
        bce64,
        bce64::Params { z: BCE_Z },
        bce64::Inputs { y: BCE_Y },
        500.0,
        BCE_GRAD,
        1e-12
    );
    expect!(
        bce32,
        bce32::Params {
            z: BCE_Z.map(|v| v as f32)
        },
        bce32::Inputs {
            y: BCE_Y.map(|v| v as f32)
        },
        500.0,
        BCE_GRAD,
        1e-6
    );
}

#[network]
fn ln64(x: [f64; 3]) -> f64 {
    sum(ln(x))
}

#[network]
fn ln32(x: [f32; 3]) -> f32 {
    sum(ln(x))
}

#[test]
fn ln_of_tiny_positives() {
    // The smallest normal numbers and nearby: ln is finite, the gradient 1/x
    // is large but finite.
    let x64 = [1e-300, f64::MIN_POSITIVE, 1e-200];
    let loss: f64 = x64.iter().map(|v| v.ln()).sum();
    expect!(
        ln64,
        ln64::Params { x: x64 },
        ln64::Inputs {},
        loss,
        x64.map(|v| 1.0 / v),
        1e-12
    );
    let x32 = [1e-30f32, f32::MIN_POSITIVE, 1e-20];
    let loss: f64 = x32.iter().map(|v| (*v as f64).ln()).sum();
    expect!(
        ln32,
        ln32::Params { x: x32 },
        ln32::Inputs {},
        loss,
        x32.map(|v| 1.0 / v as f64),
        1e-6
    );
}
