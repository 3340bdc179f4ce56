//! The verifier: the structural invariants of every graph and the contracts of
//! the forward, joint and optimized graphs (ARCHITECTURE.md, "Graph contracts").
//! Each check collects every violation rather than stopping at the first, so a
//! broken pass shows all it broke at once; the driver runs them between passes.

use crate::{Graph, IrError, NodeId, Op};
use std::collections::BTreeSet;
use std::fmt;

/// One broken invariant, at a node when it concerns one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifierError {
    /// The node the violation is at, if it is at one.
    pub node: Option<NodeId>,
    /// The node's op and name (``relu `h` ``), or the part of the graph the
    /// violation concerns (`roots`, `inputs`, ...) when it is at no node.
    pub context: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for VerifierError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.node {
            Some(id) => write!(f, "node {id} ({}): {}", self.context, self.message),
            None => write!(f, "{}: {}", self.context, self.message),
        }
    }
}

/// Every violation one check found, in the order it found them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifierErrors(pub Vec<VerifierError>);

impl VerifierErrors {
    /// A violation at node `id` of `g`.
    fn at(&mut self, g: &Graph, id: NodeId, message: impl Into<String>) {
        let op = g.op(id).name();
        let context = match g.name(id) {
            Some(name) => format!("{op} `{name}`"),
            None => op.to_string(),
        };
        self.0.push(VerifierError {
            node: Some(id),
            context,
            message: message.into(),
        });
    }

    /// A violation at no single node.
    fn other(&mut self, context: impl Into<String>, message: impl Into<String>) {
        self.0.push(VerifierError {
            node: None,
            context: context.into(),
            message: message.into(),
        });
    }

    /// A violation about a root: at its node when that exists.
    fn root(&mut self, g: &Graph, node: NodeId, message: String) {
        if exists(g, node) {
            self.at(g, node, message);
        } else {
            self.other("roots", message);
        }
    }

    fn into_result(self) -> Result<(), VerifierErrors> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self)
        }
    }
}

impl fmt::Display for VerifierErrors {
    /// One violation per line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (k, e) in self.0.iter().enumerate() {
            if k > 0 {
                f.write_str("\n")?;
            }
            write!(f, "verifier: {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for VerifierErrors {}

impl From<VerifierErrors> for IrError {
    fn from(e: VerifierErrors) -> Self {
        IrError::new(e.to_string())
    }
}

/// The invariants every graph keeps: arguments precede users (so the graph is
/// acyclic), arities and shapes agree with the ops, at most one batch dimension
/// per shape, the input and parameter lists match the leaves, and every root
/// exists. Passes call it on the graphs they are given, since they index by
/// node id and would panic on a malformed graph.
pub fn verify(g: &Graph) -> Result<(), VerifierErrors> {
    let mut e = VerifierErrors::default();
    structure(g, &mut e);
    e.into_result()
}

/// A frontend graph: [`verify`], every input and parameter named (distinct
/// names), and exactly one root, `out`, which is a scalar (the loss) when the
/// graph has parameters.
pub fn verify_forward(g: &Graph) -> Result<(), VerifierErrors> {
    let mut e = VerifierErrors::default();
    structure(g, &mut e);
    leaf_names(g, &mut e);
    match g.roots() {
        [r] => {
            if r.name != "out" {
                e.root(
                    g,
                    r.node,
                    format!("the root is `{}`, expected `out`", r.name),
                );
            }
            if !g.params().is_empty() && exists(g, r.node) && !g.shape(r.node).is_scalar() {
                e.at(
                    g,
                    r.node,
                    format!(
                        "the root of a graph with parameters is the loss and must be a scalar, it has shape {}",
                        g.shape(r.node)
                    ),
                );
            }
        }
        rs => e.other(
            "roots",
            format!(
                "a forward graph has exactly one root (`out`), this one has {}",
                rs.len()
            ),
        ),
    }
    e.into_result()
}

/// The roots a gradient graph (joint or optimized) ends with, checked on the
/// graph alone: [`verify`], named leaves, then the roots `loss` (a scalar)
/// and `d_<param>` for every parameter in order, each with the parameter's
/// shape. Codegen checks this before emitting `forward_backward`.
pub fn verify_gradient_roots(g: &Graph) -> Result<(), VerifierErrors> {
    let mut e = VerifierErrors::default();
    gradient_roots(g, &mut e);
    e.into_result()
}

/// An autodiff result: [`verify_gradient_roots`], every node of `forward` at
/// the same id with the same op, arguments, shape and name, no other inputs or
/// parameters, and `loss` is the forward root.
pub fn verify_joint(forward: &Graph, joint: &Graph) -> Result<(), VerifierErrors> {
    let mut e = VerifierErrors::default();
    gradient_roots(joint, &mut e);
    if joint.len() < forward.len() {
        e.other(
            "joint graph",
            format!(
                "has {} nodes, fewer than the forward graph's {}",
                joint.len(),
                forward.len()
            ),
        );
    }
    for id in forward.node_ids().take(joint.len()) {
        let (f, j) = (forward.node(id), joint.node(id));
        if f.op != j.op || f.args != j.args || f.shape != j.shape || f.name != j.name {
            e.at(
                joint,
                id,
                format!(
                    "is {}, but the forward node at this id is {}",
                    describe(joint, id),
                    describe(forward, id)
                ),
            );
        }
    }
    if joint.inputs() != forward.inputs() {
        e.other(
            "inputs",
            format!(
                "the joint graph's inputs are {:?}, the forward graph's {:?}",
                joint.inputs(),
                forward.inputs()
            ),
        );
    }
    if joint.params() != forward.params() {
        e.other(
            "parameters",
            format!(
                "the joint graph's parameters are {:?}, the forward graph's {:?}",
                joint.params(),
                forward.params()
            ),
        );
    }
    if let (Some(l), Some(f)) = (joint.roots().first(), forward.roots().first()) {
        if l.node != f.node && exists(joint, l.node) {
            e.at(
                joint,
                l.node,
                format!("root `{}` is not the forward root, node {}", l.name, f.node),
            );
        }
    }
    e.into_result()
}

/// An optimizer result: [`verify`], the inputs and parameters of `joint` in
/// the same order with the same names and shapes, and its roots in the same
/// order with the same names and shapes. With [`verify_joint`] on `joint`, the
/// optimized graph keeps the gradient roots too.
pub fn verify_optimized(joint: &Graph, optimized: &Graph) -> Result<(), VerifierErrors> {
    let mut e = VerifierErrors::default();
    structure(optimized, &mut e);
    for (what, want, got) in [
        ("input", joint.inputs(), optimized.inputs()),
        ("parameter", joint.params(), optimized.params()),
    ] {
        if want.len() != got.len() {
            e.other(
                format!("{what}s"),
                format!(
                    "the optimized graph has {}, the joint graph {}",
                    got.len(),
                    want.len()
                ),
            );
        }
        for (k, (&w, &o)) in want.iter().zip(got).enumerate() {
            if !exists(joint, w) || !exists(optimized, o) {
                continue;
            }
            let (wn, on) = (joint.name(w), optimized.name(o));
            if wn != on || joint.shape(w) != optimized.shape(o) {
                e.at(
                    optimized,
                    o,
                    format!(
                        "{what} {k} is `{}` of shape {}, the joint graph's is `{}` of shape {}",
                        on.unwrap_or("?"),
                        optimized.shape(o),
                        wn.unwrap_or("?"),
                        joint.shape(w)
                    ),
                );
            }
        }
    }
    let (want, got) = (joint.roots(), optimized.roots());
    if want.len() != got.len() {
        e.other(
            "roots",
            format!(
                "the optimized graph has {}, the joint graph {}",
                got.len(),
                want.len()
            ),
        );
    }
    for (k, (w, o)) in want.iter().zip(got).enumerate() {
        if w.name != o.name {
            e.root(
                optimized,
                o.node,
                format!(
                    "root {k} is `{}`, the joint graph's is `{}`",
                    o.name, w.name
                ),
            );
        }
        if exists(joint, w.node)
            && exists(optimized, o.node)
            && joint.shape(w.node) != optimized.shape(o.node)
        {
            e.at(
                optimized,
                o.node,
                format!(
                    "root `{}` has shape {}, in the joint graph {}",
                    o.name,
                    optimized.shape(o.node),
                    joint.shape(w.node)
                ),
            );
        }
    }
    e.into_result()
}

fn exists(g: &Graph, id: NodeId) -> bool {
    id.index() < g.len()
}

/// `(relu 3) [2 4] `h`` for a node: op, arguments, shape and name.
fn describe(g: &Graph, id: NodeId) -> String {
    let n = g.node(id);
    let mut s = format!("({}", n.op.name());
    for a in &n.args {
        s += &format!(" {a}");
    }
    s += &format!(") {}", n.shape);
    if let Some(name) = &n.name {
        s += &format!(" `{name}`");
    }
    s
}

fn structure(g: &Graph, e: &mut VerifierErrors) {
    for id in g.node_ids() {
        let n = g.node(id);
        let mut args_ok = true;
        if n.args.len() != n.op.arity() {
            e.at(
                g,
                id,
                format!("has {} args, op takes {}", n.args.len(), n.op.arity()),
            );
            args_ok = false;
        }
        for a in n.args.iter().filter(|a| **a >= id) {
            e.at(g, id, format!("argument {a} does not precede it"));
            args_ok = false;
        }
        if n.shape.batch_degree() > 1 {
            e.at(
                g,
                id,
                format!(
                    "shape {}: at most one dimension may be the batch size B",
                    n.shape
                ),
            );
        }
        if n.shape.bytes(g.dtype().size()).is_none() {
            e.at(
                g,
                id,
                format!("shape {}: more than {} bytes", n.shape, crate::MAX_BYTES),
            );
        }
        if let Op::Input(i) | Op::Param(i) = n.op {
            let list = if matches!(n.op, Op::Input(_)) {
                g.inputs()
            } else {
                g.params()
            };
            if list.get(i) != Some(&id) {
                e.at(g, id, format!("not registered as {} {i}", n.op.name()));
            }
        } else if args_ok {
            // Only with valid arguments: their shapes are looked up by id.
            let shapes: Vec<_> = n.args.iter().map(|a| g.shape(*a)).collect();
            match n.op.infer_shape(&shapes) {
                Ok(s) if s != n.shape => {
                    e.at(g, id, format!("shape {} but the op gives {s}", n.shape))
                }
                Ok(_) => {}
                Err(err) => e.at(g, id, err.message),
            }
        }
    }
    let leaves = [
        ("input", g.inputs(), Op::Input as fn(usize) -> Op),
        ("param", g.params(), Op::Param),
    ];
    for (what, list, leaf) in leaves {
        for (i, &id) in list.iter().enumerate() {
            if !exists(g, id) || *g.op(id) != leaf(i) {
                e.other(
                    format!("{what}s"),
                    format!("{what} {i} is node {id}, which is no `{what} {i}` leaf"),
                );
            }
        }
    }
    for r in g.roots() {
        if !exists(g, r.node) {
            e.other(
                format!("root `{}`", r.name),
                format!("names missing node {}", r.node),
            );
        }
    }
}

/// Every input and parameter has a name, and no two share one: they become
/// the fields of `Inputs`, `Params` and `Grads`.
fn leaf_names(g: &Graph, e: &mut VerifierErrors) {
    let mut seen = BTreeSet::new();
    for &id in g.inputs().iter().chain(g.params()) {
        if !exists(g, id) {
            continue;
        }
        match g.name(id) {
            None | Some("") => e.at(g, id, "an input or parameter needs a name"),
            Some(name) => {
                if !seen.insert(name) {
                    e.at(g, id, format!("a second input or parameter named `{name}`"));
                }
            }
        }
    }
}

fn gradient_roots(g: &Graph, e: &mut VerifierErrors) {
    structure(g, e);
    leaf_names(g, e);
    let (roots, params) = (g.roots(), g.params());
    if roots.len() != params.len() + 1 {
        e.other(
            "roots",
            format!(
                "{} roots; a gradient graph has `loss` and one gradient for each of {} parameters",
                roots.len(),
                params.len()
            ),
        );
    }
    if let Some(r) = roots.first() {
        if r.name != "loss" {
            e.root(
                g,
                r.node,
                format!("the first root is `{}`, expected `loss`", r.name),
            );
        }
        if exists(g, r.node) && !g.shape(r.node).is_scalar() {
            e.at(
                g,
                r.node,
                format!(
                    "root `{}` is the loss and must be a scalar, it has shape {}",
                    r.name,
                    g.shape(r.node)
                ),
            );
        }
    }
    for (k, (r, &p)) in roots.iter().skip(1).zip(params).enumerate() {
        if !exists(g, p) {
            continue;
        }
        let pname = g.name(p).unwrap_or("?");
        if r.name != format!("d_{pname}") {
            e.root(
                g,
                r.node,
                format!(
                    "root {} is `{}`, expected `d_{pname}` (parameter {k})",
                    k + 1,
                    r.name
                ),
            );
        }
        if exists(g, r.node) && g.shape(r.node) != g.shape(p) {
            e.at(
                g,
                r.node,
                format!(
                    "root `{}` has shape {}, parameter `{pname}` has shape {}",
                    r.name,
                    g.shape(r.node),
                    g.shape(p)
                ),
            );
        }
    }
}
