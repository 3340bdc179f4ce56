//! `erf` and `erfc` against references computed here in double-double
//! arithmetic (about 32 digits): the Maclaurin series for |x| < 3 and the
//! continued fraction of `erfc` beyond, where the series cancels.

use gradc_runtime::{erf_f32, erf_f64, erfc_f32, erfc_f64};

/// A double-double number `hi + lo`, `|lo| ≤ ulp(hi)/2`.
#[derive(Clone, Copy, Debug)]
struct Dd(f64, f64);

fn two_sum(a: f64, b: f64) -> Dd {
    let s = a + b;
    let bb = s - a;
    Dd(s, (a - (s - bb)) + (b - bb))
}

fn norm(hi: f64, lo: f64) -> Dd {
    let s = hi + lo;
    Dd(s, lo - (s - hi))
}

impl Dd {
    fn from(v: f64) -> Dd {
        Dd(v, 0.0)
    }
    fn add(self, o: Dd) -> Dd {
        let s = two_sum(self.0, o.0);
        norm(s.0, s.1 + self.1 + o.1)
    }
    fn neg(self) -> Dd {
        Dd(-self.0, -self.1)
    }
    fn mul(self, o: Dd) -> Dd {
        let p = self.0 * o.0;
        let e = self.0.mul_add(o.0, -p);
        norm(p, e + self.0 * o.1 + self.1 * o.0)
    }
    fn div(self, o: Dd) -> Dd {
        let q1 = self.0 / o.0;
        let r = self.add(o.mul(Dd::from(q1)).neg());
        let q2 = r.0 / o.0;
        let r = r.add(o.mul(Dd::from(q2)).neg());
        let q3 = r.0 / o.0;
        norm(q1, q2).add(Dd::from(q3))
    }
    fn to_f64(self) -> f64 {
        self.0 + self.1
    }
}

/// 2/√π and 1/√π as double-doubles (the low parts: the next 16 digits).
const TWO_OVER_SQRT_PI: Dd = Dd(std::f64::consts::FRAC_2_SQRT_PI, 1.533545961316588e-17);
const ONE_OVER_SQRT_PI: Dd = Dd(
    std::f64::consts::FRAC_2_SQRT_PI / 2.0,
    1.533545961316588e-17 / 2.0,
);

/// erf(x) = 2/√π Σ (−1)ⁿ x²ⁿ⁺¹ / (n!(2n+1)), for |x| < 3 (terms peak near
/// e^(x²) ≈ 8000, far inside double-double's 32 digits).
fn erf_series(x: f64) -> Dd {
    let mx2 = Dd::from(x).mul(Dd::from(x)).neg();
    let mut term = Dd::from(x);
    let mut sum = term;
    for n in 1..400 {
        term = term.mul(mx2).div(Dd::from(n as f64));
        sum = sum.add(term.div(Dd::from((2 * n + 1) as f64)));
        if term.0.abs() < 1e-40 {
            break;
        }
    }
    sum.mul(TWO_OVER_SQRT_PI)
}

/// erfc(x) = e^(−x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))) for
/// x ≥ 2.5, evaluated from the back; `e^(−x²)` is the f64 `exp` of an exact
/// `x²` (the callers pick such x), within an ulp.
fn erfc_cf(x: f64) -> Dd {
    assert_eq!(x.mul_add(x, -(x * x)), 0.0, "x² of {x} is not exact");
    let xd = Dd::from(x);
    let mut f = xd;
    for k in (1..3000).rev() {
        f = xd.add(Dd::from(k as f64 / 2.0).div(f));
    }
    let e = Dd::from((-(x * x)).exp());
    e.mul(ONE_OVER_SQRT_PI).div(f)
}

fn ulp64(v: f64) -> f64 {
    let a = v.abs();
    f64::from_bits(a.to_bits() + 1) - a
}

fn ulp32(v: f64) -> f64 {
    let a = (v as f32).abs();
    f64::from(f32::from_bits(a.to_bits() + 1) - a)
}

/// The worst error in ulps of `f` against `reference` over `xs`, for the
/// f64 function and its f32 twin.
struct Worst {
    f64_ulps: f64,
    f32_ulps: f64,
}

fn measure(
    xs: impl Iterator<Item = f64>,
    reference: impl Fn(f64) -> f64,
    f64_fn: fn(f64) -> f64,
    f32_fn: fn(f32) -> f32,
) -> Worst {
    let mut w = Worst {
        f64_ulps: 0.0,
        f32_ulps: 0.0,
    };
    for x in xs {
        let r = reference(x);
        // Subnormal results have fewer digits: the ulp measure stops there.
        if r.abs() < f64::MIN_POSITIVE {
            continue;
        }
        let e = (f64_fn(x) - r).abs() / ulp64(r);
        assert!(e.is_finite(), "{x}: {} vs {r}", f64_fn(x));
        w.f64_ulps = w.f64_ulps.max(e);
        let x32 = x as f32;
        if f64::from(x32) == x && (r.abs() as f32) >= f32::MIN_POSITIVE {
            let e = (f64::from(f32_fn(x32)) - r).abs() / ulp32(r);
            w.f32_ulps = w.f32_ulps.max(e);
        }
    }
    w
}

/// Points with an exact square (multiples of 1/64) from `lo` to `hi`, plus
/// irregular ones for the series.
fn grid(lo: f64, hi: f64) -> impl Iterator<Item = f64> {
    let n = ((hi - lo) * 64.0) as i64;
    (0..=n).map(move |k| lo + k as f64 / 64.0)
}

fn irregular(lo: f64, hi: f64, n: usize) -> impl Iterator<Item = f64> {
    let mut s: u64 = 0x5eed;
    (0..n).map(move |_| {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        lo + (hi - lo) * ((s >> 11) as f64 / (1u64 << 53) as f64)
    })
}

#[test]
fn reference_matches_known_values() {
    // Published values of erf(1) (0.84270079294971486934) and erfc(3), to f64.
    assert_eq!(erf_series(1.0).to_f64(), 0.842_700_792_949_714_9);
    // The continued fraction carries exp's rounding: within an ulp.
    let c = erfc_cf(3.0).to_f64();
    let want = 2.209_049_699_858_544e-5;
    assert!((c - want).abs() <= ulp64(want), "{c}");
    // The two references agree where both apply.
    for x in [2.5, 2.75, 2.9375] {
        let a = Dd::from(1.0).add(erf_series(x).neg()).to_f64();
        let b = erfc_cf(x).to_f64();
        assert!((a - b).abs() <= 2.0 * ulp64(b), "{x}: {a} vs {b}");
    }
}

#[test]
fn erf_within_two_ulp() {
    let series = irregular(-3.0, 3.0, 20_000)
        .chain(grid(-3.0, 2.99))
        .chain([1e-300, -1e-10, 1e-5, 0.49999999, 0.5, 0.5000001]);
    let w = measure(series, |x| erf_series(x).to_f64(), erf_f64, erf_f32);
    assert!(w.f64_ulps <= 2.0, "erf f64: {} ulp", w.f64_ulps);
    assert!(w.f32_ulps <= 1.0, "erf f32: {} ulp", w.f32_ulps);
    let tail = grid(3.0, 7.0).chain(grid(-7.0, -3.0));
    let w = measure(
        tail,
        |x| {
            let c = erfc_cf(x.abs());
            Dd::from(1.0).add(c.neg()).to_f64().copysign(x)
        },
        erf_f64,
        erf_f32,
    );
    assert!(w.f64_ulps <= 1.0, "erf tail f64: {} ulp", w.f64_ulps);
    assert!(w.f32_ulps <= 1.0, "erf tail f32: {} ulp", w.f32_ulps);
}

#[test]
fn erfc_within_four_ulp() {
    // The reference for x ≥ 2.5 carries exp's own ulp, hence 4.
    let w = measure(
        irregular(-3.0, 2.5, 20_000).chain(grid(-6.0, 2.49)),
        |x| Dd::from(1.0).add(erf_series_or_tail(x).neg()).to_f64(),
        erfc_f64,
        erfc_f32,
    );
    assert!(w.f64_ulps <= 4.0, "erfc f64: {} ulp", w.f64_ulps);
    assert!(w.f32_ulps <= 1.0, "erfc f32: {} ulp", w.f32_ulps);
    let w = measure(grid(2.5, 27.5), |x| erfc_cf(x).to_f64(), erfc_f64, erfc_f32);
    assert!(w.f64_ulps <= 4.0, "erfc tail f64: {} ulp", w.f64_ulps);
    assert!(w.f32_ulps <= 1.0, "erfc tail f32: {} ulp", w.f32_ulps);
}

/// erf in double-double on (−∞, 2.5): the series, or −1 + erfc(−x) below −3.
fn erf_series_or_tail(x: f64) -> Dd {
    if x > -3.0 {
        erf_series(x)
    } else {
        erfc_cf(-x).add(Dd::from(-1.0))
    }
}

#[test]
fn extremes() {
    assert_eq!(erf_f64(0.0), 0.0);
    assert!(erf_f64(-0.0).is_sign_negative());
    assert_eq!(erf_f64(1e3), 1.0);
    assert_eq!(erf_f64(-1e3), -1.0);
    assert_eq!(erf_f64(f64::INFINITY), 1.0);
    assert_eq!(erf_f64(f64::NEG_INFINITY), -1.0);
    assert_eq!(erfc_f64(1e3), 0.0);
    assert_eq!(erfc_f64(-1e3), 2.0);
    assert_eq!(erfc_f64(f64::INFINITY), 0.0);
    assert_eq!(erfc_f64(f64::NEG_INFINITY), 2.0);
    assert_eq!(erfc_f32(30.0), 0.0);
    assert_eq!(erf_f32(-1e3), -1.0);
    assert!(erf_f64(f64::NAN).is_nan() && erfc_f64(f64::NAN).is_nan());
    assert!(erf_f32(f32::NAN).is_nan() && erfc_f32(f32::NAN).is_nan());
    // Past 27.2 erfc is below the smallest subnormal; just before, tiny but positive.
    assert!(erfc_f64(26.5) > 0.0 && erfc_f64(26.5) < 1e-300);
}
