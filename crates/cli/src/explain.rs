//! `gradc explain`: where a local of the generated code comes from. It prints
//! the node's provenance chain: the optimized-graph node, the source statement
//! and file line, the chain-rule term for backward nodes, its operands, and
//! which rewrites turned the naive chain-rule term into the emitted one (egg's
//! explanation, from `gradc_opt::explain_node`).

use crate::source::{Found, Source};
use crate::Failure;
use gradc_driver::Compiled;
use std::fmt::Write as _;
use std::path::Path;

pub(crate) fn explain(file: &Path, network: Option<&str>, node: &str) -> Result<String, Failure> {
    let src = Source::load(file)?;
    let found = src.select(network)?;
    let compiled = src.compile(&found)?;
    let name = &found.name;
    let Some(g) = &compiled.optimized else {
        return Err(
            format!("network `{name}` has no parameters, so no gradient code to explain").into(),
        );
    };
    let locals = gradc_codegen::local_names(g)
        .map_err(|e| format!("gradc internal error in codegen: {e}"))?;
    let id = locals
        .iter()
        .find(|(_, l)| l == node)
        .map(|(id, _)| *id)
        .or_else(|| g.node_ids().find(|id| g.name(*id) == Some(node)))
        .ok_or_else(|| {
            let known: Vec<&str> = locals.iter().map(|(_, l)| l.as_str()).collect();
            format!(
                "no local `{node}` in the gradient code of `{name}`; it has: {}",
                known.join(", ")
            )
        })?;
    describe(&src, &found, &compiled, &locals, id, node, None)
}

/// What `gradc explain` prints for node `id` of the optimized graph, given
/// its locals ([`gradc_codegen::local_names`]), calling it `node`; the
/// explorer page shows the same text for each node. `explained` is the node's
/// [`gradc_opt::explain_nodes`] answer when the caller has it already.
pub(crate) fn describe(
    src: &Source,
    found: &Found,
    compiled: &Compiled,
    locals: &[(gradc_ir::NodeId, String)],
    id: gradc_ir::NodeId,
    node: &str,
    explained: Option<&gradc_opt::Explanation>,
) -> Result<String, Failure> {
    let name = &found.name;
    let Some(g) = &compiled.optimized else {
        return Err(
            format!("network `{name}` has no parameters, so no gradient code to explain").into(),
        );
    };
    let local = |id: gradc_ir::NodeId| {
        locals
            .iter()
            .find(|(i, _)| *i == id)
            .map_or_else(|| id.to_string(), |(_, l)| l.clone())
    };
    let n = g.node(id);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "`{node}` in the gradient code of `{name}` is node {id} of the optimized graph"
    );
    let args: Vec<String> = n.args.iter().map(|a| local(*a)).collect();
    let _ = writeln!(
        out,
        "  op:        {} {}   shape {}",
        n.op.name(),
        args.join(" "),
        n.shape
    );
    match g.origin(id) {
        Some(o) => {
            let line = src
                .stmt_line(found, o.stmt)
                .map_or_else(String::new, |l| format!("{}:{l}: ", src.path.display()));
            let _ = writeln!(out, "  source:    {line}{}", o.source);
            match &o.term {
                Some(t) => {
                    let _ = writeln!(out, "  pass:      backward");
                    let _ = writeln!(out, "  chain rule: {t}");
                }
                None => {
                    let _ = writeln!(out, "  pass:      forward");
                }
            }
        }
        None if n.op.is_leaf() => {
            let _ = writeln!(out, "  source:    an argument of `{name}`");
        }
        None => {
            let _ = writeln!(
                out,
                "  source:    none recorded (created by a rewrite rule, not by the source or the chain rule)"
            );
        }
    }
    let users: Vec<String> = g.users(id).into_iter().map(local).collect();
    if !users.is_empty() {
        let _ = writeln!(out, "  used by:   {}", users.join(", "));
    }
    let joint = compiled
        .joint
        .as_ref()
        .ok_or("gradc internal error: an optimized graph without a joint graph")?;
    let config = gradc_driver::opt_config(&compiled.network);
    if n.op.is_leaf() {
        let _ = writeln!(out, "  rewrites:  none (not computed by the pass)");
        return Ok(out);
    }
    let e = match explained {
        Some(e) => e.clone(),
        None => gradc_opt::explain_node(joint, g, &config, id)
            .map_err(|e| format!("gradc internal error in explain: {e}"))?,
    };
    if e.explained != id {
        let _ = writeln!(
            out,
            "  rewrites:  `{node}` has no chain-rule term of its own (a rewrite created it);\n             \
             the rewrites that produced its user `{}`:",
            local(e.explained)
        );
    } else {
        let _ = writeln!(
            out,
            "  rewrites:  from the chain rule's term to the emitted one:"
        );
    }
    for line in e.to_string().lines() {
        let _ = writeln!(out, "    {line}");
    }
    Ok(out)
}
