//! What the fused pass keeps in memory: the forward values the backward pass
//! reads (JAX's "saved residuals") and the scratch its buffers need.

use gradc_ir::{Graph, NodeId, Op};
use std::fmt;

/// One forward value read by the backward pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Residual {
    /// The node whose value is kept.
    pub node: NodeId,
    /// The local the generated code holds it in (`h`, `t7`), else `%id`.
    pub name: String,
    /// Shape as the text form prints it (`[4 2]`, `[]`).
    pub shape: String,
    /// Its size in bytes.
    pub bytes: usize,
    /// An argument (`#[input]` or parameter): read in place from the caller's
    /// structs, so it costs no scratch.
    pub is_argument: bool,
    /// The source statement it comes from, if known.
    pub source: Option<String>,
}

/// Memory profile of a joint graph's fused pass.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Memory {
    /// Forward values used by at least one backward node, in id order.
    pub residuals: Vec<Residual>,
    /// Bytes of the residuals that are intermediates (not arguments).
    pub residual_bytes: usize,
    /// Bytes of the argument residuals (read in place).
    pub argument_bytes: usize,
    /// Scratch if every computed value had its own buffer for the whole pass.
    pub scratch_total_bytes: usize,
    /// Most scratch alive at once, in emission (id) order, if every buffer is
    /// released after its last use.
    pub peak_scratch_bytes: usize,
}

/// Which nodes the loss needs (the forward pass), which the gradients need
/// beyond that (the backward pass), and what crosses from one to the other.
pub fn memory(joint: &Graph) -> Memory {
    let n = joint.len();
    let elem = joint.dtype().size();
    let roots: Vec<NodeId> = joint.roots().iter().map(|r| r.node).collect();
    let reach = |from: &[NodeId]| {
        let mut live = vec![false; n];
        for r in from {
            live[r.index()] = true;
        }
        for id in joint.node_ids().rev() {
            if live[id.index()] {
                for a in joint.args(id) {
                    live[a.index()] = true;
                }
            }
        }
        live
    };
    let forward = reach(&roots[..roots.len().min(1)]);
    let live = reach(&roots);
    let backward: Vec<bool> = (0..n).map(|i| live[i] && !forward[i]).collect();
    let computed = |id: NodeId| {
        !matches!(
            joint.op(id),
            Op::Input(_) | Op::Param(_) | Op::Const(_) | Op::Count(_) | Op::Reshape(_)
        )
    };
    let bytes = |id: NodeId| joint.shape(id).nominal_numel() * elem;

    // Name values as the generated code does; the map is empty if it cannot be emitted.
    let locals = crate::emit::forward_backward(joint)
        .map(|(_, _, l)| l)
        .unwrap_or_default();
    // A reshape is a view of its operand's buffer, not a value of its own.
    let storage = |mut id: NodeId| {
        while matches!(joint.op(id), Op::Reshape(_)) {
            id = joint.args(id)[0];
        }
        id
    };
    let mut saved = vec![false; n];
    for id in joint.node_ids() {
        if forward[id.index()] && joint.users(id).iter().any(|u| backward[u.index()]) {
            saved[storage(id).index()] = true;
        }
    }
    let mut m = Memory::default();
    for id in joint.node_ids() {
        if matches!(joint.op(id), Op::Const(_) | Op::Count(_)) {
            continue;
        }
        if saved[id.index()] {
            let r = Residual {
                node: id,
                name: locals
                    .get(&id.index())
                    .cloned()
                    .or_else(|| joint.name(id).map(str::to_string))
                    .unwrap_or_else(|| id.to_string()),
                shape: joint.shape(id).to_string(),
                bytes: bytes(id),
                is_argument: !computed(id),
                source: joint.origin(id).map(|o| o.source.clone()),
            };
            if r.is_argument {
                m.argument_bytes += r.bytes;
            } else {
                m.residual_bytes += r.bytes;
            }
            m.residuals.push(r);
        }
    }

    // Last use of each value; a root stays alive to the end of the pass.
    let mut last = vec![0usize; n];
    for id in joint.node_ids() {
        for a in joint.args(id) {
            let a = storage(*a).index();
            last[a] = last[a].max(id.index());
        }
    }
    for r in &roots {
        last[storage(*r).index()] = n;
    }
    let mut alive = 0usize;
    for id in joint.node_ids() {
        if !live[id.index()] || !computed(id) {
            continue;
        }
        m.scratch_total_bytes += bytes(id);
        alive += bytes(id);
        m.peak_scratch_bytes = m.peak_scratch_bytes.max(alive);
        // Release the arguments this node was the last user of.
        let mut args: Vec<NodeId> = joint.args(id).iter().map(|a| storage(*a)).collect();
        args.sort();
        args.dedup();
        for a in args {
            if computed(a) && last[a.index()] == id.index() {
                alive -= bytes(a);
            }
        }
    }
    m
}

impl fmt::Display for Memory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "saved residuals (forward values the backward pass reads): {} bytes computed, {} bytes of arguments read in place",
            self.residual_bytes, self.argument_bytes
        )?;
        for r in &self.residuals {
            let what = if r.is_argument {
                "argument".to_string()
            } else {
                match &r.source {
                    Some(s) => format!("from `{s}`"),
                    None => "intermediate".to_string(),
                }
            };
            writeln!(
                f,
                "  {:<10} {:<10} {:>8} B  {what}",
                r.name, r.shape, r.bytes
            )?;
        }
        writeln!(
            f,
            "scratch: {} bytes if every value keeps its buffer, peak {} bytes if each is released after its last use",
            self.scratch_total_bytes, self.peak_scratch_bytes
        )
    }
}
