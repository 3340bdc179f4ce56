//! Binary elementwise ops, which broadcast by NumPy's rules: name, cost,
//! value, derivative (scalar and symbolic) and provenance text, written once.

use super::{Build, Names, Op, UnaryOp};
use crate::{Float, IrError, NodeId};

/// An op applied elementwise to two operands broadcast to a common shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BinaryOp {
    /// `a + b`.
    Add,
    /// `a - b`.
    Sub,
    /// `a * b`.
    Mul,
    /// `a / b`.
    Div,
    /// Elementwise maximum; on a tie the gradient goes to the first argument.
    Max,
    /// `a > b` as 1.0 or 0.0 (a mask; it has no gradient).
    Gt,
    /// Elementwise minimum; on a tie the gradient goes to the first argument.
    Min,
}

/// A function of two scalars, handed to [`BinaryOp::with_fn`].
pub trait BinaryKernel<T> {
    /// What `call` returns.
    type Out;
    /// Runs the kernel with the op's scalar function.
    fn call(self, f: impl Fn(T, T) -> T + Copy) -> Self::Out;
}

/// A derivative `(g, a, b, y) ↦ dL/d(operand)`, handed to [`BinaryOp::with_vjp`].
pub trait BinaryVjpKernel<T> {
    /// What `call` returns.
    type Out;
    /// Runs the kernel with the derivative for one operand.
    fn call(self, f: impl Fn(T, T, T, T) -> T + Copy) -> Self::Out;
}

impl BinaryOp {
    /// Every binary op, in declaration order.
    pub const ALL: [BinaryOp; 7] = [
        BinaryOp::Add,
        BinaryOp::Sub,
        BinaryOp::Mul,
        BinaryOp::Div,
        BinaryOp::Max,
        BinaryOp::Gt,
        BinaryOp::Min,
    ];

    /// The name in the text form, the e-graph language and reports.
    pub const fn name(self) -> &'static str {
        match self {
            BinaryOp::Add => "add",
            BinaryOp::Sub => "sub",
            BinaryOp::Mul => "mul",
            BinaryOp::Div => "div",
            BinaryOp::Max => "max",
            BinaryOp::Gt => "gt",
            BinaryOp::Min => "min",
        }
    }

    /// The op called `name` in the text form and the body language.
    pub fn from_name(name: &str) -> Option<BinaryOp> {
        Self::ALL.into_iter().find(|b| b.name() == name)
    }

    /// Floating-point operations per output element; comparisons and selects
    /// count 0.
    pub fn flops(self) -> u64 {
        match self {
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div => 1,
            BinaryOp::Max | BinaryOp::Gt | BinaryOp::Min => 0,
        }
    }

    /// Whether constant folding may evaluate it at compile time (see
    /// [`UnaryOp::is_exactly_rounded`]).
    pub fn is_exactly_rounded(self) -> bool {
        match self {
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Gt => true,
            BinaryOp::Max | BinaryOp::Min => false,
        }
    }

    /// Runs `k` with this op's scalar function (one arm per op, see
    /// [`UnaryOp::with_fn`]).
    #[inline(always)]
    pub fn with_fn<T: Float, K: BinaryKernel<T>>(self, k: K) -> K::Out {
        match self {
            BinaryOp::Add => k.call(|a: T, b: T| a + b),
            BinaryOp::Sub => k.call(|a: T, b: T| a - b),
            BinaryOp::Mul => k.call(|a: T, b: T| a * b),
            BinaryOp::Div => k.call(|a: T, b: T| a / b),
            BinaryOp::Max => k.call(|a: T, b: T| if a >= b { a } else { b }),
            BinaryOp::Gt => k.call(|a: T, b: T| if a > b { T::ONE } else { T::ZERO }),
            BinaryOp::Min => k.call(|a: T, b: T| if a <= b { a } else { b }),
        }
    }

    /// The value at one point.
    pub fn eval<T: Float>(self, a: T, b: T) -> T {
        struct At<T>(T, T);
        impl<T: Float> BinaryKernel<T> for At<T> {
            type Out = T;
            fn call(self, f: impl Fn(T, T) -> T + Copy) -> T {
                f(self.0, self.1)
            }
        }
        self.with_fn(At(a, b))
    }

    /// Whether the op passes a gradient to its operands (`gt` is a mask).
    pub fn has_gradient(self) -> bool {
        self != BinaryOp::Gt
    }

    /// Runs `k` with `(g, a, b, y) ↦` the adjoint term of operand `side` (0 or 1)
    /// before it is summed down to the operand's shape; `None` for a mask.
    #[inline(always)]
    pub fn with_vjp<T: Float, K: BinaryVjpKernel<T>>(self, side: usize, k: K) -> Option<K::Out> {
        let first = side == 0;
        Some(match self {
            // ga = g, gb = g
            BinaryOp::Add => k.call(|g: T, _, _, _| g),
            // ga = g, gb = −g
            BinaryOp::Sub if first => k.call(|g: T, _, _, _| g),
            BinaryOp::Sub => k.call(|g: T, _, _, _| -g),
            // ga = g·b, gb = g·a
            BinaryOp::Mul if first => k.call(|g: T, _, b: T, _| g * b),
            BinaryOp::Mul => k.call(|g: T, a: T, _, _| g * a),
            // ga = g / b, gb = −(g·y) / b
            BinaryOp::Div if first => k.call(|g: T, _, b: T, _| g / b),
            BinaryOp::Div => k.call(|g: T, _, b: T, y: T| -(g * y) / b),
            // ga = g·(1 − gt(b, a)), gb = g·gt(b, a): a tie goes to a
            BinaryOp::Max if first => {
                k.call(|g: T, a: T, b: T, _| g * (T::ONE - if b > a { T::ONE } else { T::ZERO }))
            }
            BinaryOp::Max => k.call(|g: T, a: T, b: T, _| g * if b > a { T::ONE } else { T::ZERO }),
            BinaryOp::Gt => return None,
            // ga = g·(1 − gt(a, b)), gb = g·gt(a, b): a tie goes to a
            BinaryOp::Min if first => {
                k.call(|g: T, a: T, b: T, _| g * (T::ONE - if a > b { T::ONE } else { T::ZERO }))
            }
            BinaryOp::Min => k.call(|g: T, a: T, b: T, _| g * if a > b { T::ONE } else { T::ZERO }),
        })
    }

    /// The symbolic vector-Jacobian products for the operands `want`s, each
    /// summed down to its operand's shape ([`Build::sum_to`]).
    pub fn vjp<B: Build>(
        self,
        b: &mut B,
        x: [NodeId; 2],
        y: NodeId,
        g: NodeId,
        want: [bool; 2],
    ) -> Result<[Option<NodeId>; 2], IrError> {
        let mut out = [None, None];
        match self {
            // ga = sum_to(g), gb = sum_to(g)
            BinaryOp::Add => {
                for k in [0, 1] {
                    if want[k] {
                        out[k] = Some(b.sum_to(g, x[k])?);
                    }
                }
            }
            // ga = sum_to(g), gb = sum_to(−g)
            BinaryOp::Sub => {
                if want[0] {
                    out[0] = Some(b.sum_to(g, x[0])?);
                }
                if want[1] {
                    let ng = b.node(UnaryOp::Neg, &[g])?;
                    out[1] = Some(b.sum_to(ng, x[1])?);
                }
            }
            // ga = sum_to(g·b), gb = sum_to(g·a)
            BinaryOp::Mul => {
                for k in [0, 1] {
                    if want[k] {
                        let gm = b.node(BinaryOp::Mul, &[g, x[1 - k]])?;
                        out[k] = Some(b.sum_to(gm, x[k])?);
                    }
                }
            }
            // ga = sum_to(g / b), gb = sum_to(−(g·y) / b)
            BinaryOp::Div => {
                if want[0] {
                    let q = b.node(BinaryOp::Div, &[g, x[1]])?;
                    out[0] = Some(b.sum_to(q, x[0])?);
                }
                if want[1] {
                    let gy = b.node(BinaryOp::Mul, &[g, y])?;
                    let ngy = b.node(UnaryOp::Neg, &[gy])?;
                    let q = b.node(BinaryOp::Div, &[ngy, x[1]])?;
                    out[1] = Some(b.sum_to(q, x[1])?);
                }
            }
            // max: ga = sum_to(g·(1 − gt(b, a))), gb = sum_to(g·gt(b, a));
            // min: the same with gt(a, b). A tie goes to a.
            BinaryOp::Max | BinaryOp::Min => {
                let m = if self == BinaryOp::Max {
                    b.node(BinaryOp::Gt, &[x[1], x[0]])?
                } else {
                    b.node(BinaryOp::Gt, &[x[0], x[1]])?
                };
                if want[0] {
                    let one = b.constant(1.0);
                    let om = b.node(BinaryOp::Sub, &[one, m])?;
                    let gm = b.node(BinaryOp::Mul, &[g, om])?;
                    out[0] = Some(b.sum_to(gm, x[0])?);
                }
                if want[1] {
                    let gm = b.node(BinaryOp::Mul, &[g, m])?;
                    out[1] = Some(b.sum_to(gm, x[1])?);
                }
            }
            // A mask: no gradient.
            BinaryOp::Gt => {}
        }
        Ok(out)
    }

    /// How provenance spells the value: `a + b`, `a·b`, `max(a, b)`.
    pub fn describe(self, n: &Names) -> String {
        let [a, b] = &n.x;
        match self {
            BinaryOp::Add => format!("{a} + {b}"),
            BinaryOp::Sub => format!("{a} − {b}"),
            BinaryOp::Mul => format!("{a}·{b}"),
            BinaryOp::Div => format!("{a} / {b}"),
            BinaryOp::Gt => format!("({a} > {b})"),
            BinaryOp::Max => format!("{}({}, {})", self.name(), n.bare[0], n.bare[1]),
            BinaryOp::Min => format!("{}({}, {})", self.name(), n.bare[0], n.bare[1]),
        }
    }

    /// The chain-rule term operand `side` receives, before any `sum_to`.
    pub fn chain_rule(self, side: usize, n: &Names) -> String {
        let (g, y, [a, b]) = (&n.g, &n.y, &n.x);
        let first = side == 0;
        match self {
            BinaryOp::Add => g.clone(),
            BinaryOp::Sub if first => g.clone(),
            BinaryOp::Sub => format!("−{g}"),
            BinaryOp::Mul => format!("{g} · {}", n.x[1 - side]),
            BinaryOp::Div if first => format!("{g} / {b}"),
            BinaryOp::Div => format!("−{g} · {y} / {b}"),
            BinaryOp::Max if first => format!("{g} · ({a} ≥ {b})"),
            BinaryOp::Max => format!("{g} · ({b} > {a})"),
            BinaryOp::Gt => String::from("0"),
            BinaryOp::Min if first => format!("{g} · ({a} ≤ {b})"),
            BinaryOp::Min => format!("{g} · ({b} < {a})"),
        }
    }

    /// Whether provenance parenthesises the value as an operand (`(a + b)·c`).
    pub fn is_loose(self) -> bool {
        match self {
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Div => true,
            BinaryOp::Mul | BinaryOp::Max | BinaryOp::Gt | BinaryOp::Min => false,
        }
    }
}

impl From<BinaryOp> for Op {
    fn from(b: BinaryOp) -> Op {
        Op::Binary(b)
    }
}
