//! A branch-free `exp` for f32 that LLVM can vectorise (libm's `expf` is an
//! opaque call per element, several microseconds per softmax at N3).

/// `eˣ` in f32, within 2 ulp of the correctly rounded value over the whole
/// range: 0 below about −103.9 (through the subnormals), `+∞` above about
/// 88.72, NaN for NaN.
///
/// Cody–Waite reduction `x = k·ln2 + r` with `|r| ≤ ln2/2`, a degree-7 Taylor
/// polynomial for `eʳ`, and `2ᵏ` applied in two halves so subnormal results
/// round once. No table, no branch: a loop of these vectorises.
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    // `clamp` compares, so a NaN flows through as NaN.
    let x = x.clamp(-104.0, 89.0);
    // Round-to-nearest by the 1.5·2²³ trick (no SSE4.1 `round` needed); the
    // low mantissa bits of `big` hold k.
    const SHIFT: f32 = 12_582_912.0;
    let big = x * std::f32::consts::LOG2_E + SHIFT;
    let k = big - SHIFT;
    let ki = (big.to_bits() as i32).wrapping_sub(SHIFT.to_bits() as i32);
    // ln2 split so `k · LN2_HI` is exact for |k| < 2⁹.
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    let r = (x - k * LN2_HI) - k * LN2_LO;
    let mut p = 1.0 / 5040.0;
    p = madd(p, r, 1.0 / 720.0);
    p = madd(p, r, 1.0 / 120.0);
    p = madd(p, r, 1.0 / 24.0);
    p = madd(p, r, 1.0 / 6.0);
    p = madd(p, r, 0.5);
    p = madd(p, r, 1.0);
    p = madd(p, r, 1.0);
    // 2ᵏ = 2^k1 · 2^k2, each a normal float for k in [−150, 128].
    let k1 = ki >> 1;
    let k2 = ki.wrapping_sub(k1);
    let s1 = f32::from_bits((k1.wrapping_add(127) as u32).wrapping_shl(23));
    let s2 = f32::from_bits((k2.wrapping_add(127) as u32).wrapping_shl(23));
    p * s1 * s2
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
    use super::exp_f32;

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
