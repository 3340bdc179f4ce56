//! `gradc explore`: one self-contained HTML page (inline CSS, JS and SVG; no
//! server, nothing fetched) with a network's source, its forward, joint and
//! optimized graphs, the generated code and the optimizer report. The parts
//! are linked by data attributes the page's script reads: `data-stmt` (the
//! body statement a node or line comes from), `data-term` (its chain-rule
//! term, for backward ones), `data-node` and `data-nodes` (optimized-graph
//! nodes a line of code computes). The page is well-formed XML as well as
//! HTML, so tests can parse it.

use crate::explain::describe;
use crate::source::{Found, Source};
use crate::svg::{self, esc};
use crate::{Failure, Stage};
use gradc_driver::Compiled;
use gradc_ir::{Graph, NodeId, Origin};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use syn::spanned::Spanned;

/// Indentation of a statement directly in the generated fn's body.
const BODY: &str = "    ";

pub(crate) fn write(file: &Path, network: Option<&str>, output: &Path) -> Result<String, Failure> {
    let src = Source::load(file)?;
    let found = src.select(network)?;
    let compiled = src.compile(&found)?;
    let html = page(&src, &found, &compiled)?;
    std::fs::write(output, &html).map_err(|e| format!("cannot write {}: {e}", output.display()))?;
    Ok(format!(
        "wrote {} ({} bytes): the explorer page of `{}`\n",
        output.display(),
        html.len(),
        found.name
    ))
}

/// `data-stmt` and `data-term` of something that came from `o`.
fn origin_attrs(o: Option<&Origin>) -> String {
    let mut s = String::new();
    if let Some(o) = o {
        let _ = write!(s, " data-stmt=\"{}\"", o.stmt);
        if let Some(t) = &o.term {
            let _ = write!(s, " data-term=\"{}\"", esc(t));
        }
    }
    s
}

/// The name a top-level `let` binds: `let mut h_2: [f32; 4] = ...` → `h_2`.
fn bound_name(line: &str) -> Option<&str> {
    let rest = line.strip_prefix(BODY)?.strip_prefix("let ")?;
    let rest = rest.strip_prefix("mut ").unwrap_or(rest);
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    (end > 0).then(|| &rest[..end])
}

/// What a line of generated code is, for linking and colour.
#[derive(Clone, Copy, PartialEq, Eq)]
enum LineKind {
    Code,
    /// The source statement or chain-rule term a block comes from.
    Origin,
    /// The optimized term one node computes (`// d_h = d_yhat · w2ᵀ`).
    Term,
    /// A comment that belongs to no node (`// the gradients out`), or blank.
    Other,
}

impl LineKind {
    fn class(self) -> &'static str {
        match self {
            LineKind::Code => "code",
            LineKind::Origin => "origin",
            LineKind::Term => "term",
            LineKind::Other => "other",
        }
    }
}

/// Which optimized node each line of the gradient code belongs to. A body-level
/// `let` opens a node's block (its loops and writes follow it); comments belong
/// to the block after them; `grads.p` lines to the root `d_p`.
fn code_lines(
    code: &str,
    g: &Graph,
    locals: &[(NodeId, String)],
) -> Vec<(LineKind, Option<NodeId>)> {
    let by_name: BTreeMap<&str, NodeId> = locals.iter().map(|(id, n)| (n.as_str(), *id)).collect();
    let local_of: BTreeMap<NodeId, &str> = locals.iter().map(|(id, n)| (*id, n.as_str())).collect();
    let root = |name: &str| g.roots().iter().find(|r| r.name == name).map(|r| r.node);
    let mut out: Vec<(LineKind, Option<NodeId>)> = Vec::new();
    let mut pending: Vec<usize> = Vec::new();
    let mut current: Option<NodeId> = None;
    let lines: Vec<&str> = code.lines().collect();
    for &line in &lines {
        let t = line.trim();
        if t.starts_with("//") {
            pending.push(out.len());
            out.push((LineKind::Other, None));
            continue;
        }
        let opened = bound_name(line).and_then(|n| {
            by_name
                .get(n)
                .or_else(|| n.strip_suffix("_stack").and_then(|n| by_name.get(n)))
                .copied()
        });
        let opened = opened.or_else(|| {
            let p = line.strip_prefix(BODY)?.strip_prefix("grads.")?;
            let end = p
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(p.len());
            root(&format!("d_{}", &p[..end]))
        });
        let opened = opened.or_else(|| {
            (line == format!("{BODY}loss"))
                .then(|| root("loss"))
                .flatten()
        });
        if let Some(id) = opened {
            current = Some(id);
            for k in pending.drain(..) {
                let text = lines[k].trim();
                let origin = g.origin(id).map(|o| match &o.term {
                    Some(term) => format!("// {term}"),
                    None => format!("// source: {}", o.source),
                });
                let term_prefix = local_of.get(&id).map(|l| format!("// {l} = "));
                out[k] = if origin.as_deref() == Some(text) {
                    (LineKind::Origin, Some(id))
                } else if term_prefix.is_some_and(|p| text.starts_with(&p)) {
                    (LineKind::Term, Some(id))
                } else {
                    (LineKind::Other, None)
                };
            }
        }
        if t.is_empty() {
            current = None;
            out.push((LineKind::Other, None));
        } else {
            out.push((LineKind::Code, current));
        }
    }
    out
}

/// `id` and the nodes fused into its code: arguments without a local of
/// their own that are not leaves, transitively.
fn block_nodes(g: &Graph, id: NodeId, has_local: &[bool]) -> Vec<NodeId> {
    let mut out = vec![id];
    let mut k = 0;
    while k < out.len() {
        for &a in g.args(out[k]) {
            if !has_local[a.index()] && !g.op(a).is_leaf() && !out.contains(&a) {
                out.push(a);
            }
        }
        k += 1;
    }
    out.sort();
    out
}

fn join_ids(ids: &[NodeId]) -> String {
    ids.iter()
        .map(|i| i.index().to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The text of `gradc show --emit report`.
pub(crate) fn report_text(name: &str, compiled: &Compiled) -> String {
    let mut out = format!("network `{name}`\n\n");
    if compiled.network.graph.is_batch_generic() {
        let _ = write!(
            out,
            "batch size B chosen by the caller: counts below are for B = {}\n\n",
            gradc_ir::NOMINAL_BATCH
        );
    }
    out.push_str(&compiled.report.to_string());
    if let Some(opt) = &compiled.optimized {
        out.push('\n');
        out.push_str(&gradc_codegen::memory(opt).to_string());
    } else {
        out.push_str("\nno parameters: no backward pass, no saved residuals\n");
    }
    out
}

/// The whole page.
pub(crate) fn page(src: &Source, found: &Found, compiled: &Compiled) -> Result<String, Failure> {
    let name = &found.name;
    let internal = |e: gradc_ir::IrError| Failure::from(format!("gradc internal error: {e}"));

    // The network's lines of the file, each tagged with its body statement.
    let span = found.item.span();
    let (first, last) = (span.start().line.max(1), span.end().line.max(1));
    let mut stmt_of_line: BTreeMap<usize, usize> = BTreeMap::new();
    for (k, s) in found.item.block.stmts.iter().enumerate() {
        let sp = s.span();
        for l in sp.start().line..=sp.end().line {
            stmt_of_line.insert(l, k);
        }
    }
    let mut source = String::new();
    for l in first..=last {
        let stmt = stmt_of_line
            .get(&l)
            .map_or_else(String::new, |k| format!(" data-stmt=\"{k}\""));
        let _ = writeln!(
            source,
            "<div class=\"line src-line\" id=\"src-L{l}\" data-line=\"{l}\"{stmt}><span class=\"ln\">{l}</span>{}</div>",
            esc(src.line(l))
        );
    }

    // Generated code, each line linked to the optimized nodes it computes.
    let code = &compiled.gradient_code;
    let mut code_html = String::new();
    let mut explains = String::new();
    match &compiled.optimized {
        Some(opt) => {
            let locals = gradc_codegen::local_names(opt).map_err(internal)?;
            let mut has_local = vec![false; opt.len()];
            for (id, _) in &locals {
                has_local[id.index()] = true;
            }
            let kinds = code_lines(code, opt, &locals);
            for (i, (line, (kind, node))) in code.lines().zip(&kinds).enumerate() {
                let mut attrs = format!(" id=\"code-L{}\"", i + 1);
                if let Some(id) = node {
                    let _ = write!(
                        attrs,
                        " data-node=\"{}\" data-nodes=\"{}\"{}",
                        id.index(),
                        join_ids(&block_nodes(opt, *id, &has_local)),
                        origin_attrs(opt.origin(*id))
                    );
                }
                let _ = writeln!(
                    code_html,
                    "<div class=\"line code-line {}\"{attrs}><span class=\"ln\">{}</span>{}</div>",
                    kind.class(),
                    i + 1,
                    esc(line)
                );
            }
            // What `gradc explain` prints, for every node, from one replay
            // of the saturation.
            let joint = compiled.joint.as_ref().ok_or_else(|| {
                Failure::from("gradc internal error: an optimized graph without a joint graph")
            })?;
            let computed: Vec<NodeId> =
                opt.node_ids().filter(|id| !opt.op(*id).is_leaf()).collect();
            let config = gradc_driver::opt_config(&compiled.network);
            let explained = gradc_opt::explain_nodes(joint, opt, &config, &computed)
                .map_err(|e| format!("gradc internal error in explain: {e}"))?;
            for id in opt.node_ids() {
                let label = locals
                    .iter()
                    .find(|(i, _)| *i == id)
                    .map_or_else(|| id.to_string(), |(_, l)| l.clone());
                let e = computed
                    .iter()
                    .position(|c| *c == id)
                    .map(|k| &explained[k]);
                let text = describe(src, found, compiled, &locals, id, &label, e)?;
                let _ = writeln!(
                    explains,
                    "<pre class=\"explain\" id=\"explain-{}\" data-node=\"{}\" hidden=\"hidden\">{}</pre>",
                    id.index(),
                    id.index(),
                    esc(&text)
                );
            }
        }
        None => {
            for (i, line) in code.lines().enumerate() {
                let _ = writeln!(
                    code_html,
                    "<div class=\"line code-line other\" id=\"code-L{}\"><span class=\"ln\">{}</span>{}</div>",
                    i + 1,
                    i + 1,
                    esc(line)
                );
            }
        }
    }

    let views: [(Stage, &str, Option<&Graph>); 3] = [
        (Stage::Forward, "fwd", Some(&compiled.network.graph)),
        (Stage::Joint, "joint", compiled.joint.as_ref()),
        (Stage::Optimized, "opt", compiled.optimized.as_ref()),
    ];
    let mut tabs = String::new();
    let mut graphs = String::new();
    for (stage, id, g) in views {
        let label = match stage {
            Stage::Forward => "forward",
            Stage::Joint => "joint",
            Stage::Optimized => "optimized",
        };
        let selected = if id == "opt" && g.is_some() || id == "fwd" && compiled.optimized.is_none()
        {
            " active"
        } else {
            ""
        };
        let _ = writeln!(
            tabs,
            "<button type=\"button\" class=\"tab{selected}\" id=\"tab-{id}\" data-view=\"{id}\">{label} graph</button>"
        );
        let body = match g {
            Some(g) => svg::render(g, id, &svg::title(stage, name)),
            None => format!(
                "<p class=\"none\">`{}` has no parameters, so it has no {label} graph.</p>\n",
                esc(name)
            ),
        };
        let hidden = if selected.is_empty() {
            " hidden=\"hidden\""
        } else {
            ""
        };
        let _ = writeln!(
            graphs,
            "<div class=\"view\" id=\"view-{id}\" data-view=\"{id}\"{hidden}>\n{body}</div>"
        );
    }

    let mut html = String::with_capacity(64 * 1024);
    html.push_str("<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n");
    let _ = writeln!(html, "<title>gradc explorer: {}</title>", esc(name));
    let _ = writeln!(html, "<style>\n{CSS}</style>\n</head>\n<body>");
    let _ = writeln!(
        html,
        "<header><b>gradc explorer</b> · network <code>{}</code> · {}</header>",
        esc(name),
        esc(&src.path.display().to_string())
    );
    html.push_str("<div id=\"top\">\n");
    let _ = writeln!(
        html,
        "<section class=\"pane\" id=\"source\"><h2>source</h2><div class=\"scroll\">\n{source}</div></section>"
    );
    let _ = writeln!(
        html,
        "<section class=\"pane\" id=\"code\"><h2>generated code (<code>{}::GRADIENT_CODE</code>) · click a line</h2><div class=\"scroll\">\n{code_html}</div></section>",
        esc(name)
    );
    let _ = writeln!(
        html,
        "<section class=\"pane\" id=\"report\"><h2>optimizer report</h2><div class=\"scroll\"><pre id=\"report-text\">{}</pre></div></section>",
        esc(&report_text(name, compiled))
    );
    html.push_str("</div>\n<div id=\"bottom\">\n");
    let _ = writeln!(
        html,
        "<section class=\"pane\" id=\"graphs\"><div class=\"tabs\">\n{tabs}<span class=\"hint\">click a node</span></div><div class=\"scroll\">\n{graphs}</div></section>"
    );
    html.push_str(
        "<section class=\"pane\" id=\"details\"><h2 id=\"details-title\">details</h2><div class=\"scroll\">\
         <pre id=\"details-text\">Click a line of generated code or a graph node.</pre></div></section>\n",
    );
    html.push_str("</div>\n<div id=\"explanations\" hidden=\"hidden\">\n");
    html.push_str(&explains);
    html.push_str("</div>\n<script>\n//<![CDATA[\n");
    html.push_str(JS);
    html.push_str("//]]>\n</script>\n</body>\n</html>\n");
    Ok(html)
}

const CSS: &str = "\
*{box-sizing:border-box}
body{margin:0;font:13px system-ui,sans-serif;color:#1b1b1b;background:#fafafa}
header{padding:6px 12px;background:#263040;color:#fff}
header code{color:#ffd479}
#top{display:grid;grid-template-columns:1fr 1.5fr 1fr;gap:8px;padding:8px;height:46vh}
#bottom{display:grid;grid-template-columns:1fr 32em;gap:8px;padding:0 8px 8px;height:calc(54vh - 48px)}
.pane{display:flex;flex-direction:column;min-height:0;min-width:0;border:1px solid #c9ced6;background:#fff}
.pane h2{font-size:12px;font-weight:600;margin:0;padding:4px 8px;background:#eef1f5;border-bottom:1px solid #c9ced6}
.scroll{overflow:auto;flex:1;min-height:0}
.line{font:12px/1.45 monospace;white-space:pre;padding-right:8px;cursor:pointer}
.line:hover{background:#f1f4f8}
.ln{display:inline-block;width:3.2em;margin-right:10px;text-align:right;color:#9aa1aa;user-select:none}
.code-line.origin{color:#9a4d00}
.code-line.term,.code-line.other{color:#6a737d}
.line.hl{background:#fff0a8}
.code-line.origin.hl{background:#ffd27a;font-weight:bold}
pre{margin:0;padding:6px 8px;font:12px/1.45 monospace}
#details-text{white-space:pre-wrap}
.tabs{display:flex;gap:4px;padding:4px;background:#eef1f5;border-bottom:1px solid #c9ced6;align-items:center}
.tab{font:12px system-ui,sans-serif;border:1px solid #b8c0cc;background:#fff;padding:2px 10px;cursor:pointer}
.tab.active{background:#263040;color:#fff}
.hint{margin-left:auto;color:#6a737d;font-size:11px}
.view{padding:4px}
.gradc-graph .node,.gradc-graph .root{cursor:pointer}
.gradc-graph g.hl rect{stroke:#e0006c;stroke-width:3.2}
.gradc-graph g.sel rect{stroke:#e0006c;stroke-width:3.2;stroke-dasharray:none}
.none{padding:8px;color:#6a737d}
";

const JS: &str = r#"(function () {
  'use strict';
  var all = function (sel) { return Array.prototype.slice.call(document.querySelectorAll(sel)); };
  var details = document.getElementById('details-text');
  var detailsTitle = document.getElementById('details-title');

  function clear() {
    all('.hl').forEach(function (e) { e.classList.remove('hl'); });
    all('.sel').forEach(function (e) { e.classList.remove('sel'); });
  }
  function mark(list) {
    list.forEach(function (e) { e.classList.add('hl'); });
    return list;
  }
  function sameOrigin(scope, stmt, term) {
    if (stmt === null) { return []; }
    return all(scope + '[data-stmt="' + stmt + '"]').filter(function (e) {
      return e.getAttribute('data-term') === term;
    });
  }
  function reveal(list) {
    var view = document.querySelector('.view:not([hidden])');
    var first = list.filter(function (e) { return view && view.contains(e); })[0] || list[0];
    if (first && first.scrollIntoView) { first.scrollIntoView({ block: 'center', inline: 'center' }); }
  }
  function explainText(node) {
    var e = document.getElementById('explain-' + node);
    return e ? e.textContent : '';
  }
  // A statement, a chain-rule term: the source lines, the code lines and the
  // forward and joint nodes that come from it.
  function markOrigin(stmt, term) {
    if (stmt === null) { return []; }
    var src = mark(all('.src-line[data-stmt="' + stmt + '"]'));
    mark(sameOrigin('.code-line.origin', stmt, term));
    var src0 = src[0];
    if (src0) { src0.scrollIntoView({ block: 'nearest' }); }
    return mark(sameOrigin('#fwd .node', stmt, term).concat(sameOrigin('#joint .node', stmt, term)));
  }

  function selectLine(line) {
    clear();
    var node = line.getAttribute('data-node');
    if (node === null) {
      line.classList.add('hl');
      detailsTitle.textContent = 'line ' + line.id.slice(6) + ' of the generated code';
      details.textContent = 'This line belongs to no node of the graph.';
      return;
    }
    mark(all('.code-line[data-node="' + node + '"]'));
    // The line's own node first: it is the one scrolled into view.
    var nodes = [node].concat((line.getAttribute('data-nodes') || '').split(' ').filter(function (n) { return n && n !== node; }));
    var marked = mark(nodes.map(function (n) { return document.getElementById('opt-n' + n); }).filter(Boolean));
    marked = marked.concat(markOrigin(line.getAttribute('data-stmt'), line.getAttribute('data-term')));
    reveal(marked);
    detailsTitle.textContent = 'line ' + line.id.slice(6) + ': node ' + nodes.map(function (n) { return '%' + n; }).join(', ');
    details.textContent = explainText(node);
  }

  function selectNode(g) {
    clear();
    var node = g.getAttribute('data-node');
    var view = g.closest('svg').id;
    g.classList.add('sel');
    var stmt = g.getAttribute('data-stmt');
    var term = g.getAttribute('data-term');
    var title = g.querySelector('title').textContent;
    if (view === 'opt') {
      var lines = mark(all('.code-line[data-nodes~="' + node + '"]'));
      if (lines[0]) { lines[0].scrollIntoView({ block: 'nearest' }); }
      markOrigin(stmt, term);
      detailsTitle.textContent = 'optimized node %' + node;
      details.textContent = explainText(node) || title;
    } else {
      markOrigin(stmt, term);
      mark(sameOrigin('#opt .node', stmt, term));
      mark(sameOrigin('.code-line', stmt, term));
      detailsTitle.textContent = (view === 'fwd' ? 'forward' : 'joint') + ' node %' + node;
      details.textContent = title;
    }
    g.classList.add('sel');
  }

  function show(view) {
    all('.tab').forEach(function (t) { t.classList.toggle('active', t.getAttribute('data-view') === view); });
    all('.view').forEach(function (v) {
      if (v.getAttribute('data-view') === view) { v.removeAttribute('hidden'); } else { v.setAttribute('hidden', 'hidden'); }
    });
  }

  all('.code-line').forEach(function (l) { l.addEventListener('click', function () { selectLine(l); }); });
  all('.gradc-graph .node, .gradc-graph .root[data-root]').forEach(function (g) {
    g.addEventListener('click', function () {
      var target = g;
      if (g.classList.contains('root')) {
        target = document.getElementById(g.closest('svg').id + '-n' + g.getAttribute('data-node')) || g;
      }
      selectNode(target);
    });
  });
  all('.tab').forEach(function (t) { t.addEventListener('click', function () { show(t.getAttribute('data-view')); }); });
  all('.src-line[data-stmt]').forEach(function (l) {
    l.addEventListener('click', function () {
      clear();
      var stmt = l.getAttribute('data-stmt');
      mark(all('[data-stmt="' + stmt + '"]'));
      detailsTitle.textContent = 'statement ' + stmt + ' of the body';
      details.textContent = 'Highlighted: its source lines, the code that computes it and its graph nodes, forward and backward.';
    });
  });
})();
"#;
