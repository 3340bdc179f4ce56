//! A branch-free `exp` for f32 that LLVM can vectorise (libm's `expf` is an
//! opaque call per element, several microseconds per softmax at N3).

/// `eˣ` in f32, within 2 ulp of the correctly rounded value over the whole
/// range: 0 below about −103.9 (through the subnormals), `+∞` above about
/// 88.72, NaN for NaN.
///
/// Cody–Waite reduction `x = k·ln2 + r` with `|r| ≤ ln2/2`, a degree-6
/// minimax polynomial for `eʳ` in a short dependency chain, and `2ᵏ` applied
/// in two halves so subnormal results round once. No table, no branch: a loop
/// of these vectorises.
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    // `clamp` compares, so a NaN flows through as NaN.
    let x = x.clamp(-104.0, 89.0);
    let (r, k) = reduce(x);
    let (s1, s2) = halves(k);
    exp_poly(r) * s1 * s2
}

/// [`exp_f32`] for `x ≤ 0` or NaN (meaningless for larger `x`), one multiply
/// shorter: the same bits except where `k = −150` (`x` below about −103.6),
/// which gives 0 instead of the smallest subnormal (within 0.71 ulp).
/// `sigmoid_f32` and `softplus_f32` take `exp` of `−|x|` only, on their
/// critical path.
#[inline(always)]
pub(crate) fn exp_nonpositive_f32(x: f32) -> f32 {
    // Only the lower bound; the comparison lets NaN through.
    let x = if x < -104.0 { -104.0 } else { x };
    let (r, k) = reduce(x);
    let (s1, s2) = halves(k);
    // For k in [−149, 0], `s1·s2 = 2ᵏ` exactly, computed beside the
    // polynomial: the result still rounds once.
    exp_poly(r) * (s1 * s2)
}

/// `x = k·ln2 + r` with `|r| ≤ ln2/2`, for `x` in [−104, 89]: returns `(r, k)`.
#[inline(always)]
pub(crate) fn reduce(x: f32) -> (f32, i32) {
    // Round-to-nearest by the 1.5·2²³ trick (no SSE4.1 `round` needed); the
    // low mantissa bits of `big` hold k.
    const SHIFT: f32 = 12_582_912.0;
    let big = x * std::f32::consts::LOG2_E + SHIFT;
    let k = big - SHIFT;
    let ki = (big.to_bits() as i32).wrapping_sub(SHIFT.to_bits() as i32);
    // ln2 split so `k · LN2_HI` is exact for |k| < 2⁹.
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    ((x - k * LN2_HI) - k * LN2_LO, ki)
}

/// `eʳ` for `|r| ≤ ln2/2`: `1 + r + r²·(c₂ + c₃r) + r⁴·(c₄ + c₅r + c₆r²)`,
/// minimax in relative error with `c₀ = c₁ = 1` (3.1e-9 with the f32
/// coefficients in exact arithmetic; `scripts/exp_minimax.py` fits them).
/// The groups are independent, so the chain after `r` is 7 operations
/// instead of the 14 of a degree-7 Horner scheme without FMA; the largest
/// terms, `r` and then 1, are added last, so the rounding errors of the
/// others shrink relative to the result.
#[inline(always)]
fn exp_poly(r: f32) -> f32 {
    const C2: f32 = 0.499_999_94;
    const C3: f32 = 0.166_665_21;
    const C4: f32 = 0.041_668_266;
    const C5: f32 = 0.008_368_674;
    const C6: f32 = 0.001_382_063_4;
    let r2 = r * r;
    let r4 = r2 * r2;
    let lo = madd(C3, r, C2);
    let hi = madd(C6, r2, madd(C5, r, C4));
    1.0 + (r + (r2 * lo + r4 * hi))
}

/// `2ᵏ` as two normal floats `2^k1 · 2^k2`, for k in [−150, 128].
#[inline(always)]
fn halves(k: i32) -> (f32, f32) {
    let k1 = k >> 1;
    let k2 = k.wrapping_sub(k1);
    let s1 = f32::from_bits((k1.wrapping_add(127) as u32).wrapping_shl(23));
    let s2 = f32::from_bits((k2.wrapping_add(127) as u32).wrapping_shl(23));
    (s1, s2)
}

#[inline(always)]
pub(crate) fn madd(a: f32, b: f32, c: f32) -> f32 {
    // Without the FMA target feature `mul_add` is a libm call.
    #[cfg(target_feature = "fma")]
    {
        a.mul_add(b, c)
    }
    #[cfg(not(target_feature = "fma"))]
    {
        a * b + c
    }
}

#[cfg(test)]
mod tests {
    use super::{exp_f32, exp_nonpositive_f32};

    /// Distance in f32 ulps of the exact value (subnormal ulp below 2⁻¹²⁶).
    fn ulps(got: f32, want: f64) -> f64 {
        let w = want as f32;
        let ulp = if w == 0.0 || w.is_subnormal() {
            f64::from(f32::from_bits(1))
        } else if w.is_infinite() {
            return if got == w { 0.0 } else { f64::INFINITY };
        } else {
            let b = w.abs().to_bits();
            f64::from(f32::from_bits(b + 1) - f32::from_bits(b))
        };
        (f64::from(got) - want).abs() / ulp
    }

    #[test]
    fn within_two_ulp_of_f64_exp_across_the_range() {
        let (mut worst, mut at) = (0.0f64, 0.0f32);
        let n = 2_000_000;
        for i in 0..=n {
            let x = -110.0 + 200.0 * i as f32 / n as f32;
            let e = ulps(exp_f32(x), f64::from(x).exp());
            if e > worst {
                (worst, at) = (e, x);
            }
        }
        // Near zero, where most softmax inputs are.
        for i in 0..=100_000 {
            let x = -1.0 + 2.0 * i as f32 / 100_000.0;
            let e = ulps(exp_f32(x), f64::from(x).exp());
            if e > worst {
                (worst, at) = (e, x);
            }
        }
        assert!(worst <= 2.0, "worst error {worst} ulp at x = {at}");
    }

    #[test]
    fn nonpositive_variant_is_exp_f32_down_to_k_minus_149() {
        // k = round(x·log₂e) ≥ −149 for every x ≥ −103.6.
        let n = 2_000_000;
        for i in 0..=n {
            let x = -103.6 * i as f32 / n as f32;
            let (a, b) = (exp_nonpositive_f32(x), exp_f32(x));
            assert_eq!(a.to_bits(), b.to_bits(), "x = {x:e}: {a:e} vs {b:e}");
        }
        // Below, k = −150 may round to 0 instead of 2⁻¹⁴⁹: still within 1 ulp.
        let mut x = -103.6f32;
        while x > -110.0 {
            let e = ulps(exp_nonpositive_f32(x), f64::from(x).exp());
            assert!(e <= 1.0, "{e} ulp at x = {x:e}");
            x = f32::from_bits(x.to_bits() + 1);
        }
        assert_eq!(exp_nonpositive_f32(-0.0), 1.0);
        assert_eq!(exp_nonpositive_f32(f32::NEG_INFINITY), 0.0);
        assert!(exp_nonpositive_f32(f32::NAN).is_nan());
    }

    #[test]
    fn edges() {
        assert_eq!(exp_f32(0.0), 1.0);
        assert_eq!(exp_f32(-1e4), 0.0);
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp_f32(1e4), f32::INFINITY);
        assert_eq!(exp_f32(f32::INFINITY), f32::INFINITY);
        assert!(ulps(exp_f32(88.72), f64::from(88.72f32).exp()) <= 2.0);
        assert!(exp_f32(f32::NAN).is_nan());
        assert!(exp_f32(-100.0) > 0.0 && exp_f32(-100.0).is_subnormal());
    }
}
