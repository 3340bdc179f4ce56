//! The error function `erf` and its complement `erfc`, for `gelu`'s normal
//! CDF `Φ(x) = erfc(−x/√2)/2`. Rust's std has neither.
//!
//! f64: polynomials fitted (Chebyshev, then read as monomials) to `erf(x)/x`
//! near 0 and to `erfc(x)·exp(x²)` on five intervals up to 4 and in `1/x²`
//! beyond, so `erfc` keeps its full relative accuracy deep in the tail where
//! `1 − erf` would cancel. `exp(−x²)` is taken as `exp(−z²)·exp((z − x)(z + x))`
//! with `z` the top 21 bits of `x`, so that the rounding of `x²` (which `exp`
//! would magnify by `x²`, up to ~700 ulp) never enters. Errors are a few ulp
//! (see the tests). f32 goes through f64 and rounds once.

/// `erf(x)/x − 1` in `t = x²`, for `|x| < 0.5`.
const SMALL: [f64; 11] = [
    0.1283791670955126,
    -0.37612638903183754,
    0.11283791670955123,
    -0.026866170645130034,
    0.005223977625403192,
    -0.0008548327016159163,
    0.00012055332131175981,
    -1.4925586560096415e-05,
    1.6459034327218912e-06,
    -1.6273138761686977e-07,
    1.3214378238338438e-08,
];

/// `erfc(x)·exp(x²)` in `x − 0.75`, for `0.5 ≤ x < 1.0`.
const MID0: [f64; 15] = [
    0.5069376502931449,
    -0.3679726916557954,
    0.2309581315512983,
    -0.12983606199487813,
    0.06679054252756783,
    -0.03189726204019368,
    0.014289198666091785,
    -0.006051532258236163,
    0.002437637348879293,
    -0.0009385135840131843,
    0.00034675112699586235,
    -0.00012332254905491935,
    4.236277872839012e-05,
    -1.4426531927022256e-05,
    4.6468063021709155e-06,
];

/// `erfc(x)·exp(x²)` in `x − 1.25`, for `1.0 ≤ x < 1.5`.
const MID1: [f64; 14] = [
    0.3678229164523611,
    -0.20882187596460985,
    0.10679557149659845,
    -0.05021827439590747,
    0.022011364250946238,
    -0.009081627632959959,
    0.003553109894683297,
    -0.0013257829272368543,
    0.0004739707006153454,
    -0.00016296012111131222,
    5.404491508514403e-05,
    -1.7341459254977562e-05,
    5.501701839828387e-06,
    -1.6610767030625112e-06,
];

/// `erfc(x)·exp(x²)` in `x − 1.75`, for `1.5 ≤ x < 2.0`.
const MID2: [f64; 14] = [
    0.2849722347374364,
    -0.1309763455144852,
    0.05576363008708723,
    -0.022259995241388317,
    0.008404319207340187,
    -0.0030209746514281146,
    0.001039204521356914,
    -0.00034353335318474803,
    0.0001095053381684006,
    -3.375536830552878e-05,
    1.0085518680104132e-05,
    -2.92763224927802e-06,
    8.406449608561853e-07,
    -2.3131132443809953e-07,
];

/// `erfc(x)·exp(x²)` in `x − 2.375`, for `2.0 ≤ x < 2.75`.
const MID3: [f64; 15] = [
    0.22050569220490668,
    -0.08097712912220592,
    0.028185010539667613,
    -0.009358486060329844,
    0.002979303073191575,
    -0.0009130565046291915,
    0.00027026462492897547,
    -7.74794334154884e-05,
    2.1562741825104055e-05,
    -5.837333142112131e-06,
    1.5398272795716446e-06,
    -3.9624737452233866e-07,
    9.968944266241095e-08,
    -2.529732617457948e-08,
    6.092021907797493e-09,
];

/// `erfc(x)·exp(x²)` in `x − 3.375`, for `2.75 ≤ x < 4.0`.
const MID4: [f64; 16] = [
    0.1606310681265444,
    -0.044119457241337846,
    0.011727899937029227,
    -0.0030251966359095945,
    0.0007589306454143947,
    -0.00018552228305012154,
    4.4264313430377405e-05,
    -1.032292155801962e-05,
    2.356112719522604e-06,
    -5.268974887594399e-07,
    1.1556987366157374e-07,
    -2.4884191192334578e-08,
    5.254797513358509e-09,
    -1.0931349260957122e-09,
    2.385985523243169e-10,
    -4.7988402915689315e-11,
];

/// `x·erfc(x)·exp(x²)` in `u = 1/x²`, for `4 ≤ x < 28`.
const TAIL: [f64; 15] = [
    0.5641895835477563,
    -0.2820947917738249,
    0.42314218762634404,
    -1.057855457528207,
    3.7024917933369497,
    -16.660914341695744,
    91.60867029485844,
    -593.8160917066522,
    4380.116092109285,
    -34834.572831866,
    274080.7338474066,
    -1907611.6822151851,
    10338791.953904454,
    -37105717.67703845,
    64379238.51819023,
];

/// `p(t)` by Horner's rule, coefficients from degree 0 up.
#[inline(always)]
fn poly(c: &[f64], t: f64) -> f64 {
    c.iter().rev().fold(0.0, |acc, &k| acc * t + k)
}

/// `exp(−x²)` for `x ≥ 0` without the rounding error of `x²`: with `z` the
/// top 21 significant bits of `x`, `z²` is exact and `x² = z² − (z − x)(z + x)`.
#[inline(always)]
fn exp_neg_square(x: f64) -> f64 {
    let z = f64::from_bits(x.to_bits() & 0xffff_ffff_0000_0000);
    (-z * z).exp() * ((z - x) * (z + x)).exp()
}

/// `erfc(x)` for `x ≥ 0.5` (and NaN).
#[inline(always)]
fn erfc_upper(x: f64) -> f64 {
    let g = if x < 1.0 {
        poly(&MID0, x - 0.75)
    } else if x < 1.5 {
        poly(&MID1, x - 1.25)
    } else if x < 2.0 {
        poly(&MID2, x - 1.75)
    } else if x < 2.75 {
        poly(&MID3, x - 2.375)
    } else if x < 4.0 {
        poly(&MID4, x - 3.375)
    } else if x < 28.0 {
        poly(&TAIL, 1.0 / (x * x)) / x
    } else {
        // erfc(28) ≈ 7e-343 is below the smallest subnormal (NaN stays NaN).
        return if x.is_nan() { x } else { 0.0 };
    };
    exp_neg_square(x) * g
}

/// `erf(x)` for `|x| < 0.5`.
#[inline(always)]
fn erf_small(x: f64) -> f64 {
    x + x * poly(&SMALL, x * x)
}

/// The error function `erf(x) = 2/√π ∫₀ˣ e^(−t²) dt` in f64, within a few ulp;
/// `±1` for `|x| ≥ 6`, NaN for NaN.
pub fn erf_f64(x: f64) -> f64 {
    let a = x.abs();
    if a < 0.5 {
        erf_small(x)
    } else if a < 6.0 {
        let r = 1.0 - erfc_upper(a);
        if x < 0.0 {
            -r
        } else {
            r
        }
    } else if a.is_nan() {
        x
    } else {
        1.0f64.copysign(x)
    }
}

/// The complementary error function `erfc(x) = 1 − erf(x)` in f64, within a
/// few ulp of its own (small) value for large `x`; 0 for `x ≥ 28`, 2 for
/// `x ≤ −6`, NaN for NaN.
pub fn erfc_f64(x: f64) -> f64 {
    if x.abs() < 0.5 {
        1.0 - erf_small(x)
    } else if x > 0.0 || x.is_nan() {
        erfc_upper(x)
    } else {
        2.0 - erfc_upper(-x)
    }
}

/// [`erf_f64`] for f32, rounded once: within 1 ulp.
pub fn erf_f32(x: f32) -> f32 {
    erf_f64(f64::from(x)) as f32
}

/// [`erfc_f64`] for f32, rounded once: within 1 ulp.
pub fn erfc_f32(x: f32) -> f32 {
    erfc_f64(f64::from(x)) as f32
}
