//! Stage 3 of the gradc pipeline: symbolic reverse-mode differentiation.
//!
//! [`differentiate`] turns a forward graph (one scalar root) into the joint
//! graph: every forward node at the same id, then the adjoint nodes, built with
//! [`Graph::add`] from the vector-Jacobian products of ARCHITECTURE.md. The
//! roots are `loss` followed by `d_<param>` for every parameter. Derivatives
//! reuse forward values (sigmoid' reads the sigmoid node, it never recomputes
//! it); simplifying the result is the optimizer's job, not this crate's.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod terms;

use gradc_ir::{verify_forward, BinaryOp, Build, Const, Graph, IrError, NodeId, Op, Shape};
use std::collections::BTreeMap;

/// Forward graph (one root, the scalar loss; see [`verify_forward`]) → joint
/// graph. The driver checks the result with `gradc_ir::verify_joint`.
pub fn differentiate(forward: &Graph) -> Result<Graph, IrError> {
    // Node ids index the tables below: a malformed graph must not get further.
    verify_forward(forward)?;
    let Some(root) = forward.roots().first().map(|r| r.node) else {
        return Err(IrError::new("autodiff: the forward graph has no root"));
    };

    let mut b = Builder {
        g: copy_forward(forward),
        consts: BTreeMap::new(),
    };
    let needs = needs_adjoint(forward, root);
    let n = forward.len();
    // Adjoint contributions per forward node, summed once all users are done.
    let mut parts: Vec<Vec<NodeId>> = vec![Vec::new(); n];
    let mut adjoint: Vec<Option<NodeId>> = vec![None; n];
    if needs[root.index()] {
        let seed = b.constant(1.0);
        parts[root.index()].push(seed);
        if let Some(o) = forward.origin(root) {
            b.g.set_origin(seed, o.with_term("dL/dL = 1"));
        }
    }
    // Ids are a topological order, so in reverse every user comes before its arguments.
    for id in forward.node_ids().rev() {
        let i = id.index();
        if !needs[i] || parts[i].is_empty() {
            continue;
        }
        let start = b.g.len();
        let g = b.sum(&parts[i])?;
        if let Some(name) = forward.name(id) {
            b.name_adjoint(g, name, n);
        }
        let origin = forward.origin(id).cloned();
        if let Some(o) = &origin {
            let total = format!("{} = Σ its uses", terms::adjoint(forward, id));
            b.mark(start, &[(g, o.with_term(total))]);
        }
        adjoint[i] = Some(g);
        let start = b.g.len();
        let contributions = b.vjp(forward, id, g, &needs)?;
        for &(k, arg, d) in &contributions {
            debug_assert_eq!(forward.args(id)[k], arg);
            parts[arg.index()].push(d);
        }
        if let Some(o) = &origin {
            let ends: Vec<_> = contributions
                .iter()
                .map(|&(k, _, d)| (d, o.with_term(terms::chain_rule(forward, id, k))))
                .collect();
            b.mark(start, &ends);
        }
    }

    let mut g = b.g;
    g.add_root("loss", root);
    for (k, p) in forward.params().iter().enumerate() {
        let d = match adjoint[p.index()] {
            Some(d) => d,
            // The loss does not depend on this parameter: an explicit zero.
            None => {
                let shape = forward.shape(*p).clone();
                let z = g.constant(0.0);
                if shape.is_scalar() {
                    z
                } else {
                    g.add(Op::BroadcastTo(shape), &[z])?
                }
            }
        };
        let name = forward
            .name(*p)
            .map(str::to_string)
            .unwrap_or_else(|| format!("param{k}"));
        g.add_root(format!("d_{name}"), d);
    }
    Ok(g)
}

/// The forward nodes, same ids, names, inputs and parameters.
fn copy_forward(f: &Graph) -> Graph {
    let mut g = Graph::new(f.dtype());
    for id in f.node_ids() {
        let n = f.node(id);
        let new = match &n.op {
            Op::Input(i) => g.add_input(
                n.name.as_deref().unwrap_or(&format!("input{i}")),
                n.shape.clone(),
            ),
            Op::Param(i) => g.add_param(
                n.name.as_deref().unwrap_or(&format!("param{i}")),
                n.shape.clone(),
            ),
            op => g.push(op.clone(), n.args.clone(), n.shape.clone(), n.name.clone()),
        };
        if let Some(o) = f.origin(id) {
            g.set_origin(new, o.clone());
        }
    }
    g
}

/// Nodes on a path from a parameter to the loss: only they get adjoints. A mask
/// (`gt`) or a one-hot row (`one_hot`) passes no gradient, so it cuts such paths.
fn needs_adjoint(f: &Graph, root: NodeId) -> Vec<bool> {
    let mut live = vec![false; f.len()];
    live[root.index()] = true;
    for id in f.node_ids().rev() {
        if live[id.index()] {
            for a in f.args(id) {
                live[a.index()] = true;
            }
        }
    }
    let mut reach = vec![false; f.len()];
    for id in f.node_ids() {
        reach[id.index()] = matches!(f.op(id), Op::Param(_))
            || (f.op(id).has_gradient() && f.args(id).iter().any(|a| reach[a.index()]));
    }
    (0..f.len()).map(|i| live[i] && reach[i]).collect()
}

struct Builder {
    g: Graph,
    /// Constants created for adjoints, one node per value.
    consts: BTreeMap<Const, NodeId>,
}

impl Builder {
    fn add(&mut self, op: Op, args: &[NodeId]) -> Result<NodeId, IrError> {
        self.g.add(op, args)
    }

    fn constant(&mut self, v: f64) -> NodeId {
        let g = &mut self.g;
        *self
            .consts
            .entry(Const::new(v))
            .or_insert_with(|| g.constant(v))
    }

    /// `sum_to(shape, x)`, omitted where `x` already has that shape.
    fn sum_to(&mut self, x: NodeId, shape: Shape) -> Result<NodeId, IrError> {
        if *self.g.shape(x) == shape {
            Ok(x)
        } else {
            self.add(Op::SumTo(shape), &[x])
        }
    }

    /// `broadcast_to(shape, x)`, omitted where `x` already has that shape.
    fn broadcast_to(&mut self, x: NodeId, shape: Shape) -> Result<NodeId, IrError> {
        if *self.g.shape(x) == shape {
            Ok(x)
        } else {
            self.add(Op::BroadcastTo(shape), &[x])
        }
    }

    /// The sum of a node's adjoint contributions (fan-out), left to right.
    fn sum(&mut self, parts: &[NodeId]) -> Result<NodeId, IrError> {
        let merged;
        let parts = match self.merge_stacks(parts)? {
            Some(m) => {
                merged = m;
                &merged[..]
            }
            None => parts,
        };
        let mut acc = parts[0];
        for &p in &parts[1..] {
            acc = self.add(BinaryOp::Add.into(), &[acc, p])?;
        }
        Ok(acc)
    }

    /// The adjoint of a stacked tensor used slice by slice (`ws[0]`, `ws[1]`, ...
    /// in a loop) arrives as one `stack` per slice: those with disjoint slices
    /// become a single `stack`, so the gradient is assembled once instead of
    /// summing `L` mostly-zero tensors. The merged stack comes first, then the
    /// other parts in order; `None` when there is nothing to merge.
    fn merge_stacks(&mut self, parts: &[NodeId]) -> Result<Option<Vec<NodeId>>, IrError> {
        let mut slices: Vec<(usize, NodeId)> = Vec::new();
        let mut rest = Vec::new();
        let mut len = None;
        for &p in parts {
            match self.g.op(p) {
                Op::Stack { len: l, at }
                    if len.is_none_or(|n| n == *l)
                        && at.iter().all(|j| slices.iter().all(|(k, _)| k != j)) =>
                {
                    len = Some(*l);
                    let args = self.g.args(p);
                    slices.extend(at.iter().copied().zip(args.iter().copied()));
                }
                _ => rest.push(p),
            }
        }
        let (Some(len), true) = (len, parts.len() - rest.len() > 1) else {
            return Ok(None);
        };
        slices.sort_unstable();
        let (at, args): (Vec<usize>, Vec<NodeId>) = slices.into_iter().unzip();
        let stack = self.add(Op::Stack { len, at }, &args)?;
        Ok(Some([stack].into_iter().chain(rest).collect()))
    }

    /// Provenance of the nodes created since `start`: each gets the origin of the
    /// first listed result at or after it (results are listed in creation order).
    fn mark(&mut self, start: usize, results: &[(NodeId, gradc_ir::Origin)]) {
        for id in start..self.g.len() {
            let id = NodeId::from_index(id);
            let o = results.iter().find(|(d, _)| *d >= id).or(results.last());
            if let Some((_, o)) = o {
                self.g.set_origin(id, o.clone());
            }
        }
    }

    /// Names the adjoint `d_<name>` unless it is a forward node or already carries
    /// the name of another adjoint it is shared with (e.g. both operands of `add`).
    fn name_adjoint(&mut self, adj: NodeId, name: &str, forward_len: usize) {
        if adj.index() >= forward_len && self.g.name(adj).is_none() {
            self.g.set_name(adj, format!("d_{name}"));
        }
    }

    /// Vector-Jacobian products of node `id` with output adjoint `g`, for the
    /// arguments that need an adjoint: `(argument position, argument, contribution)`.
    fn vjp(
        &mut self,
        f: &Graph,
        id: NodeId,
        g: NodeId,
        needs: &[bool],
    ) -> Result<Vec<(usize, NodeId, NodeId)>, IrError> {
        let args = f.args(id).to_vec();
        let want = |k: usize| needs[args[k].index()];
        let y = id;
        let mut out: Vec<(usize, NodeId, NodeId)> = Vec::new();
        let mut give = |k: usize, d: NodeId| out.push((k, args[k], d));
        match f.op(id) {
            // Leaves have no arguments.
            Op::Input(_) | Op::Param(_) | Op::Const(_) | Op::Count(_) => {}
            // One-hot rows of labels (data): no gradient.
            Op::OneHot(_) => {}
            // The kinds' own tables (`gradc_ir::UnaryOp::vjp`, ...).
            Op::Unary(u) => {
                if let Some(d) = u.vjp(self, args[0], y, g)? {
                    give(0, d);
                }
            }
            Op::Binary(op) => {
                let ds = op.vjp(self, [args[0], args[1]], y, g, [want(0), want(1)])?;
                for (k, d) in ds.into_iter().enumerate() {
                    if let Some(d) = d {
                        give(k, d);
                    }
                }
            }
            Op::Row(r) => {
                if let Some(d) = r.vjp(self, args[0], y, g)? {
                    give(0, d);
                }
            }
            // slice_last(0, na, g), slice_last(na, nb, g)
            Op::Concat => {
                let last = |k: usize| f.shape(args[k]).last().unwrap_or(1);
                let (na, nb) = (last(0), last(1));
                if want(0) {
                    let d = self.add(Op::SliceLast { start: 0, len: na }, &[g])?;
                    give(0, d);
                }
                if want(1) {
                    let d = self.add(Op::SliceLast { start: na, len: nb }, &[g])?;
                    give(1, d);
                }
            }
            // concat(zeros, g, zeros) along the last axis
            Op::SliceLast { start, len } => {
                let xs = f.shape(args[0]);
                let n = xs.last().unwrap_or(1);
                let zeros = |b: &mut Self, k: usize| {
                    let mut d = xs.dims().to_vec();
                    *d.last_mut().unwrap_or(&mut 0) = k;
                    let z = b.constant(0.0);
                    b.add(Op::BroadcastTo(Shape::new(d)), &[z])
                };
                let mut d = g;
                if *start > 0 {
                    let z = zeros(self, *start)?;
                    d = self.add(Op::Concat, &[z, d])?;
                }
                if start + len < n {
                    let z = zeros(self, n - start - len)?;
                    d = self.add(Op::Concat, &[d, z])?;
                }
                give(0, d);
            }
            // stack(g) into slice i, zeros elsewhere
            Op::Index(i) => {
                let len = f.shape(args[0]).dims()[0];
                let d = self.add(Op::Stack { len, at: vec![*i] }, &[g])?;
                give(0, d);
            }
            // index(at[k], g) for argument k
            Op::Stack { at, .. } => {
                for (k, &j) in at.iter().enumerate() {
                    if want(k) {
                        let d = self.add(Op::Index(j), &[g])?;
                        give(k, d);
                    }
                }
            }
            // nn: ga = g·bᵀ, gb = aᵀ·g; tn: ga = b·gᵀ, gb = a·g;
            // nt: ga = g·b, gb = gᵀ·a; tt: ga = bᵀ·gᵀ, gb = gᵀ·aᵀ
            Op::MatMul { ta, tb } => {
                let (a, bb) = (args[0], args[1]);
                let mm = |ta, tb| Op::MatMul { ta, tb };
                if want(0) {
                    let d = match (ta, tb) {
                        (false, false) => self.add(mm(false, true), &[g, bb])?,
                        (true, false) => self.add(mm(false, true), &[bb, g])?,
                        (false, true) => self.add(mm(false, false), &[g, bb])?,
                        (true, true) => self.add(mm(true, true), &[bb, g])?,
                    };
                    give(0, d);
                }
                if want(1) {
                    let d = match (ta, tb) {
                        (false, false) => self.add(mm(true, false), &[a, g])?,
                        (true, false) => self.add(mm(false, false), &[a, g])?,
                        (false, true) => self.add(mm(true, false), &[g, a])?,
                        (true, true) => self.add(mm(true, true), &[g, a])?,
                    };
                    give(1, d);
                }
            }
            // gᵀ
            Op::Transpose => {
                let d = self.add(Op::Transpose, &[g])?;
                give(0, d);
            }
            // reshape(shape x, g)
            Op::Reshape(_) => {
                let d = self.add(Op::Reshape(f.shape(args[0]).clone()), &[g])?;
                give(0, d);
            }
            // sum_to(shape x, g)
            Op::BroadcastTo(_) => {
                let d = self.sum_to(g, f.shape(args[0]).clone())?;
                give(0, d);
            }
            // broadcast_to(shape x, g)
            Op::SumTo(_) => {
                let d = self.broadcast_to(g, f.shape(args[0]).clone())?;
                give(0, d);
            }
            // broadcast_to(shape x, g)
            Op::Sum => {
                let d = self.broadcast_to(g, f.shape(args[0]).clone())?;
                give(0, d);
            }
        }
        Ok(out)
    }
}

impl Build for Builder {
    fn node(&mut self, op: impl Into<Op>, args: &[NodeId]) -> Result<NodeId, IrError> {
        self.add(op.into(), args)
    }

    fn constant(&mut self, v: f64) -> NodeId {
        Builder::constant(self, v)
    }

    fn sum_to(&mut self, x: NodeId, like: NodeId) -> Result<NodeId, IrError> {
        let shape = self.g.shape(like).clone();
        Builder::sum_to(self, x, shape)
    }

    fn broadcast_to(&mut self, x: NodeId, like: NodeId) -> Result<NodeId, IrError> {
        let shape = self.g.shape(like).clone();
        Builder::broadcast_to(self, x, shape)
    }
}
