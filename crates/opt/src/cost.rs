//! The cost model: floating-point operations and bytes written of one op for
//! its real shapes.

use gradc_ir::{DType, Graph, Op, Shape};

/// Bytes one evaluation of `op` writes: its result buffer, except for a
/// `reshape`, which the generated code aliases, and leaves, which exist anyway.
pub fn op_bytes(op: &Op, out: &Shape, dtype: DType) -> u64 {
    match op {
        // A slice along the first axis is read in place, like a reshape.
        Op::Input(_)
        | Op::Param(_)
        | Op::Const(_)
        | Op::Count(_)
        | Op::Reshape(_)
        | Op::Index(_) => 0,
        Op::Unary(_)
        | Op::Binary(_)
        | Op::OneHot(_)
        | Op::MatMul { .. }
        | Op::Transpose
        | Op::BroadcastTo(_)
        | Op::SumTo(_)
        | Op::Sum
        | Op::Row(_)
        | Op::Stack { .. }
        | Op::Concat
        | Op::SliceLast { .. } => (out.nominal_numel() as u64).saturating_mul(dtype.size() as u64),
    }
}

/// The extraction cost of one op: a flop weighs 4, a byte written 1, and every
/// operation 1 more, so that among equal work fewer statements win. A
/// broadcast constant, free in flops, thus costs its buffer.
pub fn op_cost(op: &Op, args: &[&Shape], out: &Shape, dtype: DType) -> u64 {
    if op.is_leaf() {
        return 0;
    }
    op_flops(op, args, out)
        .saturating_mul(4)
        .saturating_add(op_bytes(op, out, dtype))
        .saturating_add(1)
        .min(MAX_OP_COST)
}

/// The most one op costs: 2^46, past a 16384³ matmul, so the sum of the
/// costs of 2^17 e-nodes still fits a `u64` (extraction adds them up).
pub const MAX_OP_COST: u64 = 1 << 46;

/// Floating-point operations of one evaluation of `op` with argument shapes
/// `args` and result shape `out`.
///
/// A flop is one floating-point arithmetic step per element: add, subtract,
/// multiply, divide, negate, and one each for `exp`, `ln`, `sqrt`, `tanh`;
/// composite ops count their steps (`sigmoid` is exp, add and divide: 3).
/// Comparisons and selects (`gt`, `max`, `relu`, `one_hot`, the running maximum
/// of a softmax) do no arithmetic and count 0, as in the usual flop counts of
/// linear algebra; extraction still charges their bytes and their statement
/// (see [`op_cost`]). Data movement (`transpose`, `reshape`, `broadcast_to`,
/// `concat`, `slice_last`)
/// and leaves are free. A symbolic batch size `B` counts as
/// [`gradc_ir::NOMINAL_BATCH`].
pub fn op_flops(op: &Op, args: &[&Shape], out: &Shape) -> u64 {
    let n = out.nominal_numel() as u64;
    let input = args.first().map_or(0, |s| s.nominal_numel() as u64);
    match op {
        Op::Input(_) | Op::Param(_) | Op::Const(_) | Op::Count(_) => 0,
        Op::Transpose | Op::Reshape(_) | Op::BroadcastTo(_) | Op::OneHot(_) => 0,
        Op::Index(_) | Op::Stack { .. } | Op::Concat | Op::SliceLast { .. } => 0,
        Op::Unary(u) => n.saturating_mul(u.flops()),
        Op::Binary(b) => n.saturating_mul(b.flops()),
        Op::MatMul { ta, .. } => {
            let inner = args.first().and_then(|a| {
                if *ta {
                    a.dims().first()
                } else {
                    a.dims().get(1)
                }
            });
            n.saturating_mul(2)
                .saturating_mul(gradc_ir::nominal(inner.copied().unwrap_or(0)) as u64)
        }
        Op::SumTo(_) => input.saturating_sub(n),
        Op::Sum => input.saturating_sub(1),
        Op::Row(r) => r.flops(
            input,
            gradc_ir::nominal(args.first().and_then(|a| a.last()).unwrap_or(1)) as u64,
            n,
        ),
    }
}

/// Floating-point operations of one evaluation of the live part of `g`.
pub fn flops(g: &Graph) -> u64 {
    let live = g.live();
    g.node_ids()
        .filter(|id| live[id.index()])
        .map(|id| {
            let args: Vec<&Shape> = g.args(id).iter().map(|a| g.shape(*a)).collect();
            op_flops(g.op(id), &args, g.shape(id))
        })
        .fold(0, u64::saturating_add)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gradc_ir::{BinaryOp, RowOp, UnaryOp};

    #[test]
    fn flops_by_hand() {
        let s = |d: &[usize]| Shape::new(d.to_vec());
        let mm = Op::MatMul {
            ta: false,
            tb: false,
        };
        assert_eq!(
            op_flops(&mm, &[&s(&[4, 3]), &s(&[3, 2])], &s(&[4, 2])),
            2 * 4 * 2 * 3
        );
        let mm_tn = Op::MatMul {
            ta: true,
            tb: false,
        };
        assert_eq!(
            op_flops(&mm_tn, &[&s(&[3, 4]), &s(&[3, 2])], &s(&[4, 2])),
            2 * 4 * 2 * 3
        );
        assert_eq!(
            op_flops(
                &Op::Binary(BinaryOp::Add),
                &[&s(&[4, 2]), &s(&[])],
                &s(&[4, 2])
            ),
            8
        );
        assert_eq!(op_flops(&Op::Sum, &[&s(&[4, 2])], &s(&[])), 7);
        assert_eq!(op_flops(&Op::SumTo(s(&[2])), &[&s(&[4, 2])], &s(&[2])), 6);
        assert_eq!(
            op_flops(&Op::Unary(UnaryOp::Powi(2)), &[&s(&[3])], &s(&[3])),
            3
        );
        assert_eq!(op_flops(&Op::Transpose, &[&s(&[3, 2])], &s(&[2, 3])), 0);

        let mut g = Graph::new(gradc_ir::DType::F64);
        let x = g.add_input("x", s(&[4, 2]));
        let dead = g.add(Op::Unary(UnaryOp::Exp), &[x]).unwrap();
        let y = g.add(Op::Unary(UnaryOp::Sigmoid), &[x]).unwrap();
        let l = g.add(Op::Sum, &[y]).unwrap();
        g.add_root("loss", l);
        let _ = dead;
        assert_eq!(flops(&g), 3 * 8 + 7);
        assert_eq!(
            op_flops(&Op::Unary(UnaryOp::Relu), &[&s(&[3])], &s(&[3])),
            0
        );
        assert_eq!(op_flops(&Op::OneHot(5), &[&s(&[3])], &s(&[3, 5])), 0);
        assert_eq!(
            op_flops(&Op::Row(RowOp::Softmax), &[&s(&[2, 5])], &s(&[2, 5])),
            40
        );
    }
}
