//! The f32 kernels' error in ulps against f64 references, over points spread
//! evenly in bit pattern across every finite f32 (subnormals to ±MAX), a dense
//! linear sweep of the range where the functions bend, and the special values.
//!
//! The full measurement (10⁷ points per kernel; prints the table):
//! `GRADC_ULP_POINTS=10000000 cargo test --release -p gradc-runtime --test ulp -- --nocapture`.
//! Without the variable, 10⁷ in release and 2·10⁵ in debug builds.

use gradc_runtime::{
    erf_f32, erf_f64, erfc_f32, erfc_f64, exp_f32, ln_1p_f32, ln_f32, sigmoid_f32, softplus_f32,
    tanh_f32, tanh_slice_f32, tanh_slice_f32_with, Isa,
};

/// Distance in f32 ulps of the exact value `want` (subnormal ulp below 2⁻¹²⁶);
/// a NaN or infinite `want` must be matched exactly.
fn ulps(got: f32, want: f64) -> f64 {
    if want.is_nan() {
        return if got.is_nan() { 0.0 } else { f64::INFINITY };
    }
    let w = want as f32;
    if w.is_infinite() {
        return if got == w { 0.0 } else { f64::INFINITY };
    }
    let ulp = if w == 0.0 || w.is_subnormal() {
        f64::from(f32::from_bits(1))
    } else {
        let b = w.abs().to_bits();
        f64::from(f32::from_bits(b + 1)) - f64::from(f32::from_bits(b))
    };
    (f64::from(got) - want).abs() / ulp
}

fn sigmoid_f64(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        x.exp() / (1.0 + x.exp())
    }
}

fn softplus_f64(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

type Kernel = (&'static str, fn(f32) -> f32, fn(f64) -> f64, f64);

/// Each kernel, its reference and its documented bound in ulps.
/// (`erf_f64` and `erfc_f64` are checked against double-double references in
/// `tests/erf.rs`, within a few f64 ulp: far below an f32 ulp.)
const KERNELS: [Kernel; 8] = [
    ("exp_f32", exp_f32, f64::exp, 2.0),
    ("ln_f32", ln_f32, f64::ln, 1.0),
    ("ln_1p_f32", ln_1p_f32, f64::ln_1p, 2.0),
    ("tanh_f32", tanh_f32, f64::tanh, 3.0),
    ("sigmoid_f32", sigmoid_f32, sigmoid_f64, 3.0),
    ("softplus_f32", softplus_f32, softplus_f64, 3.0),
    ("erf_f32", erf_f32, erf_f64, 1.0),
    ("erfc_f32", erfc_f32, erfc_f64, 1.0),
];

const SPECIAL: [f32; 22] = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    f32::MIN_POSITIVE,
    -f32::MIN_POSITIVE,
    1e-45,
    -1e-45,
    1e-30,
    f32::MAX,
    f32::MIN,
    f32::INFINITY,
    f32::NEG_INFINITY,
    f32::NAN,
    1e3,
    -1e3,
    88.72,
    -103.9,
    10.0,
    -10.0,
    -0.999_999_94,
    f32::EPSILON,
];

fn points() -> usize {
    let default = if cfg!(debug_assertions) {
        200_000
    } else {
        10_000_000
    };
    std::env::var("GRADC_ULP_POINTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Half the points evenly in bit pattern over all f32 (both signs, NaN
/// patterns skipped), half evenly over [−30, 30], then the special values.
fn sample(n: usize, mut f: impl FnMut(f32)) {
    let half = (n / 2).max(1) as u64;
    let step = (1u64 << 32) / half;
    for i in 0..half {
        let x = f32::from_bits((i * step) as u32);
        if !x.is_nan() {
            f(x);
        }
    }
    for i in 0..=half {
        f(-30.0 + 60.0 * (i as f64 / half as f64) as f32);
    }
    SPECIAL.iter().copied().for_each(f);
}

#[test]
fn every_kernel_within_its_bound_of_f64() {
    let n = points();
    println!(
        "{n} points per kernel (half bit-uniform over all f32, half over [-30, 30]) + specials"
    );
    println!("| kernel | max ulp | at x | mean ulp | bound |");
    println!("|---|---|---|---|---|");
    let mut failures = Vec::new();
    for (name, k, r, bound) in KERNELS {
        let (mut worst, mut at, mut sum, mut count) = (0.0f64, 0.0f32, 0.0f64, 0usize);
        sample(n, |x| {
            let e = ulps(k(x), r(f64::from(x)));
            if e > worst || e.is_nan() {
                (worst, at) = (e, x);
            }
            sum += e;
            count += 1;
        });
        println!(
            "| {name} | {worst:.3} | {at:e} | {:.4} | {bound} |",
            sum / count as f64
        );
        if worst.is_nan() || worst > bound {
            failures.push(format!("{name}: {worst} ulp at x = {at:e}"));
        }
    }
    assert!(failures.is_empty(), "{failures:?}");
}

#[test]
fn limits_and_special_values() {
    for (name, k, _, _) in KERNELS {
        assert!(k(f32::NAN).is_nan(), "{name}(NaN)");
        // The logarithms are NaN below their domain, as they should be.
        let whole_line = !name.starts_with("ln");
        for x in [1e3f32, -1e3, 1e30, -1e30] {
            assert!(
                !k(x).is_nan() || (x < 0.0 && !whole_line),
                "{name}({x}) is NaN"
            );
        }
    }
    assert_eq!(tanh_f32(1e3), 1.0);
    assert_eq!(tanh_f32(-1e3), -1.0);
    assert_eq!(tanh_f32(f32::INFINITY), 1.0);
    assert_eq!(tanh_f32(f32::NEG_INFINITY), -1.0);
    assert_eq!(tanh_f32(-0.0).to_bits(), (-0.0f32).to_bits());
    assert_eq!(tanh_f32(1e-40), 1e-40);
    assert_eq!(sigmoid_f32(1e3), 1.0);
    assert_eq!(sigmoid_f32(-1e3), 0.0);
    assert_eq!(sigmoid_f32(f32::INFINITY), 1.0);
    assert_eq!(sigmoid_f32(f32::NEG_INFINITY), 0.0);
    assert_eq!(sigmoid_f32(0.0), 0.5);
    assert_eq!(softplus_f32(1e3), 1e3);
    assert_eq!(softplus_f32(-1e3), 0.0);
    assert_eq!(softplus_f32(f32::INFINITY), f32::INFINITY);
    assert_eq!(softplus_f32(f32::NEG_INFINITY), 0.0);
    assert_eq!(ln_f32(0.0), f32::NEG_INFINITY);
    assert_eq!(ln_f32(-0.0), f32::NEG_INFINITY);
    assert!(ln_f32(-1.0).is_nan());
    assert!(ln_f32(f32::NEG_INFINITY).is_nan());
    assert_eq!(ln_f32(f32::INFINITY), f32::INFINITY);
    assert_eq!(ln_f32(1.0), 0.0);
    assert_eq!(ln_1p_f32(-1.0), f32::NEG_INFINITY);
    assert!(ln_1p_f32(-2.0).is_nan());
    assert_eq!(ln_1p_f32(f32::INFINITY), f32::INFINITY);
    assert_eq!(ln_1p_f32(1e-30), 1e-30);
    assert_eq!(ln_1p_f32(-0.0).to_bits(), (-0.0f32).to_bits());
}

/// Generated code takes large f32 `tanh` buffers through `tanh_slice_f32`,
/// the interpreter calls `tanh_f32` per element: every build of the slice
/// kernel (AVX-512, AVX2, baseline, whichever this CPU has) must give the
/// scalar kernel's bits, in the vector body and in the tails.
#[test]
fn tanh_slice_is_tanh_f32_bit_for_bit() {
    let mut xs = Vec::new();
    sample(points().min(2_000_000), |x| xs.push(x));
    let want: Vec<f32> = xs.iter().map(|&x| tanh_f32(x)).collect();
    let same = |a: f32, b: f32| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
    for isa in [Isa::Best, Isa::Avx2, Isa::Portable] {
        // Chunks of every length up to 40 cover each vector width's tail.
        let mut got = xs.clone();
        let (mut at, mut len) = (0, 0);
        while at < got.len() {
            let end = (at + len).min(got.len());
            tanh_slice_f32_with(isa, &mut got[at..end]);
            (at, len) = (end, (len + 1) % 41);
        }
        for ((x, g), w) in xs.iter().zip(&got).zip(&want) {
            assert!(
                same(*g, *w),
                "{isa:?}: tanh({x:e}) = {g:e}, tanh_f32 gives {w:e}"
            );
        }
    }
    let mut got = xs.clone();
    tanh_slice_f32(&mut got);
    assert!(got.iter().zip(&want).all(|(g, w)| same(*g, *w)));
}
