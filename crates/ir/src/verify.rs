use crate::{Graph, IrError, Op};

/// Checks the invariants every pass must keep: arguments precede users (so the
/// graph is acyclic), arities and shapes agree with the ops, argument lists match
/// the leaves, and every root exists. Run between passes in debug and test builds.
pub fn verify(g: &Graph) -> Result<(), IrError> {
    for id in g.node_ids() {
        let n = g.node(id);
        let fail = |m: String| -> Result<(), IrError> {
            Err(IrError::new(format!(
                "verifier: node {id} ({}): {m}",
                n.op.name()
            )))
        };
        if n.args.len() != n.op.arity() {
            return fail(format!(
                "has {} args, op takes {}",
                n.args.len(),
                n.op.arity()
            ));
        }
        if let Some(a) = n.args.iter().find(|a| **a >= id) {
            return fail(format!("argument {a} does not precede it"));
        }
        if n.shape.batch_degree() > 1 {
            return fail(format!(
                "shape {}: at most one dimension may be the batch size B",
                n.shape
            ));
        }
        match n.op {
            Op::Input(i) => {
                if g.inputs().get(i) != Some(&id) {
                    return fail("not registered as that input".into());
                }
            }
            Op::Param(i) => {
                if g.params().get(i) != Some(&id) {
                    return fail("not registered as that parameter".into());
                }
            }
            _ => {
                let shapes: Vec<_> = n.args.iter().map(|a| g.shape(*a)).collect();
                let s = match n.op.infer_shape(&shapes) {
                    Ok(s) => s,
                    Err(e) => return fail(e.message),
                };
                if s != n.shape {
                    return fail(format!("shape {} but the op gives {s}", n.shape));
                }
            }
        }
    }
    for r in g.roots() {
        if r.node.index() >= g.len() {
            return Err(IrError::new(format!(
                "verifier: root {} names missing node {}",
                r.name, r.node
            )));
        }
    }
    Ok(())
}
