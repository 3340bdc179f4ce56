//! Comments for the readable code. prettyplease drops comments, so they are put
//! into the formatted text afterwards: each top-level `let NAME` line is matched
//! to its node through the emitter's local names, and a comment goes before the
//! first line of every block whose node comes from a different source statement
//! or chain-rule term ([`gradc_ir::Origin`]). Lines the emitter adds around a
//! node (loops, writes) belong to the block above them, so the comments stay
//! right whatever the statements of a node look like.

use crate::names::Locals;
use gradc_ir::{Graph, NodeId, Origin};
use std::collections::BTreeMap;

/// Indentation of a statement directly in the generated fn's body.
const BODY: &str = "    ";

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

/// `code` (a formatted fn) with comments from the provenance of `g`'s nodes.
pub(crate) fn annotate(code: &str, g: &Graph, locals: &Locals) -> String {
    let by_name: BTreeMap<&str, NodeId> = locals
        .iter()
        .map(|(id, name)| (name.as_str(), NodeId::from_index(*id)))
        .collect();
    let mut out = String::with_capacity(code.len() * 2);
    let mut current: Option<&Origin> = None;
    let mut in_backward = false;
    let mut wrote_grads = false;
    for line in code.lines() {
        let origin = bound_name(line)
            .and_then(|n| by_name.get(n))
            .filter(|id| id.index() < g.len())
            .and_then(|id| g.origin(*id));
        if let Some(o) = origin {
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
