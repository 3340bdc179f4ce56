//! The op set: [`Op`] and its kinds, each kind described once in its own file.

mod binary;
mod row;
mod unary;

pub use binary::{BinaryKernel, BinaryOp, BinaryVjpKernel};
pub use row::RowOp;
pub use unary::{UnaryKernel, UnaryOp, UnaryVjpKernel};

use crate::{broadcast_shapes, IrError, NodeId, Shape};
use std::fmt;

/// `matmul` with its transpose flags: `matmul`, `matmul.tn`, `matmul.nt`, `matmul.tt`.
fn matmul_name(ta: bool, tb: bool) -> &'static str {
    match (ta, tb) {
        (false, false) => "matmul",
        (true, false) => "matmul.tn",
        (false, true) => "matmul.nt",
        (true, true) => "matmul.tt",
    }
}

/// Element type of every tensor in a graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    /// 32-bit IEEE-754.
    F32,
    /// 64-bit IEEE-754.
    F64,
}

impl DType {
    /// The Rust name, `f32` or `f64`.
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
    /// The constant `v` (`-0.0` becomes `0.0`).
    pub fn new(v: f64) -> Self {
        // One zero: -0.0 and 0.0 would otherwise be two constants.
        Const(if v == 0.0 {
            0.0f64.to_bits()
        } else {
            v.to_bits()
        })
    }

    /// The constant as an `f64`.
    pub fn value(self) -> f64 {
        f64::from_bits(self.0)
    }
}

impl fmt::Debug for Const {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.value())
    }
}

/// The closed set of primitive operations, grouped by kind. Everything the
/// surface language offers (`mse`, `cross_entropy`, `mean`, 1-D `matmul`, ...)
/// is desugared into these by the frontend. Each kind with more than one member
/// (unary, binary, row) is described once, in its own file; the one-of-a-kind
/// ops below are described by one arm each.
///
/// The variant order is the order of [`Ord`], which the optimizer's e-graph
/// uses to break ties; reordering changes generated code.
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

    /// Elementwise, one operand ([`UnaryOp`]).
    Unary(UnaryOp),
    /// Elementwise with broadcasting, two operands ([`BinaryOp`]).
    Binary(BinaryOp),
    /// One-hot rows of `C` classes: input shape `S`, output `S + [C]`, element
    /// `[.., j]` is 1.0 where the input equals `j` exactly, else 0.0 (so a
    /// fractional, negative, too large or NaN label selects no class). `C` is a
    /// literal. Like `gt` it has no gradient: labels are data.
    OneHot(usize),

    /// 2-D matrix product `op(a) · op(b)`, where `op` transposes when the flag is set.
    MatMul {
        /// Transpose `a` first.
        ta: bool,
        /// Transpose `b` first.
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
    /// A function of each row along the last axis ([`RowOp`]).
    Row(RowOp),

    /// Slice `i` along the first axis: `[L, ..S]` → `S`, as `ws[k]` in a loop
    /// over stacked layers. Generated code reads the slice in place.
    Index(usize),
    /// The inverse of `index`: `[len, ..S]` whose slice `at[j]` is argument `j`
    /// (all of shape `S`) and whose other slices are zero. `at` is strictly
    /// increasing. It is the adjoint of `index`, and autodiff merges the
    /// adjoints of a loop's `ws[0]`, `ws[1]`, ... into one.
    Stack {
        /// The length of the new first axis.
        len: usize,
        /// Where each argument goes along it.
        at: Vec<usize>,
    },
    /// `a` and `b` side by side along the last axis: shapes equal but for the
    /// last axis, whose lengths (literals) add.
    Concat,
    /// Elements `start..start + len` of the last axis (literals): the adjoint
    /// of `concat`.
    SliceLast {
        /// The first element taken.
        start: usize,
        /// How many are taken.
        len: usize,
    },
}

/// What a symbolic derivative (the `vjp` of [`UnaryOp`], [`BinaryOp`],
/// [`RowOp`]) needs from the graph it is written into: autodiff's builder.
pub trait Build {
    /// A new node `op(args)`.
    fn node(&mut self, op: impl Into<Op>, args: &[NodeId]) -> Result<NodeId, IrError>;
    /// The scalar constant `v` (one node per value).
    fn constant(&mut self, v: f64) -> NodeId;
    /// `x` summed down to the shape of node `like` (`x` itself if it has it).
    fn sum_to(&mut self, x: NodeId, like: NodeId) -> Result<NodeId, IrError>;
    /// `x` broadcast to the shape of node `like` (`x` itself if it has it).
    fn broadcast_to(&mut self, x: NodeId, like: NodeId) -> Result<NodeId, IrError>;
}

/// How provenance text names the parts of one node: its adjoint `g`, the node
/// itself `y`, and its operands, as operands (parenthesised where needed) and
/// bare. Missing operands are empty.
#[derive(Clone, Debug, Default)]
pub struct Names {
    /// The adjoint of the node.
    pub g: String,
    /// The node itself.
    pub y: String,
    /// The operands, parenthesised where needed.
    pub x: [String; 2],
    /// The operands as written.
    pub bare: [String; 2],
}

impl Op {
    /// The op of the scalar constant `v`.
    pub fn constant(v: f64) -> Op {
        Op::Const(Const::new(v))
    }

    /// Number of arguments the op takes.
    pub fn arity(&self) -> usize {
        match self {
            Op::Input(_) | Op::Param(_) | Op::Const(_) | Op::Count(_) => 0,
            Op::Unary(_) | Op::OneHot(_) | Op::Row(_) | Op::Sum | Op::Index(_) => 1,
            Op::Stack { at, .. } => at.len(),
            Op::Transpose | Op::Reshape(_) | Op::BroadcastTo(_) | Op::SumTo(_) => 1,
            Op::SliceLast { .. } => 1,
            Op::Binary(_) | Op::MatMul { .. } | Op::Concat => 2,
        }
    }

    /// Whether the op takes no arguments (inputs, parameters, constants, counts).
    pub fn is_leaf(&self) -> bool {
        self.arity() == 0
    }

    /// Whether the op passes a gradient to its arguments: the one place that
    /// decides it (autodiff and the interpreter both ask). Leaves have none to
    /// pass; masks and one-hot rows of labels pass none.
    pub fn has_gradient(&self) -> bool {
        match self {
            Op::Input(_) | Op::Param(_) | Op::Const(_) | Op::Count(_) | Op::OneHot(_) => false,
            Op::Unary(u) => u.has_gradient(),
            Op::Binary(b) => b.has_gradient(),
            Op::Row(r) => r.has_gradient(),
            Op::MatMul { .. }
            | Op::Transpose
            | Op::Reshape(_)
            | Op::BroadcastTo(_)
            | Op::SumTo(_)
            | Op::Sum
            | Op::Index(_)
            | Op::Stack { .. }
            | Op::Concat
            | Op::SliceLast { .. } => true,
        }
    }

    /// The op's name in the text form.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Input(_) => "input",
            Op::Param(_) => "param",
            Op::Const(_) => "const",
            Op::Count(_) => "count",
            Op::Unary(u) => u.name(),
            Op::Binary(b) => b.name(),
            Op::OneHot(_) => "one_hot",
            Op::MatMul { ta, tb } => matmul_name(*ta, *tb),
            Op::Transpose => "transpose",
            Op::Reshape(_) => "reshape",
            Op::BroadcastTo(_) => "broadcast_to",
            Op::SumTo(_) => "sum_to",
            Op::Sum => "sum",
            Op::Row(r) => r.name(),
            Op::Index(_) => "index",
            Op::Stack { .. } => "stack",
            Op::Concat => "concat",
            Op::SliceLast { .. } => "slice_last",
        }
    }

    /// The op with this text-form name, for ops that carry no data (everything but
    /// `input`, `param`, `const`, `count`, `powi`, `leaky_relu`, `clamp`, `one_hot`,
    /// `reshape`, `broadcast_to`, `sum_to`, `index`, `stack`, `slice_last`).
    pub fn from_plain_name(name: &str) -> Option<Op> {
        if let Some(u) = UnaryOp::from_name(name) {
            return Some(Op::Unary(u));
        }
        if let Some(b) = BinaryOp::from_name(name) {
            return Some(Op::Binary(b));
        }
        if let Some(r) = RowOp::from_name(name) {
            return Some(Op::Row(r));
        }
        let matmul = [(false, false), (true, false), (false, true), (true, true)]
            .into_iter()
            .find(|&(ta, tb)| matmul_name(ta, tb) == name)
            .map(|(ta, tb)| Op::MatMul { ta, tb });
        matmul.or(match name {
            "transpose" => Some(Op::Transpose),
            "sum" => Some(Op::Sum),
            "concat" => Some(Op::Concat),
            _ => None,
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
            Unary(UnaryOp::Powi(i32::MIN)) => Err(IrError::new(format!(
                "powi: the exponent must be at least {}",
                i32::MIN + 1
            ))),
            Unary(UnaryOp::Clamp(lo, hi))
                if !matches!(
                    lo.value().partial_cmp(&hi.value()),
                    Some(std::cmp::Ordering::Less | std::cmp::Ordering::Equal)
                ) =>
            {
                Err(IrError::new(format!(
                    "clamp: the lower bound {lo:?} must not exceed the upper bound {hi:?}"
                )))
            }
            Unary(UnaryOp::LeakyRelu(s)) | Unary(UnaryOp::Clamp(s, _)) if !s.value().is_finite() => {
                Err(IrError::new(format!("{}: {s:?} is not a finite number", self.name())))
            }
            Unary(UnaryOp::Clamp(_, s)) if !s.value().is_finite() => {
                Err(IrError::new(format!("clamp: {s:?} is not a finite number")))
            }
            Unary(_) => Ok(args[0].clone()),
            Binary(_) => broadcast_shapes(args[0], args[1]).ok_or_else(|| {
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
            Index(i) => match args[0].dims().split_first() {
                Some((&len, rest)) if crate::Extent::of(len) == crate::Extent::Fixed(len) => {
                    if *i < len {
                        Ok(Shape(rest.to_vec()))
                    } else {
                        Err(IrError::new(format!(
                            "index {i} is out of range for the first axis of {} (length {len})",
                            args[0]
                        )))
                    }
                }
                Some(_) => Err(IrError::new(format!(
                    "index: the first axis of {} is the batch size B, which cannot be indexed",
                    args[0]
                ))),
                None => Err(IrError::new("index needs at least one axis, got a scalar")),
            },
            Stack { len, at } => {
                if at.is_empty() || at.windows(2).any(|w| w[0] >= w[1]) {
                    return Err(IrError::new(format!(
                        "stack: slice indices {at:?} must be non-empty and strictly increasing"
                    )));
                }
                if at.last().is_some_and(|&l| l >= *len) || crate::Extent::of(*len) != crate::Extent::Fixed(*len) {
                    return Err(IrError::new(format!(
                        "stack: slice indices {at:?} out of range for length {len}"
                    )));
                }
                if args.iter().any(|a| *a != args[0]) {
                    return Err(IrError::new("stack: every slice must have the same shape"));
                }
                let mut d = vec![*len];
                d.extend_from_slice(args[0].dims());
                Ok(Shape(d))
            }
            Concat => {
                let (a, b) = (args[0].dims(), args[1].dims());
                let fixed = |d: &usize| crate::Extent::of(*d) == crate::Extent::Fixed(*d);
                match (a.split_last(), b.split_last()) {
                    (Some((na, ra)), Some((nb, rb))) if ra == rb && fixed(na) && fixed(nb) => {
                        let mut d = ra.to_vec();
                        d.push(na + nb);
                        Ok(Shape(d))
                    }
                    _ => Err(IrError::new(format!(
                        "concat of {} and {}: shapes must be equal but for the last axis, whose lengths must not depend on `B`",
                        args[0], args[1]
                    ))),
                }
            }
            SliceLast { start, len } => match args[0].dims().split_last() {
                Some((&n, rest))
                    if crate::Extent::of(n) == crate::Extent::Fixed(n)
                        && *len > 0
                        && start.checked_add(*len).is_some_and(|e| e <= n) =>
                {
                    let mut d = rest.to_vec();
                    d.push(*len);
                    Ok(Shape(d))
                }
                _ => Err(IrError::new(format!(
                    "slice_last {start} {len} does not fit the last axis of {}",
                    args[0]
                ))),
            },
            Row(r) => {
                if args[0].is_scalar() {
                    return Err(IrError::new(format!(
                        "`{}` needs at least one axis, got a scalar",
                        self.name()
                    )));
                }
                if r.keeps_row() {
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
        let mut plain: Vec<Op> = UnaryOp::PLAIN.into_iter().map(Op::Unary).collect();
        plain.extend(BinaryOp::ALL.map(Op::Binary));
        plain.extend(RowOp::ALL.map(Op::Row));
        plain.extend([Op::Transpose, Op::Sum, Op::Concat]);
        plain.extend(
            [(false, false), (true, false), (false, true), (true, true)]
                .map(|(ta, tb)| Op::MatMul { ta, tb }),
        );
        let mut names: Vec<&str> = plain.iter().map(|op| op.name()).collect();
        for op in &plain {
            assert_eq!(
                Op::from_plain_name(op.name()).as_ref(),
                Some(op),
                "{}",
                op.name()
            );
        }
        // Every name is defined once.
        names.sort_unstable();
        let n = names.len();
        names.dedup();
        assert_eq!(names.len(), n);
        for data_op in [
            Op::Unary(UnaryOp::Powi(2)),
            Op::Unary(UnaryOp::LeakyRelu(Const::new(0.01))),
            Op::Unary(UnaryOp::Clamp(Const::new(0.0), Const::new(1.0))),
            Op::OneHot(3),
            Op::Reshape(Shape::scalar()),
            Op::constant(1.0),
            Op::Count(4),
            Op::Input(0),
            Op::SliceLast { start: 0, len: 1 },
        ] {
            assert_eq!(Op::from_plain_name(data_op.name()), None);
        }
    }

    #[test]
    fn scalar_functions_and_derivatives_agree() {
        // Each op's scalar derivative against a central difference of its value.
        let ops = UnaryOp::PLAIN.into_iter().chain([
            UnaryOp::Powi(3),
            UnaryOp::Powi(-2),
            UnaryOp::Powi(1),
            UnaryOp::LeakyRelu(Const::new(0.1)),
            UnaryOp::LeakyRelu(Const::new(-0.5)),
            UnaryOp::Clamp(Const::new(-0.5), Const::new(1.0)),
        ]);
        struct Vjp(f64, f64, f64);
        impl UnaryVjpKernel<f64> for Vjp {
            type Out = f64;
            fn call(self, f: impl Fn(f64, f64, f64) -> f64 + Copy) -> f64 {
                f(1.0, self.0, self.1 + self.2)
            }
        }
        for op in ops {
            for x in [0.3, 1.7, -0.8] {
                if matches!(op, UnaryOp::Ln | UnaryOp::Sqrt) && x < 0.0 {
                    continue;
                }
                let h = 1e-6;
                let fd = (op.eval(x + h) - op.eval(x - h)) / (2.0 * h);
                let d = op.with_vjp(Vjp(x, op.eval(x), 0.0)).unwrap();
                assert!((d - fd).abs() < 1e-6, "{op:?} at {x}: {d} vs {fd}");
            }
        }
        assert!(UnaryOp::Powi(0).with_vjp(Vjp(1.0, 1.0, 0.0)).is_none());
        // The one-sided choices at the kinks.
        let at = |op: UnaryOp, x: f64| op.with_vjp(Vjp(x, op.eval(x), 0.0)).unwrap();
        assert_eq!(at(UnaryOp::Abs, 0.0), 0.0);
        assert_eq!(at(UnaryOp::LeakyRelu(Const::new(0.1)), 0.0), 0.1);
        assert_eq!(at(UnaryOp::Elu, 0.0), 1.0);
        let clamp = UnaryOp::Clamp(Const::new(-0.5), Const::new(1.0));
        assert_eq!(
            (at(clamp, -0.5), at(clamp, 1.0), at(clamp, 0.99)),
            (0.0, 0.0, 1.0)
        );
        assert_eq!(clamp.eval(f64::NAN), -0.5);
        assert_eq!(BinaryOp::Min.eval(2.0, 3.0), 2.0);
        assert_eq!(BinaryOp::Max.eval(2.0, 2.0), 2.0);
        assert_eq!(BinaryOp::Gt.eval(2.0f32, 1.0), 1.0);
        assert!(!Op::Binary(BinaryOp::Gt).has_gradient());
        assert!(!Op::OneHot(3).has_gradient());
        assert!(Op::Row(RowOp::Softmax).has_gradient());
        assert!(!Op::Row(RowOp::MaxMask).has_gradient());
    }

    #[test]
    fn concat_and_slice_shapes() {
        let sh = |d: &[usize]| Shape::new(d.to_vec());
        let b = crate::BATCH;
        let cat = |x: &[usize], y: &[usize]| Op::Concat.infer_shape(&[&sh(x), &sh(y)]);
        assert_eq!(cat(&[b, 3], &[b, 2]).unwrap(), sh(&[b, 5]));
        assert_eq!(cat(&[3], &[4]).unwrap(), sh(&[7]));
        assert!(cat(&[2, 3], &[4, 3]).is_err());
        assert!(cat(&[3], &[1, 3]).is_err());
        assert!(cat(&[], &[]).is_err());
        assert!(cat(&[2, b], &[2, 1]).is_err());
        let sl = |start, len, x: &[usize]| Op::SliceLast { start, len }.infer_shape(&[&sh(x)]);
        assert_eq!(sl(1, 2, &[b, 3]).unwrap(), sh(&[b, 2]));
        assert!(sl(2, 2, &[b, 3]).is_err());
        assert!(sl(0, 0, &[3]).is_err());
        assert!(sl(0, 1, &[]).is_err());
    }
}
