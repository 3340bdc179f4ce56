//! Graphviz DOT for a graph: one box per node (id, op, shape, name), an edge from
//! each argument to its user labelled with the argument position, and one
//! double-outlined node per root.

use gradc_ir::Graph;
use std::fmt::Write as _;

/// A DOT string literal's contents.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The graph as a `digraph` named after the network.
pub(crate) fn to_dot(g: &Graph, network: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph \"{}\" {{", escape(network));
    out.push_str("  rankdir=TB;\n  node [shape=box, fontname=\"monospace\"];\n");
    let live = g.live();
    for id in g.node_ids() {
        let n = g.node(id);
        let mut label = format!("{id} {}", n.op.name());
        if let gradc_ir::Op::Const(c) = &n.op {
            let _ = write!(label, " {}", c.value());
        } else if let gradc_ir::Op::Count(c) = &n.op {
            let _ = write!(label, " {}", gradc_ir::Extent::of(*c));
        } else if let gradc_ir::Op::OneHot(c) = &n.op {
            let _ = write!(label, " {c}");
        }
        let _ = write!(label, " {}", n.shape);
        if let Some(name) = &n.name {
            let _ = write!(label, "\\n{}", escape(name));
        }
        let mut attrs = format!("label=\"{label}\"");
        if let Some(o) = g.origin(id) {
            let _ = write!(attrs, ", tooltip=\"{}\"", escape(&o.to_string()));
            if o.is_backward() {
                attrs.push_str(", style=filled, fillcolor=\"#eef4ff\"");
            }
        }
        if !live[id.index()] {
            attrs.push_str(", color=gray, fontcolor=gray");
        }
        let _ = writeln!(out, "  n{} [{attrs}];", id.index());
    }
    for id in g.node_ids() {
        for (pos, a) in g.args(id).iter().enumerate() {
            let _ = writeln!(
                out,
                "  n{} -> n{} [label=\"{pos}\"];",
                a.index(),
                id.index()
            );
        }
    }
    for (k, r) in g.roots().iter().enumerate() {
        let _ = writeln!(
            out,
            "  root{k} [label=\"{}\", shape=doubleoctagon];\n  n{} -> root{k};",
            escape(&r.name),
            r.node.index()
        );
    }
    out.push_str("}\n");
    out
}
