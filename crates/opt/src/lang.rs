//! The e-graph language: one e-node wraps a `gradc_ir::Op` and its children.
//!
//! Pattern syntax (what `Display` prints and `FromOp` reads) uses the op names
//! of the IR text form, with the data of data-carrying ops after a colon so that
//! every operator is one s-expression atom:
//!
//! | op | pattern atom |
//! |---|---|
//! | `Const(c)` | the number itself: `1.0`, `-1.0`, `0.5` |
//! | `Powi(n)` | `powi:2` |
//! | `LeakyRelu(s)` | `leaky_relu:0.01` |
//! | `Clamp(lo, hi)` | `clamp:-1.0:1.0` |
//! | `OneHot(c)` | `one_hot:10` |
//! | `Reshape(s)`, `BroadcastTo(s)`, `SumTo(s)` | `reshape:[2x1]`, `sum_to:[]` |
//! | `Input(i)`, `Param(i)` | `input:0`, `param:1` |
//! | `Index(i)` | `index:3` |
//! | `Stack { len, at }` | `stack:10:[0x2]` |
//! | everything else | its text-form name: `add`, `matmul.nt`, `log_softmax` |

use egg::{FromOp, Id, Language};
use gradc_ir::{Const, Op, Shape, UnaryOp};
use std::fmt;

/// An e-node: an IR op with the e-classes of its arguments.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ENode {
    /// The op.
    pub op: Op,
    /// The e-classes of its operands.
    pub children: Vec<Id>,
}

impl ENode {
    /// `op` over the classes `children`.
    pub fn new(op: Op, children: Vec<Id>) -> Self {
        ENode { op, children }
    }

    /// `op` with no operands.
    pub fn leaf(op: Op) -> Self {
        ENode {
            op,
            children: Vec::new(),
        }
    }
}

impl Language for ENode {
    // The op with its data: a `reshape:[2x1]` never matches a `reshape:[1x2]`.
    type Discriminant = Op;

    fn discriminant(&self) -> Op {
        self.op.clone()
    }

    fn matches(&self, other: &Self) -> bool {
        self.op == other.op && self.children.len() == other.children.len()
    }

    fn children(&self) -> &[Id] {
        &self.children
    }

    fn children_mut(&mut self) -> &mut [Id] {
        &mut self.children
    }
}

fn shape_text(s: &Shape) -> String {
    let dims: Vec<String> = s
        .dims()
        .iter()
        .map(|d| gradc_ir::Extent::of(*d).to_string())
        .collect();
    format!("[{}]", dims.join("x"))
}

fn parse_shape(t: &str) -> Option<Shape> {
    let inner = t.strip_prefix('[')?.strip_suffix(']')?;
    if inner.is_empty() {
        return Some(Shape::scalar());
    }
    inner
        .split('x')
        .map(gradc_ir::parse_extent)
        .collect::<Option<Vec<usize>>>()
        .map(Shape)
}

impl fmt::Display for ENode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.op {
            Op::Const(c) => write!(f, "{c:?}"),
            Op::Input(i) | Op::Param(i) => write!(f, "{}:{i}", self.op.name()),
            Op::Unary(UnaryOp::Powi(n)) => write!(f, "{}:{n}", self.op.name()),
            Op::Unary(UnaryOp::LeakyRelu(s)) => write!(f, "{}:{s:?}", self.op.name()),
            Op::Unary(UnaryOp::Clamp(lo, hi)) => write!(f, "{}:{lo:?}:{hi:?}", self.op.name()),
            Op::OneHot(c) => write!(f, "{}:{c}", self.op.name()),
            Op::Count(n) => write!(f, "count:{}", gradc_ir::Extent::of(*n)),
            Op::Reshape(s) | Op::BroadcastTo(s) | Op::SumTo(s) => {
                write!(f, "{}:{}", self.op.name(), shape_text(s))
            }
            Op::Index(i) => write!(f, "{}:{i}", self.op.name()),
            Op::SliceLast { start, len } => write!(f, "{}:{start}:{len}", self.op.name()),
            Op::Stack { len, at } => {
                write!(
                    f,
                    "{}:{len}:{}",
                    self.op.name(),
                    shape_text(&Shape(at.clone()))
                )
            }
            op @ (Op::Unary(_)
            | Op::Binary(_)
            | Op::MatMul { .. }
            | Op::Transpose
            | Op::Sum
            | Op::Row(_)
            | Op::Concat) => f.write_str(op.name()),
        }
    }
}

/// Why a pattern atom is not an operator of the language.
#[derive(Debug)]
pub struct BadOp(pub String);

fn op_from_atom(atom: &str) -> Option<Op> {
    if let Ok(v) = atom.parse::<f64>() {
        return Some(Op::Const(Const::new(v)));
    }
    if let Some((head, data)) = atom.split_once(':') {
        return match head {
            "input" => data.parse().ok().map(Op::Input),
            "param" => data.parse().ok().map(Op::Param),
            "powi" => data.parse().ok().map(|n| Op::Unary(UnaryOp::Powi(n))),
            "leaky_relu" => data
                .parse()
                .ok()
                .map(|s| Op::Unary(UnaryOp::LeakyRelu(Const::new(s)))),
            "clamp" => {
                let (lo, hi) = data.split_once(':')?;
                let (lo, hi) = (lo.parse().ok()?, hi.parse().ok()?);
                Some(Op::Unary(UnaryOp::Clamp(Const::new(lo), Const::new(hi))))
            }
            "one_hot" => data.parse().ok().map(Op::OneHot),
            "count" => gradc_ir::parse_extent(data).map(Op::Count),
            "reshape" => parse_shape(data).map(Op::Reshape),
            "broadcast_to" => parse_shape(data).map(Op::BroadcastTo),
            "sum_to" => parse_shape(data).map(Op::SumTo),
            "index" => data.parse().ok().map(Op::Index),
            "slice_last" => {
                let (start, len) = data.split_once(':')?;
                Some(Op::SliceLast {
                    start: start.parse().ok()?,
                    len: len.parse().ok()?,
                })
            }
            "stack" => {
                let (len, at) = data.split_once(':')?;
                Some(Op::Stack {
                    len: len.parse().ok()?,
                    at: parse_shape(at)?.0,
                })
            }
            _ => None,
        };
    }
    Op::from_plain_name(atom)
}

impl FromOp for ENode {
    type Error = BadOp;

    fn from_op(atom: &str, children: Vec<Id>) -> Result<Self, BadOp> {
        match op_from_atom(atom) {
            Some(op) if op.arity() == children.len() => Ok(ENode { op, children }),
            Some(op) => Err(BadOp(format!(
                "`{atom}` takes {} argument(s), got {}",
                op.arity(),
                children.len()
            ))),
            None => Err(BadOp(format!("unknown operator `{atom}`"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gradc_ir::RowOp;

    #[test]
    fn atoms_round_trip() {
        let ops = [
            Op::constant(1.0),
            Op::constant(-0.5),
            Op::Input(0),
            Op::Param(3),
            Op::Unary(UnaryOp::Powi(-2)),
            Op::Unary(UnaryOp::LeakyRelu(Const::new(0.01))),
            Op::Unary(UnaryOp::Clamp(Const::new(-1.0), Const::new(0.5))),
            Op::Binary(gradc_ir::BinaryOp::Min),
            Op::Unary(UnaryOp::Gelu),
            Op::OneHot(10),
            Op::Count(3 * gradc_ir::BATCH),
            Op::Count(1),
            Op::BroadcastTo(Shape::new([gradc_ir::BATCH, 4])),
            Op::Reshape(Shape::new([2, 1])),
            Op::SumTo(Shape::scalar()),
            Op::BroadcastTo(Shape::new([4])),
            Op::MatMul {
                ta: false,
                tb: true,
            },
            Op::Row(RowOp::LogSoftmax),
            Op::Row(RowOp::MaxLast),
            Op::Row(RowOp::MaxMask),
            Op::Concat,
            Op::SliceLast { start: 2, len: 5 },
            Op::Index(3),
            Op::Stack {
                len: 10,
                at: vec![0, 2, 9],
            },
        ];
        for op in ops {
            let text = ENode::leaf(op.clone()).to_string();
            assert_eq!(op_from_atom(&text), Some(op), "{text}");
        }
        assert!(op_from_atom("frob").is_none());
        assert!(ENode::from_op("add", vec![Id::from(0)]).is_err());
    }

    #[test]
    fn patterns_parse() {
        let p: egg::Pattern<ENode> = "(mul ?x (sub 1.0 (matmul.tn ?a (reshape:[2x1] ?b))))"
            .parse()
            .unwrap();
        assert_eq!(
            p.to_string(),
            "(mul ?x (sub 1.0 (matmul.tn ?a (reshape:[2x1] ?b))))"
        );
    }
}
