//! Branch-free f32 kernels for the transcendental ops (`ln`, `ln_1p`,
//! `tanh`, `sigmoid`, `softplus`), built on [`exp_f32`](crate::exp_f32) and one shared
//! logarithm core. Every special case is a select, so a loop of calls
//! vectorises. The f64 functions are std's (libm), already within 1 ulp; they
//! are named here so generated code and the interpreter call one function
//! per op and type, and agree bit for bit.
//!
//! Errors against f64 over 10⁷ points and the special values:
//! `GRADC_ULP_POINTS=10000000 cargo test --release -p gradc-runtime --test ulp -- --nocapture`.

use crate::exp::{exp_nonpositive_f32, madd, reduce};

const LN2_HI: f32 = 6.931_381e-1;
const LN2_LO: f32 = 9.058_001e-6;

/// `ln(1 + f) + c` for `f` in `[√½ − 1, √2 − 1]` and a small correction `c`,
/// plus `k·ln2`: musl's `logf` core (`s = f/(2+f)`, an even polynomial in `s`).
#[inline(always)]
fn ln_core(f: f32, k: f32, c: f32) -> f32 {
    const LG1: f32 = 0.666_666_6;
    const LG2: f32 = 0.400_009_72;
    const LG3: f32 = 0.284_987_87;
    const LG4: f32 = 0.242_790_79;
    let s = f / (2.0 + f);
    let z = s * s;
    let w = z * z;
    let t1 = w * madd(w, LG4, LG2);
    let t2 = z * madd(w, LG3, LG1);
    let r = t2 + t1;
    let hfsq = 0.5 * f * f;
    s * (hfsq + r) + (k * LN2_LO + c) - hfsq + f + k * LN2_HI
}

/// Splits a positive normal `u` as `2ᵏ·m` with `m` in `[√½, √2)`; returns `(m, k)`.
#[inline(always)]
fn split(u: f32) -> (f32, i32) {
    let ix = u.to_bits().wrapping_add(0x3f80_0000 - 0x3f35_04f3);
    let k = (ix >> 23) as i32 - 0x7f;
    let m = f32::from_bits((ix & 0x007f_ffff) + 0x3f35_04f3);
    (m, k)
}

/// `ln x` in f32 (within 1 ulp): `−∞` at ±0, NaN below 0 and for NaN, `+∞` at `+∞`.
#[inline(always)]
pub fn ln_f32(x: f32) -> f32 {
    // Subnormals are scaled into the normal range first.
    let tiny = x < f32::MIN_POSITIVE;
    let u = if tiny { x * 8_388_608.0 } else { x };
    let (m, k) = split(u);
    let k = if tiny { k - 23 } else { k };
    let y = ln_core(m - 1.0, k as f32, 0.0);
    // `y` is finite for NaN and +∞ (the split reads their bits as a number).
    let y = if x < f32::INFINITY { y } else { x };
    let y = if x == 0.0 { f32::NEG_INFINITY } else { y };
    if x < 0.0 {
        f32::NAN
    } else {
        y
    }
}

/// `ln(1 + x)` in f32, accurate near 0 (within 2 ulp): `−∞` at −1, NaN below
/// −1 and for NaN, `+∞` at `+∞`.
#[inline(always)]
pub fn ln_1p_f32(x: f32) -> f32 {
    let u = 1.0 + x;
    let (m, k) = split(u);
    // `u` lost x's low bits; `c/u` is the first-order correction (musl's
    // `log1pf`). With k = 0 the reduced argument is x itself and nothing is lost.
    let c = (if k >= 2 { 1.0 - (u - x) } else { x - (u - 1.0) }) / u;
    let (f, c) = if k == 0 { (x, 0.0) } else { (m - 1.0, c) };
    let y = ln_core(f, k as f32, c);
    // ±0 keep their sign, as in std.
    let y = if x == 0.0 || x == f32::INFINITY { x } else { y };
    let y = if x == -1.0 { f32::NEG_INFINITY } else { y };
    if x < -1.0 {
        f32::NAN
    } else {
        y
    }
}

/// `eˣ − 1` in f32 for `x ≤ 20`, accurate near 0 (within 1 ulp): the
/// reduction of [`exp_f32`](crate::exp_f32), `2ᵏ·(eʳ − 1) + (2ᵏ − 1)`, with `eʳ − 1` a
/// degree-8 Taylor polynomial that keeps its relative accuracy at small r.
#[inline(always)]
fn exp_m1_small(x: f32) -> f32 {
    let (r, ki) = reduce(x);
    let mut q = 1.0 / 40320.0;
    q = madd(q, r, 1.0 / 5040.0);
    q = madd(q, r, 1.0 / 720.0);
    q = madd(q, r, 1.0 / 120.0);
    q = madd(q, r, 1.0 / 24.0);
    q = madd(q, r, 1.0 / 6.0);
    q = madd(q, r, 0.5);
    let p = madd(r * r, q, r);
    // 2ᵏ is a normal float: here k ≥ −25 for x above −17 (callers pass ≥ 0).
    let s = f32::from_bits((ki.wrapping_add(127) as u32).wrapping_shl(23));
    madd(s, p, s - 1.0)
}

/// `tanh x` in f32 (within 3 ulp): `(e − 1)/(e + 1)` with `e − 1 = expm1(2|x|)`,
/// so small `x` keeps its relative accuracy; ±1 beyond |x| = 10, NaN for NaN.
#[inline(always)]
pub fn tanh_f32(x: f32) -> f32 {
    let a = x.abs();
    // tanh(10) rounds to 1 in f32; the clamp keeps `e` finite (NaN passes).
    let a = if a > 10.0 { 10.0 } else { a };
    let e = exp_m1_small(2.0 * a);
    (e / (e + 2.0)).copysign(x)
}

/// [`tanh_f32`] of every element of `x`, in place, through the widest
/// vector unit of the running CPU (AVX-512, AVX2, else the baseline build).
/// Each build compiles the same scalar code with the same operations (no FMA
/// contraction), so every element is bit-identical to `tanh_f32` of it: the
/// interpreter's per-element calls and generated code agree.
pub fn tanh_slice_f32(x: &mut [f32]) {
    tanh_slice_f32_with(crate::Isa::Best, x);
}

/// [`tanh_slice_f32`] through a chosen build (for tests of each path).
#[doc(hidden)]
pub fn tanh_slice_f32_with(isa: crate::Isa, x: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        if isa == crate::Isa::Best && has!("avx512f") {
            // SAFETY: the CPU has AVX-512F, the function's one requirement.
            return unsafe { x86::tanh_avx512(x) };
        }
        if isa != crate::Isa::Portable && has!("avx2") {
            // SAFETY: the CPU has AVX2, the function's one requirement.
            return unsafe { x86::tanh_avx2(x) };
        }
    }
    let _ = isa;
    for v in x {
        *v = tanh_f32(*v);
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::tanh_f32;

    // Wider registers for the same loop: LLVM vectorises `tanh_f32` (all
    // selects and bit operations) at the width the features allow.
    #[target_feature(enable = "avx512f")]
    pub(super) fn tanh_avx512(x: &mut [f32]) {
        for v in x {
            *v = tanh_f32(*v);
        }
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn tanh_avx2(x: &mut [f32]) {
        for v in x {
            *v = tanh_f32(*v);
        }
    }
}

/// The logistic sigmoid `1/(1 + e⁻ˣ)` in f32 (within 3 ulp): `exp` is only
/// taken of `−|x|`, and for negative x the result is `e/(1 + e)`, so the left
/// tail keeps its relative accuracy down to the subnormals.
#[inline(always)]
pub fn sigmoid_f32(x: f32) -> f32 {
    let e = exp_nonpositive_f32(-x.abs());
    (if x >= 0.0 { 1.0 } else { e }) / (1.0 + e)
}

/// `ln(1 + eˣ)` in f32 (within 3 ulp) as `max(x, 0) + ln_1p(e^−|x|)`: no
/// overflow, `x` itself for large x, `eˣ` for very negative x.
#[inline(always)]
pub fn softplus_f32(x: f32) -> f32 {
    let m = if x > 0.0 { x } else { 0.0 };
    // `−|x|` for NaN stays NaN, and so does the sum.
    m + ln_1p_f32(exp_nonpositive_f32(-x.abs()))
}

/// `eˣ` in f64: std's (libm).
#[inline]
pub fn exp_f64(x: f64) -> f64 {
    x.exp()
}

/// `ln x` in f64: std's (libm).
#[inline]
pub fn ln_f64(x: f64) -> f64 {
    x.ln()
}

/// `ln(1 + x)` in f64: std's (libm).
#[inline]
pub fn ln_1p_f64(x: f64) -> f64 {
    x.ln_1p()
}

/// `tanh x` in f64: std's (libm).
#[inline]
pub fn tanh_f64(x: f64) -> f64 {
    x.tanh()
}

/// The logistic sigmoid in f64, `1/(1 + e⁻ˣ)` or `eˣ/(1 + eˣ)` by sign so
/// that `exp` never overflows.
#[inline]
pub fn sigmoid_f64(x: f64) -> f64 {
    let e = (-x.abs()).exp();
    (if x >= 0.0 { 1.0 } else { e }) / (1.0 + e)
}

/// `ln(1 + eˣ)` in f64 as `max(x, 0) + ln_1p(e^−|x|)`.
#[inline]
pub fn softplus_f64(x: f64) -> f64 {
    let m = if x > 0.0 { x } else { 0.0 };
    m + (-x.abs()).exp().ln_1p()
}
