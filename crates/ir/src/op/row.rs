//! Row ops: functions of each row along the last axis (sums, log-sum-exp,
//! the softmaxes and the row maximum with its first-maximum mask). Their kernels read a whole row, so the interpreter and codegen
//! each keep one per op; everything else about them is written here.

use super::{BinaryOp, Build, Names, Op, UnaryOp};
use crate::{IrError, NodeId};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
/// An op that reads each row along the last axis as a whole.
pub enum RowOp {
    /// Sum over the last axis, keeping it with size 1.
    SumLast,
    /// `ln Σ exp` over the last axis, computed stably, keeping it with size 1.
    LogSumExp,
    /// Softmax over the last axis.
    Softmax,
    /// `z - logsumexp(z)` over the last axis.
    LogSoftmax,
    /// Maximum over the last axis, keeping it with size 1. The scan keeps the
    /// first of equal maxima (`v > m` replaces), so a NaN is kept only first.
    MaxLast,
    /// 1 at the first maximal element of each row (the one `max_last` keeps),
    /// 0 elsewhere: `max_last`'s gradient mask. Like `gt` it has no gradient.
    MaxMask,
}

impl RowOp {
    /// Every row op, in declaration order.
    pub const ALL: [RowOp; 6] = [
        RowOp::SumLast,
        RowOp::LogSumExp,
        RowOp::Softmax,
        RowOp::LogSoftmax,
        RowOp::MaxLast,
        RowOp::MaxMask,
    ];

    /// The name in the text form, the e-graph language, reports, and (for
    /// the softmaxes) the network body.
    pub const fn name(self) -> &'static str {
        match self {
            RowOp::SumLast => "sum_last",
            RowOp::LogSumExp => "logsumexp",
            RowOp::Softmax => "softmax",
            RowOp::LogSoftmax => "log_softmax",
            RowOp::MaxLast => "max_last",
            RowOp::MaxMask => "max_mask",
        }
    }

    /// The op called `name` in the text form and the body language.
    pub fn from_name(name: &str) -> Option<RowOp> {
        Self::ALL.into_iter().find(|r| r.name() == name)
    }

    /// Whether the result keeps the row (else it is reduced to size 1).
    pub fn keeps_row(self) -> bool {
        match self {
            RowOp::SumLast | RowOp::LogSumExp | RowOp::MaxLast => false,
            RowOp::Softmax | RowOp::LogSoftmax | RowOp::MaxMask => true,
        }
    }

    /// Whether the op passes a gradient (the mask does not).
    pub fn has_gradient(self) -> bool {
        match self {
            RowOp::SumLast
            | RowOp::LogSumExp
            | RowOp::Softmax
            | RowOp::LogSoftmax
            | RowOp::MaxLast => true,
            RowOp::MaxMask => false,
        }
    }

    /// Floating-point operations for `input` operand elements in rows of
    /// `last`, with `out` result elements.
    /// Saturates, like every count of the cost model.
    pub fn flops(self, input: u64, last: u64, out: u64) -> u64 {
        match self {
            RowOp::SumLast => input.saturating_sub(out),
            // Per element: subtract the max, exp, add; per row: ln and add back the max.
            RowOp::LogSumExp => input
                .saturating_mul(3)
                .saturating_add(out.saturating_mul(2)),
            // Per element: subtract the max, exp, add, divide.
            RowOp::Softmax => input.saturating_mul(4),
            // Per element: subtract the max, exp, add, final subtract; per row: ln.
            RowOp::LogSoftmax => input.saturating_mul(4).saturating_add(input / last.max(1)),
            // One comparison per element after the first of each row.
            RowOp::MaxLast => input.saturating_sub(out),
            // The scan for the first maximum, then one store per element.
            RowOp::MaxMask => input.saturating_mul(2),
        }
    }

    /// The symbolic vector-Jacobian product for operand `x` of node `y` with
    /// adjoint `g`; `None` for the mask, which passes no gradient.
    pub fn vjp<B: Build>(
        self,
        b: &mut B,
        x: NodeId,
        y: NodeId,
        g: NodeId,
    ) -> Result<Option<NodeId>, IrError> {
        let d = match self {
            // broadcast_to(shape x, g)
            RowOp::SumLast => b.broadcast_to(g, x),
            // g·softmax(x)
            RowOp::LogSumExp => {
                let s = b.node(RowOp::Softmax, &[x])?;
                b.node(BinaryOp::Mul, &[g, s])
            }
            // y·(g − sum_last(g·y))
            RowOp::Softmax => {
                let gy = b.node(BinaryOp::Mul, &[g, y])?;
                let s = b.node(RowOp::SumLast, &[gy])?;
                let gs = b.node(BinaryOp::Sub, &[g, s])?;
                b.node(BinaryOp::Mul, &[y, gs])
            }
            // g − exp(y)·sum_last(g)
            RowOp::LogSoftmax => {
                let e = b.node(UnaryOp::Exp, &[y])?;
                let s = b.node(RowOp::SumLast, &[g])?;
                let es = b.node(BinaryOp::Mul, &[e, s])?;
                b.node(BinaryOp::Sub, &[g, es])
            }
            // g·max_mask(x): the whole gradient goes to the first maximum
            RowOp::MaxLast => {
                let m = b.node(RowOp::MaxMask, &[x])?;
                b.node(BinaryOp::Mul, &[g, m])
            }
            RowOp::MaxMask => return Ok(None),
        };
        d.map(Some)
    }

    /// The chain-rule term the operand receives, as provenance text.
    pub fn chain_rule(self, n: &Names) -> String {
        let (g, y) = (&n.g, &n.y);
        match self {
            RowOp::SumLast => format!("broadcast({g})"),
            RowOp::LogSumExp => format!("{g} · softmax({})", n.bare[0]),
            RowOp::Softmax => format!("{y} · ({g} − sum_last({g} · {y}))"),
            RowOp::LogSoftmax => format!("{g} − exp({y}) · sum_last({g})"),
            RowOp::MaxLast => format!("{g} · max_mask({})", n.bare[0]),
            RowOp::MaxMask => "0".to_string(),
        }
    }
}

impl From<RowOp> for Op {
    fn from(r: RowOp) -> Op {
        Op::Row(r)
    }
}
