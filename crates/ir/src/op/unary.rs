//! Unary elementwise ops: everything about one is written here, once: its
//! name, cost, value, derivative (scalar, for the interpreter, and symbolic, for
//! autodiff) and how provenance spells it. Codegen's spelling of the value is the
//! one thing that lives elsewhere (`gradc_codegen`, which may name quote).

use super::{BinaryOp, Build, Const, Names, Op};
use crate::float::{gelu_tanh_arg, GELU_TANH_C, GELU_TANH_K};
use crate::{elu, gelu, gelu_tanh, normal_cdf, sigmoid, silu, softplus, Float, IrError, NodeId};

/// `1/√(2π)`, the normal density's scale.
const FRAC_1_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

/// An op applied to each element of one operand independently; the result has
/// the operand's shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UnaryOp {
    /// `-x`.
    Neg,
    /// `max(x, 0)`; its derivative at 0 is 0.
    Relu,
    /// The logistic sigmoid `1 / (1 + e⁻ˣ)`, computed without overflow.
    Sigmoid,
    /// The hyperbolic tangent.
    Tanh,
    /// `eˣ`.
    Exp,
    /// The natural logarithm.
    Ln,
    /// `ln(1 + eˣ)`, computed without overflow.
    Softplus,
    /// The square root.
    Sqrt,
    /// `xⁿ` for an integer literal `n`.
    Powi(i32),
    /// `|x|`; its derivative is sign(x), 0 at 0.
    Abs,
    /// `x` if `x > 0` else `s·x`, for a literal slope `s`; the derivative at
    /// 0 is `s`.
    LeakyRelu(Const),
    /// `x` if `x > 0` else `eˣ − 1` (α = 1).
    Elu,
    /// `x·Φ(x)` with the exact normal CDF Φ.
    Gelu,
    /// GELU's tanh approximation (see [`crate::gelu_tanh`]).
    GeluTanh,
    /// `x·σ(x)`.
    Silu,
    /// `x` limited to `[lo, hi]` (literals, `lo ≤ hi`): `min(max(x, lo), hi)`,
    /// so NaN gives `lo`; gradient 1 strictly inside, 0 outside and at a bound.
    Clamp(Const, Const),
    /// `ln(1 + x)`, accurate near 0.
    Ln1p,
    /// The standard normal CDF Φ: what `gelu`'s derivative needs; not a
    /// function of the body.
    NormalCdf,
}

/// A function over one scalar, handed to [`UnaryOp::with_fn`]: `call` runs once
/// per op with a closure the compiler can inline into a loop.
pub trait UnaryKernel<T> {
    /// What `call` returns.
    type Out;
    /// Runs the kernel with the op's scalar function.
    fn call(self, f: impl Fn(T) -> T + Copy) -> Self::Out;
}

/// A derivative `(g, x, y) ↦ dL/dx`, handed to [`UnaryOp::with_vjp`].
pub trait UnaryVjpKernel<T> {
    /// What `call` returns.
    type Out;
    /// Runs the kernel with the derivative.
    fn call(self, f: impl Fn(T, T, T) -> T + Copy) -> Self::Out;
}

impl UnaryOp {
    /// Every op that carries no data, in declaration order: the ones a name
    /// alone identifies.
    pub const PLAIN: [UnaryOp; 15] = [
        UnaryOp::Neg,
        UnaryOp::Relu,
        UnaryOp::Sigmoid,
        UnaryOp::Tanh,
        UnaryOp::Exp,
        UnaryOp::Ln,
        UnaryOp::Softplus,
        UnaryOp::Sqrt,
        UnaryOp::Abs,
        UnaryOp::Elu,
        UnaryOp::Gelu,
        UnaryOp::GeluTanh,
        UnaryOp::Silu,
        UnaryOp::Ln1p,
        UnaryOp::NormalCdf,
    ];

    /// The name in the text form, the e-graph language, reports, and (for
    /// [`UnaryOp::is_function`] ops) the network body.
    pub const fn name(self) -> &'static str {
        match self {
            UnaryOp::Neg => "neg",
            UnaryOp::Relu => "relu",
            UnaryOp::Sigmoid => "sigmoid",
            UnaryOp::Tanh => "tanh",
            UnaryOp::Exp => "exp",
            UnaryOp::Ln => "ln",
            UnaryOp::Softplus => "softplus",
            UnaryOp::Sqrt => "sqrt",
            UnaryOp::Powi(_) => "powi",
            UnaryOp::Abs => "abs",
            UnaryOp::LeakyRelu(_) => "leaky_relu",
            UnaryOp::Elu => "elu",
            UnaryOp::Gelu => "gelu",
            UnaryOp::GeluTanh => "gelu_tanh",
            UnaryOp::Silu => "silu",
            UnaryOp::Clamp(..) => "clamp",
            UnaryOp::Ln1p => "ln_1p",
            UnaryOp::NormalCdf => "normal_cdf",
        }
    }

    /// The op with this name among [`UnaryOp::PLAIN`].
    pub fn from_name(name: &str) -> Option<UnaryOp> {
        Self::PLAIN.into_iter().find(|u| u.name() == name)
    }

    /// Whether the body calls it by its name with the operand alone, as
    /// `name(x)` or `x.name()`: all but `neg` (written `-x`), the ops with
    /// literal data (`powi`, `leaky_relu`, `clamp`: the frontend lists them
    /// with their parameters) and `normal_cdf` (internal to `gelu`'s derivative).
    pub fn is_function(self) -> bool {
        match self {
            UnaryOp::Neg
            | UnaryOp::Powi(_)
            | UnaryOp::LeakyRelu(_)
            | UnaryOp::Clamp(..)
            | UnaryOp::NormalCdf => false,
            UnaryOp::Relu
            | UnaryOp::Sigmoid
            | UnaryOp::Tanh
            | UnaryOp::Exp
            | UnaryOp::Ln
            | UnaryOp::Softplus
            | UnaryOp::Sqrt
            | UnaryOp::Abs
            | UnaryOp::Elu
            | UnaryOp::Gelu
            | UnaryOp::GeluTanh
            | UnaryOp::Silu
            | UnaryOp::Ln1p => true,
        }
    }

    /// Floating-point operations per element (see `gradc_opt::cost`): one for
    /// each arithmetic step or `exp`/`ln`/`sqrt`/`tanh`/`erfc` (and their
    /// `exp_m1`/`ln_1p` twins); selects and `abs` count 0.
    pub fn flops(self) -> u64 {
        match self {
            UnaryOp::Relu | UnaryOp::Abs | UnaryOp::Clamp(..) => 0,
            UnaryOp::Neg | UnaryOp::Exp | UnaryOp::Ln | UnaryOp::Sqrt | UnaryOp::Tanh => 1,
            // A multiply, or exp_m1, on one side of a select.
            UnaryOp::LeakyRelu(_) | UnaryOp::Elu | UnaryOp::Ln1p => 1,
            // Scale, erfc, halve.
            UnaryOp::NormalCdf => 3,
            // Φ and a multiply; sigmoid and a multiply.
            UnaryOp::Gelu | UnaryOp::Silu => 4,
            // x³ (2), scale, add, scale, sigmoid (3), multiply.
            UnaryOp::GeluTanh => 9,
            // exp, add, divide.
            UnaryOp::Sigmoid => 3,
            // max(x, 0) + ln_1p(exp(−|x|)): exp, ln_1p, add (max and abs are selects).
            UnaryOp::Softplus => 3,
            // Repeated multiplication; a negative exponent adds a reciprocal.
            UnaryOp::Powi(k) => u64::from(k.unsigned_abs().max(2) - 1) + u64::from(k < 0),
        }
    }

    /// Whether the result is correctly rounded by IEEE 754, so that folding it
    /// at compile time gives exactly what the generated code computes.
    pub fn is_exactly_rounded(self) -> bool {
        match self {
            // A select, a sign bit, or one IEEE multiply.
            UnaryOp::Neg
            | UnaryOp::Sqrt
            | UnaryOp::Abs
            | UnaryOp::LeakyRelu(_)
            | UnaryOp::Clamp(..) => true,
            UnaryOp::Relu
            | UnaryOp::Sigmoid
            | UnaryOp::Tanh
            | UnaryOp::Exp
            | UnaryOp::Ln
            | UnaryOp::Softplus
            | UnaryOp::Powi(_)
            | UnaryOp::Elu
            | UnaryOp::Gelu
            | UnaryOp::GeluTanh
            | UnaryOp::Silu
            | UnaryOp::Ln1p
            | UnaryOp::NormalCdf => false,
        }
    }

    /// Runs `k` with this op's scalar function. One arm per op, so a caller's
    /// loop is compiled once per op with the function inlined, never matching
    /// the op per element.
    #[inline(always)]
    pub fn with_fn<T: Float, K: UnaryKernel<T>>(self, k: K) -> K::Out {
        match self {
            UnaryOp::Neg => k.call(|v: T| -v),
            UnaryOp::Relu => k.call(|v: T| if v > T::ZERO { v } else { T::ZERO }),
            UnaryOp::Sigmoid => k.call(sigmoid),
            UnaryOp::Tanh => k.call(T::tanh),
            UnaryOp::Exp => k.call(T::exp),
            UnaryOp::Ln => k.call(T::ln),
            UnaryOp::Softplus => k.call(softplus),
            UnaryOp::Sqrt => k.call(T::sqrt),
            UnaryOp::Powi(n) => k.call(move |v: T| v.powi(n)),
            UnaryOp::Abs => k.call(T::abs),
            UnaryOp::LeakyRelu(s) => {
                let s = T::from_f64(s.value());
                k.call(move |v: T| if v > T::ZERO { v } else { s * v })
            }
            UnaryOp::Elu => k.call(elu),
            UnaryOp::Gelu => k.call(gelu),
            UnaryOp::GeluTanh => k.call(gelu_tanh),
            UnaryOp::Silu => k.call(silu),
            UnaryOp::Clamp(lo, hi) => {
                let (lo, hi) = (T::from_f64(lo.value()), T::from_f64(hi.value()));
                k.call(move |v: T| clamp(v, lo, hi))
            }
            UnaryOp::Ln1p => k.call(T::ln_1p),
            UnaryOp::NormalCdf => k.call(normal_cdf),
        }
    }

    /// The value at one point.
    pub fn eval<T: Float>(self, x: T) -> T {
        struct At<T>(T);
        impl<T: Float> UnaryKernel<T> for At<T> {
            type Out = T;
            fn call(self, f: impl Fn(T) -> T + Copy) -> T {
                f(self.0)
            }
        }
        self.with_fn(At(x))
    }

    /// Whether the op passes a gradient to its operand: every unary op does
    /// (`powi 0` passes zero, which [`UnaryOp::vjp`] writes as nothing).
    pub fn has_gradient(self) -> bool {
        match self {
            UnaryOp::Neg
            | UnaryOp::Relu
            | UnaryOp::Sigmoid
            | UnaryOp::Tanh
            | UnaryOp::Exp
            | UnaryOp::Ln
            | UnaryOp::Softplus
            | UnaryOp::Sqrt
            | UnaryOp::Powi(_)
            | UnaryOp::Abs
            | UnaryOp::LeakyRelu(_)
            | UnaryOp::Elu
            | UnaryOp::Gelu
            | UnaryOp::GeluTanh
            | UnaryOp::Silu
            | UnaryOp::Clamp(..)
            | UnaryOp::Ln1p
            | UnaryOp::NormalCdf => true,
        }
    }

    /// Runs `k` with `(g, x, y) ↦ dL/dx` for output adjoint `g`, operand `x` and
    /// value `y`; `None` where the op passes no gradient. The formulas are the
    /// VJP table of ARCHITECTURE.md and match [`UnaryOp::vjp`] term by term.
    #[inline(always)]
    pub fn with_vjp<T: Float, K: UnaryVjpKernel<T>>(self, k: K) -> Option<K::Out> {
        Some(match self {
            // −g
            UnaryOp::Neg => k.call(|g: T, _, _| -g),
            // g·gt(y, 0), so relu'(0) = 0
            UnaryOp::Relu => k.call(|g: T, _, y: T| if y > T::ZERO { g } else { T::ZERO }),
            // g·y·(1 − y)
            UnaryOp::Sigmoid => k.call(|g: T, _, y: T| g * y * (T::ONE - y)),
            // g·(1 − y·y)
            UnaryOp::Tanh => k.call(|g: T, _, y: T| g * (T::ONE - y * y)),
            // g·y
            UnaryOp::Exp => k.call(|g: T, _, y: T| g * y),
            // g / x
            UnaryOp::Ln => k.call(|g: T, x: T, _| g / x),
            // g·sigmoid(x)
            UnaryOp::Softplus => k.call(|g: T, x: T, _| g * sigmoid(x)),
            // (g·0.5) / y
            UnaryOp::Sqrt => k.call(|g: T, _, y: T| g * T::from_f64(0.5) / y),
            // g·(n·xⁿ⁻¹); n = 0: none; n = 1: g
            UnaryOp::Powi(0) => return None,
            UnaryOp::Powi(1) => k.call(|g: T, _, _| g),
            UnaryOp::Powi(n) => {
                let nf = T::from_f64(f64::from(n));
                k.call(move |g: T, x: T, _| g * (nf * x.powi(n - 1)))
            }
            // g·(gt(x, 0) − gt(0, x)): sign(x), 0 at 0
            UnaryOp::Abs => k.call(|g: T, x: T, _| g * (step(x, T::ZERO) - step(T::ZERO, x))),
            // g·(m + s·(1 − m)), m = gt(x, 0): 1 or s, s at 0
            UnaryOp::LeakyRelu(s) => {
                let s = T::from_f64(s.value());
                k.call(move |g: T, x: T, _| {
                    let m = step(x, T::ZERO);
                    g * (m + s * (T::ONE - m))
                })
            }
            // g·(min(y, 0) + 1): 1 for x > 0, eˣ = y + 1 otherwise
            UnaryOp::Elu => k.call(|g: T, _, y: T| g * (min(y, T::ZERO) + T::ONE)),
            // g·(Φ(x) + x·φ(x)), φ(x) = e^(−x²/2)/√(2π)
            UnaryOp::Gelu => k.call(|g: T, x: T, _| g * (normal_cdf(x) + x * density(x))),
            // g·(s + y·(1 − s)·k·(1 + 3c·x²)), s = σ(k·(x + c·x³))
            UnaryOp::GeluTanh => k.call(|g: T, x: T, y: T| {
                let s = sigmoid(gelu_tanh_arg(x));
                g * (s + y * (T::ONE - s) * gelu_tanh_slope(x))
            }),
            // g·σ(x)·(1 + (x − y))
            UnaryOp::Silu => k.call(|g: T, x: T, y: T| g * (sigmoid(x) * (T::ONE + (x - y)))),
            // g·gt(x, lo)·gt(hi, x)
            UnaryOp::Clamp(lo, hi) => {
                let (lo, hi) = (T::from_f64(lo.value()), T::from_f64(hi.value()));
                k.call(move |g: T, x: T, _| g * (step(x, lo) * step(hi, x)))
            }
            // g / (1 + x)
            UnaryOp::Ln1p => k.call(|g: T, x: T, _| g / (T::ONE + x)),
            // g·φ(x)
            UnaryOp::NormalCdf => k.call(|g: T, x: T, _| g * density(x)),
        })
    }

    /// The symbolic vector-Jacobian product: the adjoint contribution of operand
    /// `x` given the node `y` and its adjoint `g`, built into `b`; `None` where the
    /// op passes no gradient. Derivatives reuse the forward value `y` where they can.
    pub fn vjp<B: Build>(
        self,
        b: &mut B,
        x: NodeId,
        y: NodeId,
        g: NodeId,
    ) -> Result<Option<NodeId>, IrError> {
        let d = match self {
            // −g
            UnaryOp::Neg => b.node(UnaryOp::Neg, &[g])?,
            // g·gt(y, 0), so relu'(0) = 0
            UnaryOp::Relu => {
                let zero = b.constant(0.0);
                let mask = b.node(super::BinaryOp::Gt, &[y, zero])?;
                b.node(super::BinaryOp::Mul, &[g, mask])?
            }
            // g·y·(1 − y)
            UnaryOp::Sigmoid => {
                let one = b.constant(1.0);
                let gy = b.node(super::BinaryOp::Mul, &[g, y])?;
                let om = b.node(super::BinaryOp::Sub, &[one, y])?;
                b.node(super::BinaryOp::Mul, &[gy, om])?
            }
            // g·(1 − y·y)
            UnaryOp::Tanh => {
                let one = b.constant(1.0);
                let yy = b.node(super::BinaryOp::Mul, &[y, y])?;
                let om = b.node(super::BinaryOp::Sub, &[one, yy])?;
                b.node(super::BinaryOp::Mul, &[g, om])?
            }
            // g·y
            UnaryOp::Exp => b.node(super::BinaryOp::Mul, &[g, y])?,
            // g / x
            UnaryOp::Ln => b.node(super::BinaryOp::Div, &[g, x])?,
            // g·sigmoid(x)
            UnaryOp::Softplus => {
                let s = b.node(UnaryOp::Sigmoid, &[x])?;
                b.node(super::BinaryOp::Mul, &[g, s])?
            }
            // (g·0.5) / y
            UnaryOp::Sqrt => {
                let half = b.constant(0.5);
                let gh = b.node(super::BinaryOp::Mul, &[g, half])?;
                b.node(super::BinaryOp::Div, &[gh, y])?
            }
            // g·(n·xⁿ⁻¹); n = 0: none; n = 1: g (x¹ is written x)
            UnaryOp::Powi(0) => return Ok(None),
            UnaryOp::Powi(1) => g,
            UnaryOp::Powi(n) => {
                let p = if n == 2 {
                    x
                } else {
                    b.node(UnaryOp::Powi(n - 1), &[x])?
                };
                let c = b.constant(f64::from(n));
                let np = b.node(super::BinaryOp::Mul, &[c, p])?;
                b.node(super::BinaryOp::Mul, &[g, np])?
            }
            // g·(gt(x, 0) − gt(0, x)): sign(x), 0 at 0
            UnaryOp::Abs => {
                let zero = b.constant(0.0);
                let pos = b.node(BinaryOp::Gt, &[x, zero])?;
                let neg = b.node(BinaryOp::Gt, &[zero, x])?;
                let sign = b.node(BinaryOp::Sub, &[pos, neg])?;
                b.node(BinaryOp::Mul, &[g, sign])?
            }
            // g·(m + s·(1 − m)), m = gt(x, 0): 1 or s, s at 0 (x, not y:
            // for s ≤ 0 the sign of y does not tell the side)
            UnaryOp::LeakyRelu(s) => {
                let (zero, one) = (b.constant(0.0), b.constant(1.0));
                let sc = b.constant(s.value());
                let m = b.node(BinaryOp::Gt, &[x, zero])?;
                let om = b.node(BinaryOp::Sub, &[one, m])?;
                let som = b.node(BinaryOp::Mul, &[sc, om])?;
                let d = b.node(BinaryOp::Add, &[m, som])?;
                b.node(BinaryOp::Mul, &[g, d])?
            }
            // g·(min(y, 0) + 1): 1 for x > 0, eˣ = y + 1 otherwise
            UnaryOp::Elu => {
                let (zero, one) = (b.constant(0.0), b.constant(1.0));
                let m = b.node(BinaryOp::Min, &[y, zero])?;
                let d = b.node(BinaryOp::Add, &[m, one])?;
                b.node(BinaryOp::Mul, &[g, d])?
            }
            // g·(Φ(x) + x·φ(x)), φ(x) = e^(−x²/2)/√(2π)
            UnaryOp::Gelu => {
                let cdf = b.node(UnaryOp::NormalCdf, &[x])?;
                let pdf = density_node(b, x)?;
                let xp = b.node(BinaryOp::Mul, &[x, pdf])?;
                let d = b.node(BinaryOp::Add, &[cdf, xp])?;
                b.node(BinaryOp::Mul, &[g, d])?
            }
            // g·(s + y·(1 − s)·k·(1 + 3c·x²)), s = σ(k·(x + c·x³)): the
            // derivative of x·s with s' = s·(1 − s)·k·(1 + 3c·x²) and x·s = y
            UnaryOp::GeluTanh => {
                let one = b.constant(1.0);
                let (c, kc) = (b.constant(GELU_TANH_C), b.constant(GELU_TANH_K));
                let xx = b.node(BinaryOp::Mul, &[x, x])?;
                let x3 = b.node(BinaryOp::Mul, &[xx, x])?;
                let cx3 = b.node(BinaryOp::Mul, &[c, x3])?;
                let inner = b.node(BinaryOp::Add, &[x, cx3])?;
                let arg = b.node(BinaryOp::Mul, &[kc, inner])?;
                let s = b.node(UnaryOp::Sigmoid, &[arg])?;
                let c3 = b.constant(3.0 * GELU_TANH_C);
                let c3xx = b.node(BinaryOp::Mul, &[c3, xx])?;
                let t = b.node(BinaryOp::Add, &[one, c3xx])?;
                let slope = b.node(BinaryOp::Mul, &[kc, t])?;
                let os = b.node(BinaryOp::Sub, &[one, s])?;
                let yos = b.node(BinaryOp::Mul, &[y, os])?;
                let r = b.node(BinaryOp::Mul, &[yos, slope])?;
                let d = b.node(BinaryOp::Add, &[s, r])?;
                b.node(BinaryOp::Mul, &[g, d])?
            }
            // g·σ(x)·(1 + (x − y)): σ + x·σ·(1 − σ) with x·σ = y
            UnaryOp::Silu => {
                let one = b.constant(1.0);
                let s = b.node(UnaryOp::Sigmoid, &[x])?;
                let xy = b.node(BinaryOp::Sub, &[x, y])?;
                let t = b.node(BinaryOp::Add, &[one, xy])?;
                let d = b.node(BinaryOp::Mul, &[s, t])?;
                b.node(BinaryOp::Mul, &[g, d])?
            }
            // g·gt(x, lo)·gt(hi, x)
            UnaryOp::Clamp(lo, hi) => {
                let (lc, hc) = (b.constant(lo.value()), b.constant(hi.value()));
                let above = b.node(BinaryOp::Gt, &[x, lc])?;
                let below = b.node(BinaryOp::Gt, &[hc, x])?;
                let m = b.node(BinaryOp::Mul, &[above, below])?;
                b.node(BinaryOp::Mul, &[g, m])?
            }
            // g / (1 + x)
            UnaryOp::Ln1p => {
                let one = b.constant(1.0);
                let d = b.node(BinaryOp::Add, &[one, x])?;
                b.node(BinaryOp::Div, &[g, d])?
            }
            // g·φ(x)
            UnaryOp::NormalCdf => {
                let pdf = density_node(b, x)?;
                b.node(BinaryOp::Mul, &[g, pdf])?
            }
        };
        Ok(Some(d))
    }

    /// How provenance spells the value: `−x`, `x²`, `tanh(x)`.
    pub fn describe(self, n: &Names) -> String {
        match self {
            UnaryOp::Neg => format!("−{}", n.x[0]),
            UnaryOp::Powi(2) => format!("{}²", n.x[0]),
            UnaryOp::Powi(k) => format!("{}^{k}", n.x[0]),
            UnaryOp::Relu
            | UnaryOp::Sigmoid
            | UnaryOp::Tanh
            | UnaryOp::Exp
            | UnaryOp::Ln
            | UnaryOp::Softplus
            | UnaryOp::Sqrt
            | UnaryOp::Abs
            | UnaryOp::Elu
            | UnaryOp::Gelu
            | UnaryOp::GeluTanh
            | UnaryOp::Silu
            | UnaryOp::Ln1p
            | UnaryOp::NormalCdf => format!("{}({})", self.name(), n.bare[0]),
            UnaryOp::LeakyRelu(s) => format!("leaky_relu({}, {s:?})", n.bare[0]),
            UnaryOp::Clamp(lo, hi) => format!("clamp({}, {lo:?}, {hi:?})", n.bare[0]),
        }
    }

    /// The chain-rule term the operand receives, as provenance text.
    pub fn chain_rule(self, n: &Names) -> String {
        let (g, y, x) = (&n.g, &n.y, &n.x[0]);
        match self {
            UnaryOp::Neg => format!("−{g}"),
            UnaryOp::Relu => format!("{g} · ({y} > 0)"),
            UnaryOp::Sigmoid => format!("{g} · {y}·(1 − {y})"),
            UnaryOp::Tanh => format!("{g} · (1 − {y}²)"),
            UnaryOp::Exp => format!("{g} · {y}"),
            UnaryOp::Ln => format!("{g} / {x}"),
            UnaryOp::Softplus => format!("{g} · sigmoid({})", n.bare[0]),
            UnaryOp::Sqrt => format!("{g} · 0.5 / {y}"),
            UnaryOp::Powi(1) => g.clone(),
            UnaryOp::Powi(2) => format!("{g} · 2·{x}"),
            UnaryOp::Powi(k) => format!("{g} · {k}·{x}^{}", k - 1),
            UnaryOp::Abs => format!("{g} · sign({})", n.bare[0]),
            UnaryOp::LeakyRelu(s) => format!("{g} · (1 if {x} > 0 else {s:?})"),
            UnaryOp::Elu => format!("{g} · (1 if {x} > 0 else {y} + 1)"),
            UnaryOp::Gelu => format!("{g} · (Φ({b}) + {x}·φ({b}))", b = n.bare[0]),
            UnaryOp::GeluTanh => format!(
                "{g} · (s + {y}·(1 − s)·s′), s = σ(2√(2/π)·({b} + 0.044715·{x}³))",
                b = n.bare[0]
            ),
            UnaryOp::Silu => format!("{g} · σ({})·(1 + {x} − {y})", n.bare[0]),
            UnaryOp::Clamp(lo, hi) => format!("{g} · ({lo:?} < {x} < {hi:?})"),
            UnaryOp::Ln1p => format!("{g} / (1 + {x})"),
            UnaryOp::NormalCdf => format!("{g} · φ({})", n.bare[0]),
        }
    }
}

impl From<UnaryOp> for Op {
    fn from(u: UnaryOp) -> Op {
        Op::Unary(u)
    }
}

/// `1` if `a > b` else `0`: the `gt` mask.
fn step<T: Float>(a: T, b: T) -> T {
    if a > b {
        T::ONE
    } else {
        T::ZERO
    }
}

/// `a` if `a ≤ b` else `b`: [`BinaryOp::Min`].
fn min<T: Float>(a: T, b: T) -> T {
    if a <= b {
        a
    } else {
        b
    }
}

/// `min(max(x, lo), hi)` with `max` and `min` as the binary ops define them.
fn clamp<T: Float>(x: T, lo: T, hi: T) -> T {
    min(if x >= lo { x } else { lo }, hi)
}

/// The normal density `φ(x) = (1/√(2π))·e^(−0.5·(x·x))`, as [`density_node`]
/// builds it: `e^(−x²/2)` underflows to 0 for large |x|, never overflows.
fn density<T: Float>(x: T) -> T {
    T::from_f64(FRAC_1_SQRT_2PI) * (T::from_f64(-0.5) * (x * x)).exp()
}

/// `k·(1 + 3c·x²)`: the derivative of `gelu_tanh`'s sigmoid argument.
fn gelu_tanh_slope<T: Float>(x: T) -> T {
    T::from_f64(GELU_TANH_K) * (T::ONE + T::from_f64(3.0 * GELU_TANH_C) * (x * x))
}

/// The node `φ(x) = (1/√(2π))·e^(−0.5·(x·x))`.
fn density_node<B: Build>(b: &mut B, x: NodeId) -> Result<NodeId, IrError> {
    let (h, c) = (b.constant(-0.5), b.constant(FRAC_1_SQRT_2PI));
    let xx = b.node(BinaryOp::Mul, &[x, x])?;
    let e = b.node(BinaryOp::Mul, &[h, xx])?;
    let e = b.node(UnaryOp::Exp, &[e])?;
    b.node(BinaryOp::Mul, &[c, e])
}
