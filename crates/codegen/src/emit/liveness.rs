//! Liveness and fusion: which nodes the roots need, which elementwise nodes
//! are fused into their one user's loop, and the last node that reads each
//! value. Plain analyses of the graph, done once before any code is emitted;
//! buffer reuse ([`super::alloc`]) and fused reads
//! ([`super::Emitter::read_fused`]) act on their results.

use gradc_ir::{Graph, NodeId, Op, RowOp};

/// Which nodes the given roots depend on.
pub(super) fn live_from(g: &Graph, roots: &[NodeId]) -> Vec<bool> {
    let mut live = vec![false; g.len()];
    for r in roots {
        live[r.index()] = true;
    }
    for id in g.node_ids().rev() {
        if live[id.index()] {
            for a in g.args(id) {
                live[a.index()] = true;
            }
        }
    }
    live
}

/// Elementwise ops (those [`Emitter::elementwise`](super::Emitter::elementwise) emits).
fn is_elementwise(op: &Op) -> bool {
    matches!(op, Op::Unary(_) | Op::Binary(_))
}

/// Which live nodes to fuse into their user's loop: a non-scalar elementwise
/// node (or a broadcast of one element) used exactly once (not a root), by an
/// elementwise node of the same shape, or by a reduction if its operands all
/// have its shape or one element. Chains of such nodes become one loop with no
/// buffers between.
pub(super) fn fusable(g: &Graph, roots: &[NodeId], live: &[bool]) -> Vec<bool> {
    let mut uses = vec![0usize; g.len()];
    let mut user = vec![None; g.len()];
    for r in roots {
        uses[r.index()] += 2;
    }
    for id in g.node_ids() {
        if live[id.index()] {
            for a in g.args(id) {
                uses[a.index()] += 1;
                user[a.index()] = Some(id);
            }
        }
    }
    // `flat[id]`: a fused `id` reads every operand, down its fused chain, at
    // its own flat index or 0. Operands precede users, so one pass in id order.
    let mut fused = vec![false; g.len()];
    let mut flat = vec![true; g.len()];
    for id in g.node_ids() {
        let (op, s) = (g.op(id), g.shape(id));
        let kind = is_elementwise(op)
            || matches!(op, Op::BroadcastTo(_) if g.args(id).iter().all(|a| g.shape(*a).numel() == 1));
        let fl = g.args(id).iter().all(|a| {
            (g.shape(*a) == s || g.shape(*a).numel() == 1) && (!fused[a.index()] || flat[a.index()])
        });
        flat[id.index()] = fl;
        // A broadcast operand (a bias row) needs the user's per-dimension loop
        // variables: only an elementwise user of the same shape has them.
        fused[id.index()] = live[id.index()]
            && kind
            && !s.is_scalar()
            && uses[id.index()] == 1
            && user[id.index()].is_some_and(|u| match g.op(u) {
                // Reductions read their operand through `read` too (unless
                // they alias it).
                Op::Sum => fl,
                Op::SumTo(t) => fl && t != s,
                Op::Row(RowOp::SumLast) => fl && s.last().unwrap_or(1) != 1,
                op => is_elementwise(op) && g.shape(u) == s,
            });
    }
    fused
}

/// [`Emitter::last_use`](super::Emitter::last_use) for the live nodes of `g`.
pub(super) fn last_uses(g: &Graph, roots: &[NodeId], live: &[bool], fused: &[bool]) -> Vec<usize> {
    let mut consumer = vec![None; g.len()];
    for id in g.node_ids().filter(|id| live[id.index()]) {
        for a in g.args(id) {
            consumer[a.index()] = Some(id.index());
        }
    }
    // Where a node's value is read: a fused node is read inside its one
    // consumer's loop, transitively.
    let mut at: Vec<usize> = (0..g.len()).collect();
    for i in (0..g.len()).rev() {
        if fused[i] {
            if let Some(c) = consumer[i] {
                at[i] = at[c];
            }
        }
    }
    let mut last = vec![0usize; g.len()];
    for id in g.node_ids().filter(|id| live[id.index()]) {
        for a in g.args(id) {
            let l = &mut last[a.index()];
            *l = (*l).max(at[id.index()]);
        }
    }
    for r in roots {
        last[r.index()] = usize::MAX;
    }
    last
}
