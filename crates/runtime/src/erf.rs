//! The error function `erf` and its complement `erfc`, for `gelu`'s normal
//! CDF `Φ(x) = erfc(−x/√2)/2`. Rust's std has neither.
//!
//! f64: polynomials fitted (Chebyshev, then read as monomials) to `erf(x)/x`
//! near 0 and to `erfc(x)·exp(x²)` on five intervals up to 4 and in `1/x²`
//! beyond, so `erfc` keeps its full relative accuracy deep in the tail where
//! `1 − erf` would cancel. `exp(−x²)` is taken as `exp(−z²)·exp((z − x)(z + x))`
//! with `z` the top 21 bits of `x`, so that the rounding of `x²` (which `exp`
//! would magnify by `x²`, up to ~700 ulp) never enters. Errors are a few ulp
//! (see the tests).
//!
//! f32: one branch-free approximation, `erfc(a) = exp(−a²)·t·S(t)` with
//! `t = 1/(1 + a/2)` and `erf(x) = x·P(x²)` near 0, evaluated in f64 (`a²` is
//! exact there) and rounded once, so a loop over a slice vectorises.

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

/// `erfc(a)·exp(a²)/t` with `t = 1/(1 + a/2)`, as a polynomial in
/// `u = 2.380952380952381·t − 1.380952380952381` (`t` from `a = 10.5` to 0
/// mapped onto `[−1, 1]`); relative error 1.8e-10 for `0 ≤ a ≤ 10.5`.
const ERFC_S: [f64; 13] = [
    0.569_408_722_385_401_2,
    0.327_187_930_344_451_37,
    0.103_520_998_194_961_06,
    0.006_307_950_007_644_726_5,
    -0.006_327_403_685_100_572,
    -0.000_672_212_330_139_937,
    0.000_625_477_151_351_182_8,
    3.727_660_717_202_505_7e-6,
    -7.187_688_901_871_254e-5,
    1.262_579_563_887_220_3e-5,
    6.569_494_947_244_451e-6,
    -2.208_290_605_724_851e-6,
    -2.999_885_488_800_932_3e-7,
];

/// `erf(x)/x` in `z = x²` for `|x| ≤ 0.5`, relative error 1e-15.
const ERF_P: [f64; 8] = [
    std::f64::consts::FRAC_2_SQRT_PI,
    -0.376_126_389_031_460_9,
    0.112_837_916_678_147_48,
    -0.026_866_169_647_523_884,
    0.005_223_962_038_093_709,
    -0.000_854_700_105_831_110_2,
    0.000_119_925_602_725_398_28,
    -1.336_190_976_769_278e-5,
];

#[inline(always)]
fn horner<const N: usize>(c: &[f64; N], x: f64) -> f64 {
    let mut s = c[N - 1];
    for &ci in c[..N - 1].iter().rev() {
        s = s * x + ci;
    }
    s
}

/// `exp(y)` for `−121 ≤ y ≤ 0` (NaN for NaN), branch-free: Cody–Waite
/// reduction and a degree-11 Taylor polynomial (error below 1e-13, far under
/// an f32 ulp). The f32 kernels' f64 intermediate, so a loop vectorises.
#[inline(always)]
fn exp_neg_f64(y: f64) -> f64 {
    const LN2_HI: f64 = 6.931_471_803_691_238e-1;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    // Round to nearest by the 1.5·2⁵² trick; the low bits of `big` hold k.
    const SHIFT: f64 = 6_755_399_441_055_744.0;
    let big = y * std::f64::consts::LOG2_E + SHIFT;
    let k = big - SHIFT;
    let r = (y - k * LN2_HI) - k * LN2_LO;
    let mut p = 1.0 / 39_916_800.0;
    for d in [
        3_628_800.0,
        362_880.0,
        40_320.0,
        5_040.0,
        720.0,
        120.0,
        24.0,
        6.0,
        2.0,
        1.0,
        1.0,
    ] {
        p = p * r + 1.0 / d;
    }
    // 2ᵏ from the exponent bits; k ≥ −175 stays a normal f64.
    let two_k = f64::from_bits(((big.to_bits() as i64 as i32 as i64 + 1023) as u64) << 52);
    p * two_k
}

/// `erfc(|x|)` in f64 for the f32 kernels: `exp(−a²)·t·S(u)`, with `a²`
/// exact (an f32 squared fits in f64) and `a` clamped where f32 `erfc` is 0.
#[inline(always)]
fn erfc_abs_for_f32(x: f64) -> f64 {
    let a = x.abs().min(10.5);
    let t = 1.0 / (1.0 + 0.5 * a);
    let u = 2.380_952_380_952_381 * t - 1.380_952_380_952_381;
    // `min` would turn a NaN into 10.5: keep NaN flowing.
    let a = if x.is_nan() { x } else { a };
    exp_neg_f64(-(a * a)) * t * horner(&ERFC_S, u)
}

/// The error function in f32: branch-free and vectorisable (both branches are
/// computed and one is selected), evaluated in f64 and rounded once, so within
/// 1 ulp (see `tests/erf.rs`); `±1` beyond `|x| ≈ 3.9`, NaN for NaN.
#[inline(always)]
pub fn erf_f32(x: f32) -> f32 {
    let x = f64::from(x);
    let small = x * horner(&ERF_P, x * x);
    let big = (1.0 - erfc_abs_for_f32(x)).copysign(x);
    (if x.abs() <= 0.5 { small } else { big }) as f32
}

/// The complementary error function in f32, branch-free and vectorisable like
/// [`erf_f32`], with full relative accuracy in the right tail: within 1 ulp;
/// 0 beyond `x ≈ 10.05`, 2 below `x ≈ −3.9`, NaN for NaN.
#[inline(always)]
pub fn erfc_f32(x: f32) -> f32 {
    let x = f64::from(x);
    let c = erfc_abs_for_f32(x);
    (if x < 0.0 { 2.0 - c } else { c }) as f32
}
