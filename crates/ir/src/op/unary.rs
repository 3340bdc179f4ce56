//! Unary elementwise ops: everything about one is written here, once: its
//! name, cost, value, derivative (scalar, for the interpreter, and symbolic, for
//! autodiff) and how provenance spells it. Codegen's spelling of the value is the
//! one thing that lives elsewhere (`gradc_codegen`, which may name quote).

use super::{Build, Names, Op};
use crate::{sigmoid, softplus, Float, IrError, NodeId};

/// An op applied to each element of one operand independently; the result has
/// the operand's shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UnaryOp {
    Neg,
    Relu,
    Sigmoid,
    Tanh,
    Exp,
    Ln,
    Softplus,
    Sqrt,
    /// `xⁿ` for an integer literal `n`.
    Powi(i32),
}

/// A function over one scalar, handed to [`UnaryOp::with_fn`]: `call` runs once
/// per op with a closure the compiler can inline into a loop.
pub trait UnaryKernel<T> {
    type Out;
    fn call(self, f: impl Fn(T) -> T + Copy) -> Self::Out;
}

/// A derivative `(g, x, y) ↦ dL/dx`, handed to [`UnaryOp::with_vjp`].
pub trait UnaryVjpKernel<T> {
    type Out;
    fn call(self, f: impl Fn(T, T, T) -> T + Copy) -> Self::Out;
}

impl UnaryOp {
    /// Every op that carries no data, in declaration order: the ones a name
    /// alone identifies.
    pub const PLAIN: [UnaryOp; 8] = [
        UnaryOp::Neg,
        UnaryOp::Relu,
        UnaryOp::Sigmoid,
        UnaryOp::Tanh,
        UnaryOp::Exp,
        UnaryOp::Ln,
        UnaryOp::Softplus,
        UnaryOp::Sqrt,
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
        }
    }

    /// The op with this name among [`UnaryOp::PLAIN`].
    pub fn from_name(name: &str) -> Option<UnaryOp> {
        Self::PLAIN.into_iter().find(|u| u.name() == name)
    }

    /// Whether the body calls it by its name with the operand alone, as
    /// `name(x)` or `x.name()`: all but `neg` (written `-x`) and `powi` (which
    /// takes an exponent).
    pub fn is_function(self) -> bool {
        match self {
            UnaryOp::Neg | UnaryOp::Powi(_) => false,
            UnaryOp::Relu
            | UnaryOp::Sigmoid
            | UnaryOp::Tanh
            | UnaryOp::Exp
            | UnaryOp::Ln
            | UnaryOp::Softplus
            | UnaryOp::Sqrt => true,
        }
    }

    /// Floating-point operations per element (see `gradc_opt::cost`): one for
    /// each arithmetic step or `exp`/`ln`/`sqrt`/`tanh`; selects count 0.
    pub fn flops(self) -> u64 {
        match self {
            UnaryOp::Relu => 0,
            UnaryOp::Neg | UnaryOp::Exp | UnaryOp::Ln | UnaryOp::Sqrt | UnaryOp::Tanh => 1,
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
            UnaryOp::Neg | UnaryOp::Sqrt => true,
            UnaryOp::Relu
            | UnaryOp::Sigmoid
            | UnaryOp::Tanh
            | UnaryOp::Exp
            | UnaryOp::Ln
            | UnaryOp::Softplus
            | UnaryOp::Powi(_) => false,
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
            | UnaryOp::Powi(_) => true,
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
            | UnaryOp::Sqrt => format!("{}({})", self.name(), n.bare[0]),
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
        }
    }
}

impl From<UnaryOp> for Op {
    fn from(u: UnaryOp) -> Op {
        Op::Unary(u)
    }
}
