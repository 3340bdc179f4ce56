use crate::{broadcast_shapes, IrError, Shape};
use std::fmt;

/// Element type of every tensor in a graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    F32,
    F64,
}

impl DType {
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F64 => "f64",
        }
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::F64 => 8,
        }
    }
}

/// A scalar constant, compared and hashed by its bit pattern so that ops are `Eq + Hash`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Const(u64);

impl Const {
    pub fn new(v: f64) -> Self {
        // One zero: -0.0 and 0.0 would otherwise be two constants.
        Const(if v == 0.0 {
            0.0f64.to_bits()
        } else {
            v.to_bits()
        })
    }

    pub fn value(self) -> f64 {
        f64::from_bits(self.0)
    }
}

impl fmt::Debug for Const {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.value())
    }
}

/// The closed set of primitive operations. Everything the surface language offers
/// (`mse`, `cross_entropy`, `mean`, 1-D `matmul`, ...) is desugared into these by
/// the frontend. Elementwise binary ops broadcast by NumPy's rules.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    /// The `i`-th `#[input]` argument (data, no gradient).
    Input(usize),
    /// The `i`-th parameter (gets a gradient).
    Param(usize),
    /// A scalar constant; it broadcasts like any scalar.
    Const(Const),
    /// The count `n` (an element or row count) as a scalar: what `mean` and the
    /// losses divide by. Unlike a `Const`, `n` may be the symbolic batch size
    /// `c·B` ([`crate::Extent`]), so nothing folds it into other constants.
    Count(usize),

    Neg,
    Relu,
    Sigmoid,
    Tanh,
    Exp,
    Ln,
    Softplus,
    Sqrt,
    Powi(i32),

    Add,
    Sub,
    Mul,
    Div,
    /// Elementwise maximum; on a tie the gradient goes to the first argument.
    Max,
    /// Elementwise `a > b` as 1.0 or 0.0 (a mask; it has no gradient).
    Gt,
    /// One-hot rows of `C` classes: input shape `S`, output `S + [C]`, element
    /// `[.., j]` is 1.0 where the input equals `j` exactly, else 0.0 (so a
    /// fractional, negative, too large or NaN label selects no class). `C` is a
    /// literal. Like `Gt` it has no gradient: labels are data.
    OneHot(usize),

    /// 2-D matrix product `op(a) · op(b)`, where `op` transposes when the flag is set.
    MatMul {
        ta: bool,
        tb: bool,
    },
    /// 2-D transpose.
    Transpose,
    /// Same elements, new shape.
    Reshape(Shape),
    /// Repeat along broadcast dimensions to the given shape.
    BroadcastTo(Shape),
    /// Sum over the dimensions that broadcasting to the input's shape would add:
    /// the adjoint of `BroadcastTo`.
    SumTo(Shape),

    /// Sum of all elements, a scalar.
    Sum,
    /// Sum over the last axis, keeping it with size 1.
    SumLast,
    /// `ln Σ exp` over the last axis, computed stably, keeping it with size 1.
    LogSumExp,
    /// Softmax over the last axis.
    Softmax,
    /// `z - logsumexp(z)` over the last axis.
    LogSoftmax,
}

impl Op {
    pub fn constant(v: f64) -> Op {
        Op::Const(Const::new(v))
    }

    /// Number of arguments the op takes.
    pub fn arity(&self) -> usize {
        use Op::*;
        match self {
            Input(_) | Param(_) | Const(_) | Count(_) => 0,
            Neg | Relu | Sigmoid | Tanh | Exp | Ln | Softplus | Sqrt | Powi(_) => 1,
            OneHot(_) => 1,
            Transpose | Reshape(_) | BroadcastTo(_) | SumTo(_) => 1,
            Sum | SumLast | LogSumExp | Softmax | LogSoftmax => 1,
            Add | Sub | Mul | Div | Max | Gt | MatMul { .. } => 2,
        }
    }

    pub fn is_leaf(&self) -> bool {
        self.arity() == 0
    }

    /// Unary ops applied to each element independently.
    pub fn is_elementwise_unary(&self) -> bool {
        use Op::*;
        matches!(
            self,
            Neg | Relu | Sigmoid | Tanh | Exp | Ln | Softplus | Sqrt | Powi(_)
        )
    }

    /// Binary ops applied elementwise with broadcasting.
    pub fn is_elementwise_binary(&self) -> bool {
        use Op::*;
        matches!(self, Add | Sub | Mul | Div | Max | Gt)
    }

    /// The op's name in the text form.
    pub fn name(&self) -> &'static str {
        use Op::*;
        match self {
            Input(_) => "input",
            Param(_) => "param",
            Const(_) => "const",
            Count(_) => "count",
            Neg => "neg",
            Relu => "relu",
            Sigmoid => "sigmoid",
            Tanh => "tanh",
            Exp => "exp",
            Ln => "ln",
            Softplus => "softplus",
            Sqrt => "sqrt",
            Powi(_) => "powi",
            Add => "add",
            Sub => "sub",
            Mul => "mul",
            Div => "div",
            Max => "max",
            Gt => "gt",
            OneHot(_) => "one_hot",
            MatMul {
                ta: false,
                tb: false,
            } => "matmul",
            MatMul {
                ta: true,
                tb: false,
            } => "matmul.tn",
            MatMul {
                ta: false,
                tb: true,
            } => "matmul.nt",
            MatMul { ta: true, tb: true } => "matmul.tt",
            Transpose => "transpose",
            Reshape(_) => "reshape",
            BroadcastTo(_) => "broadcast_to",
            SumTo(_) => "sum_to",
            Sum => "sum",
            SumLast => "sum_last",
            LogSumExp => "logsumexp",
            Softmax => "softmax",
            LogSoftmax => "log_softmax",
        }
    }

    /// The op with this text-form name, for ops that carry no data (everything but
    /// `input`, `param`, `const`, `count`, `powi`, `one_hot`, `reshape`, `broadcast_to`,
    /// `sum_to`).
    pub fn from_plain_name(name: &str) -> Option<Op> {
        use Op::*;
        let mm = |ta, tb| MatMul { ta, tb };
        Some(match name {
            "neg" => Neg,
            "relu" => Relu,
            "sigmoid" => Sigmoid,
            "tanh" => Tanh,
            "exp" => Exp,
            "ln" => Ln,
            "softplus" => Softplus,
            "sqrt" => Sqrt,
            "add" => Add,
            "sub" => Sub,
            "mul" => Mul,
            "div" => Div,
            "max" => Max,
            "gt" => Gt,
            "matmul" => mm(false, false),
            "matmul.tn" => mm(true, false),
            "matmul.nt" => mm(false, true),
            "matmul.tt" => mm(true, true),
            "transpose" => Transpose,
            "sum" => Sum,
            "sum_last" => SumLast,
            "logsumexp" => LogSumExp,
            "softmax" => Softmax,
            "log_softmax" => LogSoftmax,
            _ => return None,
        })
    }

    /// Shape of the result given the argument shapes, or why the op does not apply.
    /// At most one dimension of a result may be the batch size `B`, and a count
    /// is `c` or `c·B` (see [`crate::BATCH`]).
    pub fn infer_shape(&self, args: &[&Shape]) -> Result<Shape, IrError> {
        let s = self.infer_shape_unchecked(args)?;
        if s.batch_degree() > 1 {
            return Err(IrError::new(format!(
                "this would have shape {s}: at most one dimension may depend on the batch size `B`"
            )));
        }
        if let Op::Count(n) = self {
            if crate::shape::batch_power(*n) > 1 {
                return Err(IrError::new(
                    "a count may depend on the batch size B at most linearly",
                ));
            }
        }
        Ok(s)
    }

    fn infer_shape_unchecked(&self, args: &[&Shape]) -> Result<Shape, IrError> {
        use Op::*;
        if args.len() != self.arity() {
            return Err(IrError::new(format!(
                "`{}` takes {} argument(s), got {}",
                self.name(),
                self.arity(),
                args.len()
            )));
        }
        match self {
            Input(_) | Param(_) => Err(IrError::new("leaf shapes are given, not inferred")),
            Const(_) | Count(_) => Ok(Shape::scalar()),
            // The derivative needs xⁿ⁻¹, so n − 1 must be an i32 too.
            Powi(i32::MIN) => Err(IrError::new(format!(
                "powi: the exponent must be at least {}",
                i32::MIN + 1
            ))),
            Neg | Relu | Sigmoid | Tanh | Exp | Ln | Softplus | Sqrt | Powi(_) => {
                Ok(args[0].clone())
            }
            Add | Sub | Mul | Div | Max | Gt => broadcast_shapes(args[0], args[1]).ok_or_else(|| {
                IrError::new(format!(
                    "shapes {} and {} do not broadcast (NumPy rules: trailing dimensions must be equal or 1)",
                    args[0], args[1]
                ))
            }),
            OneHot(c) => match crate::Extent::of(*c) {
                crate::Extent::Fixed(c) if c > 0 => {
                    let mut d = args[0].0.clone();
                    d.push(c);
                    Ok(Shape(d))
                }
                _ => Err(IrError::new(format!(
                    "one_hot: the class count must be a positive literal, got {}",
                    crate::Extent::of(*c)
                ))),
            },
            MatMul { ta, tb } => {
                let (a, b) = (args[0], args[1]);
                if a.rank() != 2 || b.rank() != 2 {
                    return Err(IrError::new(format!(
                        "matmul node needs 2-D operands, got {a} and {b}"
                    )));
                }
                let (m, k1) = if *ta { (a.0[1], a.0[0]) } else { (a.0[0], a.0[1]) };
                let (k2, n) = if *tb { (b.0[1], b.0[0]) } else { (b.0[0], b.0[1]) };
                if k1 != k2 {
                    return Err(IrError::new(format!(
                        "matmul of {a} and {b}: inner dimensions {k1} and {k2} differ"
                    )));
                }
                Ok(Shape(vec![m, n]))
            }
            Transpose => match args[0].dims() {
                [m, n] => Ok(Shape(vec![*n, *m])),
                _ => Err(IrError::new(format!(
                    "transpose needs a 2-D operand, got {}",
                    args[0]
                ))),
            },
            Reshape(s) => {
                if s.numel() == args[0].numel() {
                    Ok(s.clone())
                } else {
                    Err(IrError::new(format!("cannot reshape {} to {s}", args[0])))
                }
            }
            BroadcastTo(s) => {
                if args[0].broadcasts_to(s) {
                    Ok(s.clone())
                } else {
                    Err(IrError::new(format!("cannot broadcast {} to {s}", args[0])))
                }
            }
            SumTo(s) => {
                if s.broadcasts_to(args[0]) {
                    Ok(s.clone())
                } else {
                    Err(IrError::new(format!("cannot sum {} down to {s}", args[0])))
                }
            }
            Sum => Ok(Shape::scalar()),
            SumLast | LogSumExp | Softmax | LogSoftmax => {
                if args[0].is_scalar() {
                    return Err(IrError::new(format!(
                        "`{}` needs at least one axis, got a scalar",
                        self.name()
                    )));
                }
                if matches!(self, Softmax | LogSoftmax) {
                    Ok(args[0].clone())
                } else {
                    let mut d = args[0].0.clone();
                    *d.last_mut().unwrap() = 1;
                    Ok(Shape(d))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_hot_appends_the_class_axis() {
        let sh = |d: &[usize]| Shape::new(d.to_vec());
        let b = crate::BATCH;
        let oh = Op::OneHot(10);
        assert_eq!(oh.arity(), 1);
        assert_eq!(oh.infer_shape(&[&sh(&[])]).unwrap(), sh(&[10]));
        assert_eq!(oh.infer_shape(&[&sh(&[4])]).unwrap(), sh(&[4, 10]));
        assert_eq!(oh.infer_shape(&[&sh(&[b])]).unwrap(), sh(&[b, 10]));
        assert_eq!(oh.infer_shape(&[&sh(&[2, 3])]).unwrap(), sh(&[2, 3, 10]));
        // The class count is a positive literal, never `B`.
        for bad in [0, b, 3 * b] {
            let e = Op::OneHot(bad).infer_shape(&[&sh(&[4])]).unwrap_err();
            assert!(e.message.contains("positive literal"), "{e}");
        }
        assert!(oh.infer_shape(&[]).is_err());
    }

    #[test]
    fn plain_names_round_trip() {
        let plain = [
            Op::Neg,
            Op::Relu,
            Op::Sigmoid,
            Op::Tanh,
            Op::Exp,
            Op::Ln,
            Op::Softplus,
            Op::Sqrt,
            Op::Add,
            Op::Sub,
            Op::Mul,
            Op::Div,
            Op::Max,
            Op::Gt,
            Op::Transpose,
            Op::Sum,
            Op::SumLast,
            Op::LogSumExp,
            Op::Softmax,
            Op::LogSoftmax,
            Op::MatMul {
                ta: false,
                tb: false,
            },
            Op::MatMul {
                ta: true,
                tb: false,
            },
            Op::MatMul {
                ta: false,
                tb: true,
            },
            Op::MatMul { ta: true, tb: true },
        ];
        for op in plain {
            assert_eq!(
                Op::from_plain_name(op.name()),
                Some(op.clone()),
                "{}",
                op.name()
            );
        }
        for data_op in [
            Op::Powi(2),
            Op::OneHot(3),
            Op::Reshape(Shape::scalar()),
            Op::constant(1.0),
            Op::Count(4),
            Op::Input(0),
        ] {
            assert_eq!(Op::from_plain_name(data_op.name()), None);
        }
    }
}
