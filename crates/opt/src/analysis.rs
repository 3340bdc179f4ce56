//! Per-e-class facts: the tensor shape, and the value when the class is a known
//! scalar constant (constant folding).

use crate::lang::ENode;
use egg::{Analysis, DidMerge, EGraph, Id};
use gradc_ir::{Const, DType, Op, Shape};

/// What the analysis knows about one e-class.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassData {
    /// The shape of every node in the class.
    pub shape: Shape,
    /// The value, if every term in the class is the same scalar constant.
    pub constant: Option<Const>,
}

/// Shape inference and exact scalar constant folding over the e-graph.
///
/// Leaf ops only carry an index, so the analysis holds the argument shapes.
/// A shape that cannot be inferred or two shapes that disagree on a merge mean a
/// rule is wrong; the analysis records the first such fault and `optimize`
/// returns it as an error instead of emitting a wrong graph.
#[derive(Debug, Default)]
pub struct ShapeAnalysis {
    /// The element type of the graph being optimized.
    pub dtype: Option<DType>,
    /// The shapes of its inputs, by index.
    pub inputs: Vec<Shape>,
    /// The shapes of its parameters, by index.
    pub params: Vec<Shape>,
    /// The first fault met (a rule that is wrong), which `optimize` returns.
    pub fault: Option<String>,
    /// Whether FastMath rules run: only they may merge constants that differ
    /// by rounding (see [`ShapeAnalysis::merge`]).
    pub fast_math: bool,
    /// Classes given a value by folding, reported as the `const-fold` rule.
    pub folded: usize,
}

/// The e-graph gradc optimizes in.
pub type EG = EGraph<ENode, ShapeAnalysis>;

impl ShapeAnalysis {
    // No assertion here: in a proc macro a panic is worse than the error
    // `optimize` returns, which the driver turns into a compile error.
    fn note_fault(&mut self, m: String) {
        if self.fault.is_none() {
            self.fault = Some(m);
        }
    }
}

/// Folds `op` over scalar constants, computing in the graph's element type so
/// the folded value is bit-identical to what the compiled code would compute.
/// Only correctly rounded IEEE operations are folded, and only when operands and
/// result are finite and the result is not −0 (a `Const` cannot hold −0).
fn fold(dtype: DType, op: &Op, args: &[f64]) -> Option<f64> {
    if args.iter().any(|a| !a.is_finite()) {
        return None;
    }
    fn eval<T: gradc_ir::Float>(op: &Op, args: &[f64]) -> Option<f64> {
        let r = if let (Op::Unary(u), &[x]) = (op, args) {
            u.is_exactly_rounded().then(|| u.eval(T::from_f64(x)))
        } else if let (Op::Binary(b), &[x, y]) = (op, args) {
            b.is_exactly_rounded()
                .then(|| b.eval(T::from_f64(x), T::from_f64(y)))
        } else {
            None
        };
        r.map(T::to_f64)
    }
    let r = match dtype {
        DType::F32 => eval::<f32>(op, args)?,
        DType::F64 => eval::<f64>(op, args)?,
    };
    if !r.is_finite() || (r == 0.0 && r.is_sign_negative()) {
        return None;
    }
    Some(r)
}

/// Whether two folded constants differ only by rounding: within a few ulps
/// of the element type (f32 constants are stored rounded to f32).
fn close(dtype: Option<DType>, a: f64, b: f64) -> bool {
    let tol = match dtype {
        Some(DType::F32) => 1e-6,
        _ => 1e-9,
    };
    (a - b).abs() <= tol * a.abs().max(b.abs())
}

impl Analysis<ENode> for ShapeAnalysis {
    type Data = ClassData;

    fn make(egraph: &mut EG, enode: &ENode, _id: Id) -> ClassData {
        let leaf = |v: &Vec<Shape>, i: usize| v.get(i).cloned();
        let shape = match &enode.op {
            Op::Input(i) => leaf(&egraph.analysis.inputs, *i),
            Op::Param(i) => leaf(&egraph.analysis.params, *i),
            op => {
                let shapes: Vec<&Shape> = enode
                    .children
                    .iter()
                    .map(|c| &egraph[*c].data.shape)
                    .collect();
                op.infer_shape(&shapes).ok()
            }
        };
        let Some(shape) = shape else {
            let m = format!("optimizer: cannot infer the shape of `{enode}`");
            egraph.analysis.note_fault(m);
            return ClassData {
                shape: Shape::scalar(),
                constant: None,
            };
        };
        let dtype = egraph.analysis.dtype.unwrap_or(DType::F64);
        let constant = if let Op::Const(c) = &enode.op {
            // As the element type sees it: an f32 literal like 16777217 is
            // 16777216, the same value a fold computes, so the two must agree.
            let v = match dtype {
                DType::F32 => c.value() as f32 as f64,
                DType::F64 => c.value(),
            };
            (v.is_finite() && !(v == 0.0 && v.is_sign_negative())).then(|| Const::new(v))
        } else if shape.is_scalar() && !enode.children.is_empty() {
            let vals: Option<Vec<f64>> = enode
                .children
                .iter()
                .map(|c| egraph[*c].data.constant.map(Const::value))
                .collect();
            vals.and_then(|v| fold(dtype, &enode.op, &v))
                .map(Const::new)
        } else {
            None
        };
        ClassData { shape, constant }
    }

    fn merge(&mut self, a: &mut ClassData, b: ClassData) -> DidMerge {
        if a.shape != b.shape {
            self.note_fault(format!(
                "optimizer: merged e-classes of shapes {} and {}",
                a.shape, b.shape
            ));
        }
        match (a.constant, b.constant) {
            (None, Some(c)) => {
                a.constant = Some(c);
                DidMerge(true, false)
            }
            (Some(_), None) => DidMerge(false, true),
            // FastMath rewrites (reassociation, distribution) fold constants in
            // another order, so one class may get values a few ulps apart: keep
            // the first. A larger gap, or any gap without FastMath (an Exact or
            // Stabilizing rule must not change a value), means a wrong rewrite.
            (Some(x), Some(y))
                if x != y && !(self.fast_math && close(self.dtype, x.value(), y.value())) =>
            {
                self.note_fault(format!(
                    "optimizer: merged constants {:?} and {:?}",
                    x.value(),
                    y.value()
                ));
                DidMerge(false, false)
            }
            _ => DidMerge(false, false),
        }
    }

    fn modify(egraph: &mut EG, id: Id) {
        if let Some(c) = egraph[id].data.constant {
            let has_const = egraph[id].nodes.iter().any(|n| n.op == Op::Const(c));
            if !has_const {
                let k = egraph.add(ENode::leaf(Op::Const(c)));
                egraph.union(id, k);
                egraph.analysis.folded += 1;
            }
            // A constant class keeps only its leaf: extraction picks the free
            // leaf anyway, and the other forms feed loops such as `0 = 0.25·0`,
            // where `a·(b·x) → (ab)·x` would mint a new power of two each
            // iteration down to the smallest normal (quadratically many matches).
            let id = egraph.find(id);
            egraph[id].nodes.retain(|n| n.children.is_empty());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gradc_ir::{BinaryOp, UnaryOp};

    #[test]
    fn folding_is_exact_in_the_element_type() {
        // 0.1 + 0.2 differs between f32 and f64.
        let f32_sum = fold(DType::F32, &Op::Binary(BinaryOp::Add), &[0.1, 0.2]).unwrap();
        assert_eq!(f32_sum, (0.1f32 + 0.2f32) as f64);
        assert_eq!(
            fold(DType::F64, &Op::Binary(BinaryOp::Add), &[0.1, 0.2]),
            Some(0.1 + 0.2)
        );
        assert_eq!(
            fold(DType::F64, &Op::Binary(BinaryOp::Div), &[1.0, 0.0]),
            None
        );
        assert_eq!(fold(DType::F64, &Op::Unary(UnaryOp::Neg), &[0.0]), None);
        assert_eq!(fold(DType::F64, &Op::Unary(UnaryOp::Exp), &[0.0]), None);
        assert_eq!(
            fold(DType::F64, &Op::Binary(BinaryOp::Gt), &[2.0, 1.0]),
            Some(1.0)
        );
    }

    #[test]
    fn constants_close_by_the_element_types_ulps() {
        // Adjacent f32 values that fast_math reassociation of 3·3·…·3 folded in
        // two orders (found by the random-graph fuzzer).
        let (a, b) = (3486784256.0, 3486784512.0);
        assert_eq!(a as f32 as f64, a);
        assert_eq!(b as f32 as f64, b);
        assert!(close(Some(DType::F32), a, b));
        assert!(!close(Some(DType::F64), a, b));
        assert!(!close(Some(DType::F32), 1.0, 1.001));
        assert!(close(Some(DType::F64), 1.0, 1.0 + 1e-12));
    }

    #[test]
    fn only_fast_math_merges_constants_that_differ() {
        let merge = |fast_math: bool, a: f64, b: f64| {
            let mut eg = EG::new(ShapeAnalysis {
                dtype: Some(DType::F64),
                fast_math,
                ..ShapeAnalysis::default()
            });
            let x = eg.add(ENode::leaf(Op::constant(a)));
            let y = eg.add(ENode::leaf(Op::constant(b)));
            eg.union(x, y);
            eg.rebuild();
            eg.analysis.fault
        };
        let near = 1.0 + 1e-12;
        assert!(merge(true, 1.0, near).is_none());
        let fault = merge(false, 1.0, near).expect("an exact tier must not merge 1 and 1 + 1e-12");
        assert!(fault.contains("merged constants"), "{fault}");
        assert!(merge(true, 1.0, 1.001).is_some());
        assert!(merge(false, 2.0, 2.0).is_none());
    }
}
