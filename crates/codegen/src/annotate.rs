//! Comments for the readable code. prettyplease drops comments, so they are put
//! into the formatted text afterwards: each top-level `let NAME` line is matched
//! to its node through the emitter's local names, and a comment goes before the
//! first line of every block whose node comes from a different source statement
//! or chain-rule term ([`gradc_ir::Origin`]). A tensor block also gets the term
//! it computes, read from the optimized graph over the locals it reads
//! (`// d_h_add = d_h · gt(h, 0)`), since the optimizer may have rewritten the
//! chain-rule term. Lines the emitter adds around a node (loops, writes) belong
//! to the block above them, so the comments stay right whatever the statements
//! of a node look like.

use crate::names::Locals;
use gradc_ir::{Extent, Graph, Names, NodeId, Op, Origin};
use std::collections::BTreeMap;

/// Indentation of a statement directly in the generated fn's body.
const BODY: &str = "    ";

/// How deep a term spells out operands that have no local before `…`.
const DEPTH: usize = 4;

/// The name a top-level `let` binds: `let mut h_2: [f32; 4] = ...` → `h_2`.
fn bound_name(line: &str) -> Option<&str> {
    let rest = line.strip_prefix(BODY)?.strip_prefix("let ")?;
    let rest = rest.strip_prefix("mut ").unwrap_or(rest);
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    (end > 0).then(|| &rest[..end])
}

/// The comment that introduces a block from `o`.
fn comment(o: &Origin) -> String {
    match &o.term {
        Some(term) => format!("{BODY}// {term}"),
        None => format!("{BODY}// source: {}", o.source),
    }
}

/// Binding strength of a term's outermost operation, for parentheses.
fn precedence(name: &str) -> u8 {
    match name {
        "add" | "sub" => 1,
        "mul" | "div" | "matmul" | "matmul.tn" | "matmul.nt" | "matmul.tt" => 2,
        _ => 3,
    }
}

/// The value of `id` as a term: its local if it has one (unless `top`), else
/// its op over its operands' terms, so fused and aliased nodes are spelled out.
fn term(
    g: &Graph,
    id: NodeId,
    locals: &BTreeMap<usize, String>,
    depth: usize,
    top: bool,
) -> String {
    let op = g.op(id);
    if !top {
        if let Some(name) = locals.get(&id.index()) {
            return name.clone();
        }
    }
    if let Op::Const(c) = op {
        let v = c.value();
        return if v.fract() == 0.0 && v.abs() < 1e15 {
            format!("{}", v as i64)
        } else {
            format!("{v}")
        };
    }
    if let Op::Count(n) = op {
        return Extent::of(*n).to_string();
    }
    if depth == 0 {
        return "…".into();
    }
    let args = g.args(id);
    let name = op.name();
    // Shape plumbing moves no value a reader needs to see.
    if matches!(name, "reshape" | "broadcast_to") || (name == "sum_to" && !top) {
        return term(g, args[0], locals, depth, false);
    }
    let prec = precedence(name);
    let operand = |k: usize, right: bool| {
        let a = args[k];
        let s = term(g, a, locals, depth - 1, false);
        let spelled = !locals.contains_key(&a.index())
            && !matches!(
                g.op(a).name(),
                "const" | "count" | "reshape" | "broadcast_to"
            );
        let pa = precedence(g.op(a).name());
        if spelled && (pa < prec || (right && pa == prec && prec < 3)) {
            format!("({s})")
        } else {
            s
        }
    };
    let has = |k: usize| k < args.len();
    let names = || Names {
        x: [0, 1].map(|k| {
            if has(k) {
                operand(k, k == 1)
            } else {
                String::new()
            }
        }),
        bare: [0, 1].map(|k| {
            if has(k) {
                term(g, args[k], locals, depth - 1, false)
            } else {
                String::new()
            }
        }),
        ..Names::default()
    };
    let t = |transposed: bool| if transposed { "ᵀ" } else { "" };
    match op {
        // The op tables spell their kinds: `a + b`, `−x`, `x²`, `tanh(x)`.
        Op::Unary(u) => u.describe(&names()),
        Op::Binary(b) => b.describe(&names()),
        Op::MatMul { ta, tb } => format!(
            "{}{} · {}{}",
            operand(0, false),
            t(*ta),
            operand(1, true),
            t(*tb)
        ),
        Op::Transpose => format!("{}ᵀ", operand(0, false)),
        Op::Index(i) => format!("{}[{i}]", operand(0, false)),
        Op::Input(_)
        | Op::Param(_)
        | Op::Const(_)
        | Op::Count(_)
        | Op::OneHot(_)
        | Op::Reshape(_)
        | Op::BroadcastTo(_)
        | Op::SumTo(_)
        | Op::Sum
        | Op::Row(_)
        | Op::Stack { .. }
        | Op::Concat
        | Op::SliceLast { .. } => {
            let inner: Vec<String> = (0..args.len())
                .map(|k| term(g, args[k], locals, depth - 1, false))
                .collect();
            format!("{name}({})", inner.join(", "))
        }
    }
}

/// `code` (a formatted fn) with comments from the provenance of `g`'s nodes.
pub(crate) fn annotate(code: &str, g: &Graph, locals: &Locals) -> String {
    let by_name: BTreeMap<&str, NodeId> = locals
        .iter()
        .map(|(id, name)| (name.as_str(), NodeId::from_index(*id)))
        .collect();
    let mut out = String::with_capacity(code.len() * 2);
    let mut current: Option<&Origin> = None;
    let mut current_node: Option<NodeId> = None;
    let mut in_backward = false;
    let mut wrote_grads = false;
    // A body split into parts borrows a value again in a later part: only its
    // first `let` is where it is computed.
    let mut seen = std::collections::BTreeSet::new();
    for line in code.lines() {
        // A buffer's stack array (`let mut h_stack = ..`) opens its block.
        let node = bound_name(line)
            .and_then(|n| {
                by_name
                    .get(n)
                    .or_else(|| n.strip_suffix("_stack").and_then(|n| by_name.get(n)))
            })
            .copied()
            .filter(|id| id.index() < g.len())
            .filter(|id| seen.insert(*id) || current_node == Some(*id));
        if let Some(id) = node {
            if let Some(o) = g.origin(id) {
                if current != Some(o) {
                    if o.is_backward() && !in_backward {
                        in_backward = true;
                        out.push('\n');
                        out.push_str(BODY);
                        out.push_str("// backward pass: the chain rule, from the loss down\n");
                    }
                    out.push_str(&comment(o));
                    out.push('\n');
                    current = Some(o);
                }
            }
            let leaf = matches!(g.op(id).name(), "input" | "param");
            if current_node != Some(id) && !leaf && !g.shape(id).is_scalar() {
                out.push_str(&format!(
                    "{BODY}// {} = {}\n",
                    locals[&id.index()],
                    term(g, id, locals, DEPTH, true)
                ));
            }
            current_node = Some(id);
        } else if !wrote_grads && line.starts_with(&format!("{BODY}grads.")) {
            wrote_grads = true;
            out.push('\n');
            out.push_str(BODY);
            out.push_str("// the gradients out\n");
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::bound_name;

    #[test]
    fn finds_the_bound_name() {
        assert_eq!(bound_name("    let h: f32 = x;"), Some("h"));
        assert_eq!(bound_name("    let mut d_w1 = [0.0f32; 4];"), Some("d_w1"));
        assert_eq!(bound_name("        let mx = 1;"), None);
        assert_eq!(bound_name("    grads.w = d_w;"), None);
    }
}
