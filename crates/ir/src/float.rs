/// The element types gradc computes in: `f32` and `f64`.
///
/// The interpreter is generic over it; the methods are the handful of
/// operations the primitive ops need.
pub trait Float:
    Copy
    + PartialOrd
    + std::fmt::Debug
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::Div<Output = Self>
    + std::ops::Neg<Output = Self>
    + std::ops::AddAssign
    + Send
    + Sync
    + 'static
    + gradc_runtime::Elem
{
    /// The additive identity.
    const ZERO: Self;
    /// The multiplicative identity.
    const ONE: Self;
    /// `v` rounded to this type.
    fn from_f64(v: f64) -> Self;
    /// `self` widened to `f64`.
    fn to_f64(self) -> f64;
    /// `exp`, `ln`, `ln_1p`, `tanh`, `sigmoid` and `softplus` are the runtime's
    /// kernels, the functions generated code calls, so the interpreter and
    /// compiled code agree bit for bit.
    fn exp(self) -> Self;
    /// The natural logarithm (the runtime kernel, as `exp`).
    fn ln(self) -> Self;
    /// `ln(1 + x)`, accurate near 0 (the runtime kernel).
    fn ln_1p(self) -> Self;
    /// `eˣ − 1`, accurate near 0.
    fn exp_m1(self) -> Self;
    /// The error function (`gradc_runtime::erf_f32`, `erf_f64`).
    fn erf(self) -> Self;
    /// `1 − erf(x)`, accurate where it is small.
    fn erfc(self) -> Self;
    /// The hyperbolic tangent (the runtime kernel).
    fn tanh(self) -> Self;
    /// The logistic sigmoid (`gradc_runtime::sigmoid_f32`, `sigmoid_f64`).
    fn sigmoid(self) -> Self;
    /// `ln(1 + eˣ)` (`gradc_runtime::softplus_f32`, `softplus_f64`).
    fn softplus(self) -> Self;
    /// The square root.
    fn sqrt(self) -> Self;
    /// `self` to the integer power `n`.
    fn powi(self, n: i32) -> Self;
    /// The absolute value.
    fn abs(self) -> Self;
    /// The larger of `self` and `other`; a NaN operand gives the other.
    fn max(self, other: Self) -> Self;
    /// Neither infinite nor NaN.
    fn is_finite(self) -> bool;
}

macro_rules! impl_float {
    ($t:ty, $exp:ident, $ln:ident, $ln_1p:ident, $tanh:ident, $sigmoid:ident, $softplus:ident, $erf:ident, $erfc:ident) => {
        impl Float for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline]
            fn exp(self) -> Self {
                gradc_runtime::$exp(self)
            }
            #[inline]
            fn ln(self) -> Self {
                gradc_runtime::$ln(self)
            }
            #[inline]
            fn ln_1p(self) -> Self {
                gradc_runtime::$ln_1p(self)
            }
            fn exp_m1(self) -> Self {
                <$t>::exp_m1(self)
            }
            fn erf(self) -> Self {
                gradc_runtime::$erf(self)
            }
            fn erfc(self) -> Self {
                gradc_runtime::$erfc(self)
            }
            #[inline]
            fn tanh(self) -> Self {
                gradc_runtime::$tanh(self)
            }
            #[inline]
            fn sigmoid(self) -> Self {
                gradc_runtime::$sigmoid(self)
            }
            #[inline]
            fn softplus(self) -> Self {
                gradc_runtime::$softplus(self)
            }
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            fn powi(self, n: i32) -> Self {
                <$t>::powi(self, n)
            }
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            fn max(self, other: Self) -> Self {
                <$t>::max(self, other)
            }
            fn is_finite(self) -> bool {
                <$t>::is_finite(self)
            }
        }
    };
}

impl_float!(
    f32,
    exp_f32,
    ln_f32,
    ln_1p_f32,
    tanh_f32,
    sigmoid_f32,
    softplus_f32,
    erf_f32,
    erfc_f32
);
impl_float!(
    f64,
    exp_f64,
    ln_f64,
    ln_1p_f64,
    tanh_f64,
    sigmoid_f64,
    softplus_f64,
    erf_f64,
    erfc_f64
);

/// Logistic sigmoid that never overflows: `exp` is only taken of a
/// non-positive number (the runtime's kernel, see [`Float::sigmoid`]).
#[inline]
pub fn sigmoid<T: Float>(x: T) -> T {
    x.sigmoid()
}

/// `ln(1 + exp(x))` without overflow: `max(x, 0) + ln(1 + exp(-|x|))`.
#[inline]
pub fn softplus<T: Float>(x: T) -> T {
    x.softplus()
}

/// `x·σ(x)` (SiLU, swish), exactly as written: the `silu-recognize` rule
/// relies on it being bit-identical to `x * sigmoid(x)`.
pub fn silu<T: Float>(x: T) -> T {
    x * sigmoid(x)
}

/// ELU with α = 1: `x` for `x > 0`, else `eˣ − 1` (by `exp_m1`, accurate near 0).
pub fn elu<T: Float>(x: T) -> T {
    if x > T::ZERO {
        x
    } else {
        x.exp_m1()
    }
}

/// The standard normal CDF `Φ(x) = erfc(−x/√2)/2`: through `erfc`, so the
/// left tail keeps its relative accuracy (`(1 + erf)/2` would cancel).
pub fn normal_cdf<T: Float>(x: T) -> T {
    T::from_f64(0.5) * (-x * T::from_f64(std::f64::consts::FRAC_1_SQRT_2)).erfc()
}

/// GELU with the exact normal CDF, `x·Φ(x)` (PyTorch's default `gelu`).
pub fn gelu<T: Float>(x: T) -> T {
    x * normal_cdf(x)
}

/// `2·√(2/π)`, the scale of the tanh approximation's argument as a sigmoid's.
pub(crate) const GELU_TANH_K: f64 = 1.595_769_121_605_730_8;
/// The cubic coefficient of the tanh approximation.
pub(crate) const GELU_TANH_C: f64 = 0.044_715;

/// GELU's tanh approximation `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`,
/// computed as `x·σ(2·√(2/π)·(x + 0.044715·x³))` (the same function, since
/// `(1 + tanh u)/2 = σ(2u)`), which does not cancel for negative x.
pub fn gelu_tanh<T: Float>(x: T) -> T {
    x * sigmoid(gelu_tanh_arg(x))
}

/// `2·√(2/π)·(x + 0.044715·x³)`.
pub(crate) fn gelu_tanh_arg<T: Float>(x: T) -> T {
    T::from_f64(GELU_TANH_K) * (x + T::from_f64(GELU_TANH_C) * (x * x * x))
}
