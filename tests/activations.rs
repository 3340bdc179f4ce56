//! The elementwise ops of issue #13 (`abs`, `leaky_relu`, `elu`, `gelu`,
//! `gelu_tanh`, `silu`, `min`, `clamp`, `hardtanh`, `square`, `ln_1p`) in
//! `#[network]`s, f32 and f64, compiled and interpreted: gradients against
//! f64 central finite differences at ordinary points, and against the
//! documented one-sided choice at the kinks (0, clamp's bounds) and at ±1e3,
//! where values and gradients must also stay finite.

/// Where each op is evaluated: extremes, ordinary points, a kink at 0, and
/// clamp's bounds (−0.7, 1.9).
const POINTS: [f64; 7] = [-1e3, -2.3, -0.7, 0.0, 0.4, 1.9, 1e3];
/// The loss is Σ c·op(w): a different adjoint for every element.
const WEIGHTS: [f64; 7] = [0.3, -1.1, 0.7, 1.3, -0.4, 0.9, 0.6];

/// For each op, a module with the network in f64 and in f32; the body uses
/// the free function and the method form of the op (their mean).
macro_rules! op_nets {
    ($($m:ident: |$w:ident| $e:expr;)*) => {$(
        pub mod $m {
            use gradc::network;
            #[network]
            pub fn f64net(#[input] c: [f64; 7], $w: [f64; 7]) -> f64 {
                sum($e * c)
            }
            #[network]
            pub fn f32net(#[input] c: [f32; 7], $w: [f32; 7]) -> f32 {
                sum($e * c)
            }
        }
    )*};
}

op_nets! {
    abs: |w| (abs(w) + w.abs()) * 0.5;
    leaky_relu: |w| (leaky_relu(w, 0.1) + w.leaky_relu(0.1)) * 0.5;
    elu: |w| (elu(w) + w.elu()) * 0.5;
    gelu: |w| (gelu(w) + w.gelu()) * 0.5;
    gelu_tanh: |w| (gelu_tanh(w) + w.gelu_tanh()) * 0.5;
    silu: |w| (silu(w) + w.silu()) * 0.5;
    min: |w| (min(w, 0.0) + w.min(0.0)) * 0.5;
    clamp: |w| (clamp(w, -0.7, 1.9) + w.clamp(-0.7, 1.9)) * 0.5;
    hardtanh: |w| (hardtanh(w) + w.hardtanh()) * 0.5;
    square: |w| (square(w) + w.square()) * 0.5;
    ln_1p: |w| (ln_1p(w * w) + (w * w).ln_1p()) * 0.5;
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
}

/// Checks one op: `special(x)` is the documented derivative at the kinks and
/// extremes (`None` elsewhere: finite differences decide).
macro_rules! check {
    ($m:ident, $special:expr) => {{
        use $m::{f32net, f64net};
        let special: fn(f64) -> Option<f64> = $special;
        let mut p = f64net::Params::zeros();
        let mut i = f64net::Inputs::zeros();
        p.w = POINTS;
        i.c = WEIGHTS;
        let mut g = f64net::Grads::zeros();
        let loss = f64net::forward_backward(&p, &i, &mut g);
        let mut ig = f64net::Grads::zeros();
        let iloss = f64net::interpreted_forward_backward(&p, &i, &mut ig);
        assert!(
            loss.is_finite() && close(loss, iloss, 1e-12),
            "{}: loss {loss} vs {iloss}",
            stringify!($m)
        );
        let mut p32 = f32net::Params::zeros();
        let mut i32 = f32net::Inputs::zeros();
        p32.w = POINTS.map(|v| v as f32);
        i32.c = WEIGHTS.map(|v| v as f32);
        let mut g32 = f32net::Grads::zeros();
        let loss32 = f32net::forward_backward(&p32, &i32, &mut g32);
        let mut ig32 = f32net::Grads::zeros();
        let iloss32 = f32net::interpreted_forward_backward(&p32, &i32, &mut ig32);
        assert!(
            loss32.is_finite() && close(loss32 as f64, loss, 1e-5),
            "{}: f32 loss {loss32} vs {loss}",
            stringify!($m)
        );
        assert!(
            close(loss32 as f64, iloss32 as f64, 1e-6),
            "{}: f32 loss {loss32} vs {iloss32}",
            stringify!($m)
        );
        let h = 1e-6;
        for j in 0..POINTS.len() {
            let x = POINTS[j];
            let want = match special(x) {
                Some(d) => d * WEIGHTS[j],
                None => {
                    // Only element j in the loss: the others (up to 1e6 for
                    // `square`) would drown the difference in rounding.
                    let mut ij = f64net::Inputs::zeros();
                    ij.c[j] = WEIGHTS[j];
                    let mut q = p.clone();
                    q.w[j] = x + h;
                    let up = f64net::forward(&q, &ij);
                    q.w[j] = x - h;
                    let down = f64net::forward(&q, &ij);
                    (up - down) / (2.0 * h)
                }
            };
            let what = if special(x).is_some() {
                "documented"
            } else {
                "finite difference"
            };
            let m = stringify!($m);
            assert!(
                close(g.w[j], want, 1e-6),
                "{m} at {x}: f64 compiled {} vs {what} {want}",
                g.w[j]
            );
            assert!(
                close(ig.w[j], g.w[j], 1e-12),
                "{m} at {x}: f64 interpreted {} vs compiled {}",
                ig.w[j],
                g.w[j]
            );
            let (c32, i32v) = (g32.w[j] as f64, ig32.w[j] as f64);
            assert!(
                close(c32, want, 1e-4),
                "{m} at {x}: f32 compiled {c32} vs {what} {want}"
            );
            assert!(
                close(i32v, want, 1e-4),
                "{m} at {x}: f32 interpreted {i32v} vs {what} {want}"
            );
        }
    }};
}

#[test]
fn abs_sign_and_zero_at_zero() {
    check!(abs, |x| match x {
        0.0 => Some(0.0),
        x if x.abs() == 1e3 => Some(x.signum()),
        _ => None,
    });
}

#[test]
fn leaky_relu_slope_at_and_below_zero() {
    check!(leaky_relu, |x| match x {
        0.0 => Some(0.1),
        -1e3 => Some(0.1),
        1e3 => Some(1.0),
        _ => None,
    });
}

#[test]
fn elu_continuous_derivative() {
    check!(elu, |x| match x {
        0.0 | 1e3 => Some(1.0),
        -1e3 => Some(0.0),
        _ => None,
    });
}

/// Φ(0) = ½ and the tails: 0 far left, 1 far right, for the three smooth
/// gates alike.
fn gate(x: f64) -> Option<f64> {
    match x {
        0.0 => Some(0.5),
        -1e3 => Some(0.0),
        1e3 => Some(1.0),
        _ => None,
    }
}

#[test]
fn gelu_gradients() {
    check!(gelu, gate);
}

#[test]
fn gelu_tanh_gradients() {
    check!(gelu_tanh, gate);
}

#[test]
fn silu_gradients() {
    check!(silu, gate);
}

#[test]
fn min_tie_goes_to_the_first_argument() {
    check!(min, |x| match x {
        // min(0, 0): the tie sends the gradient to w.
        0.0 | -1e3 => Some(1.0),
        1e3 => Some(0.0),
        _ => None,
    });
}

#[test]
fn clamp_zero_at_and_outside_the_bounds() {
    check!(clamp, |x| match x {
        -0.7 | 1.9 | -1e3 | 1e3 => Some(0.0),
        0.0 => Some(1.0),
        _ => None,
    });
}

#[test]
fn hardtanh_is_clamp_to_unit() {
    check!(hardtanh, |x| match x {
        -1e3 | 1e3 => Some(0.0),
        0.0 => Some(1.0),
        _ => None,
    });
}

#[test]
fn square_gradients() {
    check!(square, |x| match x {
        0.0 => Some(0.0),
        x if x.abs() == 1e3 => Some(2.0 * x),
        _ => None,
    });
}

#[test]
fn ln_1p_gradients() {
    check!(ln_1p, |x| match x {
        0.0 => Some(0.0),
        x if x.abs() == 1e3 => Some(2.0 * x / (1.0 + x * x)),
        _ => None,
    });
}

pub mod values {
    use gradc::network;

    #[network]
    pub fn small(w: [f64; 2]) -> f64 {
        sum(ln_1p(w))
    }

    #[network]
    pub fn gates(#[input] c: [f64; 3], w: f64) -> f64 {
        let v = gelu(w) * c;
        let t = gelu_tanh(w) * c;
        sum(v) + sum(t) * 1000.0
    }
}

#[test]
fn ln_1p_is_accurate_near_zero() {
    let mut p = values::small::Params::zeros();
    p.w = [1e-10, -3e-12];
    let got = values::small::forward(&p, &values::small::Inputs::zeros());
    // ln(1 + x) would lose 6 of the 16 digits here.
    let want = 1e-10f64.ln_1p() + (-3e-12f64).ln_1p();
    assert!((got - want).abs() <= 1e-15 * want.abs(), "{got} vs {want}");
}

#[test]
fn gelu_values_match_their_definitions() {
    // gelu(1) = Φ(1) (30 digits: 0.841344746068542948585232545632);
    // gelu_tanh(1) = ½·(1 + tanh(√(2/π)·1.044715)).
    let mut p = values::gates::Params::zeros();
    let mut i = values::gates::Inputs::zeros();
    p.w = 1.0;
    i.c = [1.0, 0.0, 0.0];
    let got = values::gates::forward(&p, &i);
    let exact = 0.841_344_746_068_542_9;
    let tanh_form = 0.5 * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * 1.044_715).tanh());
    let want = exact + 1000.0 * tanh_form;
    assert!((got - want).abs() <= 1e-12, "{got} vs {want}");
}

/// Large f32 `tanh`s (128 elements) go through the runtime's slice kernel in
/// generated code, per element `tanh_f32` in the interpreter: one of a fused
/// operand (written in place), one of a parameter (copied first), and one
/// batch-generic. The f64 twin gives the finite differences.
macro_rules! wide_tanh {
    ($name:ident, $t:ty) => {
        #[gradc::network]
        pub fn $name(#[input] c: [[$t; 16]; 8], w: [[$t; 16]; 8], v: [[$t; 16]; 8]) -> $t {
            let h = tanh(w * 1.5 + 0.25);
            sum(h * c) + sum(tanh(v) * h)
        }
    };
}
wide_tanh!(wide_tanh32, f32);
wide_tanh!(wide_tanh64, f64);

#[gradc::network]
pub fn wide_tanh_b<const B: usize>(#[input] c: [[f32; 16]; B], w: [[f32; 16]; 8]) -> f32 {
    let h = tanh(w.sum_axis(0) + c);
    sum(h * c)
}

/// Points across tanh's range: the extremes, saturation, 0 and small values.
fn tanh_point(k: usize) -> f64 {
    const EDGES: [f64; 8] = [-1e3, 1e3, -12.0, 9.5, 0.0, 1e-7, -3e-4, 30.0];
    EDGES
        .get(k)
        .copied()
        .unwrap_or(((k * 37 % 101) as f64 - 50.0) / 17.0)
}

#[test]
fn wide_tanh_compiled_and_interpreted_agree_bit_for_bit() {
    let (mut p, mut i) = (wide_tanh32::Params::zeros(), wide_tanh32::Inputs::zeros());
    let (mut p64, mut i64) = (wide_tanh64::Params::zeros(), wide_tanh64::Inputs::zeros());
    for k in 0..128 {
        let (r, j) = (k / 16, k % 16);
        let (w, v, c) = (tanh_point(k), tanh_point(k + 40), tanh_point(k + 7) / 3.0);
        (p.w[r][j], p.v[r][j], i.c[r][j]) = (w as f32, v as f32, c as f32);
        (p64.w[r][j], p64.v[r][j], i64.c[r][j]) =
            (w as f32 as f64, v as f32 as f64, c as f32 as f64);
    }
    let (mut g, mut ig) = (wide_tanh32::Grads::zeros(), wide_tanh32::Grads::zeros());
    let loss = wide_tanh32::forward_backward(&p, &i, &mut g);
    let iloss = wide_tanh32::interpreted_forward_backward(&p, &i, &mut ig);
    assert_eq!(loss.to_bits(), iloss.to_bits(), "{loss} vs {iloss}");
    assert_eq!((g.w, g.v), (ig.w, ig.v));
    // Central differences of the f64 twin, one parameter at a time.
    let h = 1e-6;
    for k in 0..128 {
        let (r, j) = (k / 16, k % 16);
        for (which, got) in [("w", g.w[r][j]), ("v", g.v[r][j])] {
            let at = |d: f64| {
                let mut q = p64.clone();
                let x = if which == "w" {
                    &mut q.w[r][j]
                } else {
                    &mut q.v[r][j]
                };
                *x += d;
                wide_tanh64::forward(&q, &i64)
            };
            let want = (at(h) - at(-h)) / (2.0 * h);
            assert!(
                close(f64::from(got), want, 1e-4),
                "d{which}[{r}][{j}]: f32 compiled {got} vs finite difference {want}"
            );
        }
    }
}

#[test]
fn batch_generic_wide_tanh_agrees_bit_for_bit() {
    fn run<const B: usize>() {
        let mut p = wide_tanh_b::Params::zeros();
        let mut i = wide_tanh_b::Inputs::<B>::zeros();
        for (k, x) in p.w.as_flattened_mut().iter_mut().enumerate() {
            *x = tanh_point(k) as f32 / 8.0;
        }
        for (k, x) in i.c.as_flattened_mut().iter_mut().enumerate() {
            *x = tanh_point(k + 3) as f32;
        }
        let (mut g, mut ig) = (wide_tanh_b::Grads::zeros(), wide_tanh_b::Grads::zeros());
        let loss = wide_tanh_b::forward_backward(&p, &i, &mut g);
        let iloss = wide_tanh_b::interpreted_forward_backward(&p, &i, &mut ig);
        assert_eq!(
            loss.to_bits(),
            iloss.to_bits(),
            "B = {B}: {loss} vs {iloss}"
        );
        assert_eq!(g.w, ig.w, "B = {B}");
    }
    run::<1>();
    run::<5>();
    run::<40>();
}
