//! SVG pictures of a graph without Graphviz: a layered (Sugiyama-style) layout
//! of our own, since the graphs are small DAGs whose node ids are already a
//! topological order. Layers come from the longest path (then each node as
//! low as its users allow), crossings are reduced
//! by barycenter sweeps, and x coordinates are the least-squares placement near
//! the neighbours' barycenters that keeps each layer's order (pool adjacent
//! violators). Everything is a function of node order, so output is
//! deterministic.

use gradc_ir::{Extent, Graph, NodeId, Op};
use std::fmt::Write as _;

/// Width of one character of the 12px monospace font, generously rounded.
const CHAR_W: f64 = 7.4;
const LINE_H: f64 = 14.0;
const PAD: f64 = 8.0;
/// Horizontal gap between neighbouring boxes, and the room a bent edge takes.
const GAP: f64 = 18.0;
const DUMMY_GAP: f64 = 8.0;
/// Vertical distance between layers (box included).
const LAYER_H: f64 = 92.0;
const MARGIN: f64 = 16.0;
/// Room above the first layer for the legend.
const LEGEND_H: f64 = 34.0;
const SWEEPS: usize = 8;
const PLACE_PASSES: usize = 8;

/// What a box stands for, which decides its colour.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    /// An `#[input]` or a parameter.
    Arg,
    /// A constant or a count.
    Const,
    /// Computed by the forward pass of a source statement.
    Forward,
    /// An adjoint: computed by the chain rule.
    Backward,
    /// Computed, but no pass recorded where from (a rewrite created it).
    Rewrite,
    /// A root of the graph (`out`, `loss`, `d_w`).
    Root,
}

impl Kind {
    fn class(self) -> &'static str {
        match self {
            Kind::Arg => "arg",
            Kind::Const => "const",
            Kind::Forward => "fwd",
            Kind::Backward => "bwd",
            Kind::Rewrite => "new",
            Kind::Root => "root",
        }
    }

    fn legend(self) -> &'static str {
        match self {
            Kind::Arg => "argument",
            Kind::Const => "constant",
            Kind::Forward => "forward",
            Kind::Backward => "backward (chain rule)",
            Kind::Rewrite => "made by a rewrite",
            Kind::Root => "root",
        }
    }

    pub(crate) fn of(g: &Graph, id: NodeId) -> Kind {
        let op = g.op(id);
        if matches!(op, Op::Input(_) | Op::Param(_)) {
            Kind::Arg
        } else if op.is_leaf() {
            Kind::Const
        } else {
            match g.origin(id) {
                Some(o) if o.is_backward() => Kind::Backward,
                Some(_) => Kind::Forward,
                None => Kind::Rewrite,
            }
        }
    }
}

const KINDS: [Kind; 6] = [
    Kind::Arg,
    Kind::Const,
    Kind::Forward,
    Kind::Backward,
    Kind::Rewrite,
    Kind::Root,
];

/// The stylesheet of every picture; class names are what the explorer page
/// selects on too.
pub(crate) const STYLE: &str = "\
.gradc-graph .node rect{stroke-width:1.2}
.gradc-graph .arg rect{fill:#e3f4e1;stroke:#3b873a}
.gradc-graph .const rect{fill:#f1f1f1;stroke:#9a9a9a}
.gradc-graph .fwd rect{fill:#dce9ff;stroke:#3a6db4}
.gradc-graph .bwd rect{fill:#ffe4cc;stroke:#c0651f}
.gradc-graph .new rect{fill:#f2e6ff;stroke:#8549bd;stroke-dasharray:4 2}
.gradc-graph .root rect{fill:#fff;stroke:#222;stroke-width:2.4}
.gradc-graph .dead{opacity:.45}
.gradc-graph text{fill:#1b1b1b}
.gradc-graph .edge{fill:none;stroke:#6f7780;stroke-width:1.1}
.gradc-graph .legend text{font-size:11px}
";

/// One box's text lines: `%id op`, its shape, its source name.
fn label(g: &Graph, id: NodeId) -> Vec<String> {
    let n = g.node(id);
    let mut first = format!("{id} {}", n.op.name());
    if let Op::Const(c) = &n.op {
        let _ = write!(first, " {}", c.value());
    } else if let Op::Count(c) = &n.op {
        let _ = write!(first, " {}", Extent::of(*c));
    } else if let Op::OneHot(c) = &n.op {
        let _ = write!(first, " {c}");
    }
    let mut lines = vec![first, n.shape.to_string()];
    if let Some(name) = &n.name {
        lines.push(name.clone());
    }
    lines
}

fn box_size(lines: &[String]) -> (f64, f64) {
    let chars = lines.iter().map(|l| l.chars().count()).max().unwrap_or(1);
    (
        chars as f64 * CHAR_W + 2.0 * PAD,
        lines.len() as f64 * LINE_H + PAD,
    )
}

/// XML text or attribute contents.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A vertex of the layout: a graph node, a root box, or a bend of a long edge.
struct Vertex {
    layer: usize,
    width: f64,
    x: f64,
}

/// The laid-out graph: vertices `0..g.len()` are the nodes, then one per root,
/// then the dummies; each edge is its chain of vertices from the argument to
/// the user, with the argument position at the user.
struct Layout {
    verts: Vec<Vertex>,
    /// Vertex ids per layer, in left-to-right order.
    layers: Vec<Vec<usize>>,
    /// (chain of vertices, argument position, arity of the user).
    edges: Vec<(Vec<usize>, usize, usize)>,
}

fn layout(g: &Graph, sizes: &[(f64, f64)]) -> Layout {
    let n = g.len();
    let roots = g.roots();
    // Longest path from the leaves, then each node with users as low as they
    // allow (just above the first), so a constant or a slice of a stacked
    // parameter sits by its user instead of at the top with a long edge.
    let mut layer = vec![0usize; n];
    for id in g.node_ids() {
        if let Some(m) = g.args(id).iter().map(|a| layer[a.index()]).max() {
            layer[id.index()] = m + 1;
        }
    }
    for id in g.node_ids().rev() {
        if let Some(m) = g.users(id).iter().map(|u| layer[u.index()]).min() {
            layer[id.index()] = m - 1;
        }
    }
    let mut verts: Vec<Vertex> = (0..n)
        .map(|i| Vertex {
            layer: layer[i],
            width: sizes[i].0,
            x: 0.0,
        })
        .collect();
    for (k, r) in roots.iter().enumerate() {
        verts.push(Vertex {
            layer: layer[r.node.index()] + 1,
            width: sizes[n + k].0,
            x: 0.0,
        });
    }
    let mut edges = Vec::new();
    let chain = |verts: &mut Vec<Vertex>, from: usize, to: usize| {
        let mut c = vec![from];
        for l in verts[from].layer + 1..verts[to].layer {
            verts.push(Vertex {
                layer: l,
                width: 0.0,
                x: 0.0,
            });
            c.push(verts.len() - 1);
        }
        c.push(to);
        c
    };
    for id in g.node_ids() {
        let args = g.args(id);
        for (pos, a) in args.iter().enumerate() {
            let c = chain(&mut verts, a.index(), id.index());
            edges.push((c, pos, args.len()));
        }
    }
    for (k, r) in roots.iter().enumerate() {
        let c = chain(&mut verts, r.node.index(), n + k);
        edges.push((c, 0, 1));
    }
    let depth = verts.iter().map(|v| v.layer).max().map_or(0, |m| m + 1);
    let mut layers = vec![Vec::new(); depth];
    for (i, v) in verts.iter().enumerate() {
        layers[v.layer].push(i);
    }
    let mut lay = Layout {
        verts,
        layers,
        edges,
    };
    order(&mut lay);
    place(&mut lay);
    lay
}

/// Neighbours of each vertex in the layer above (`up`) and below (`down`).
fn neighbours(lay: &Layout) -> (Vec<Vec<usize>>, Vec<Vec<usize>>) {
    let mut up = vec![Vec::new(); lay.verts.len()];
    let mut down = vec![Vec::new(); lay.verts.len()];
    for (c, _, _) in &lay.edges {
        for w in c.windows(2) {
            down[w[0]].push(w[1]);
            up[w[1]].push(w[0]);
        }
    }
    (up, down)
}

/// Crossings between layers `l` and `l + 1`: inversions of the lower ends
/// when edges are sorted by their upper ends (a Fenwick tree counts them).
fn crossings(layers: &[Vec<usize>], pos: &[usize], down: &[Vec<usize>]) -> usize {
    let mut total = 0;
    for l in 0..layers.len().saturating_sub(1) {
        let mut pairs: Vec<(usize, usize)> = layers[l]
            .iter()
            .flat_map(|&u| down[u].iter().map(move |&v| (pos[u], pos[v])))
            .collect();
        pairs.sort_unstable();
        let size = layers[l + 1].len() + 1;
        let mut tree = vec![0usize; size + 1];
        for (seen, &(_, b)) in pairs.iter().enumerate() {
            // Edges so far whose lower end is at or left of `b`.
            let mut i = b + 1;
            let mut le = 0;
            while i > 0 {
                le += tree[i];
                i &= i - 1;
            }
            total += seen - le;
            let mut i = b + 1;
            while i <= size {
                tree[i] += 1;
                i += i & i.wrapping_neg();
            }
        }
    }
    total
}

/// Barycenter sweeps, down then up, keeping the order with fewest crossings.
fn order(lay: &mut Layout) {
    let (up, down) = neighbours(lay);
    let mut pos = vec![0usize; lay.verts.len()];
    let index = |layers: &[Vec<usize>], pos: &mut [usize]| {
        for l in layers {
            for (i, &v) in l.iter().enumerate() {
                pos[v] = i;
            }
        }
    };
    index(&lay.layers, &mut pos);
    let mut best = lay.layers.clone();
    let mut best_cross = crossings(&lay.layers, &pos, &down);
    for sweep in 0..SWEEPS {
        let downward = sweep % 2 == 0;
        let range: Vec<usize> = if downward {
            (1..lay.layers.len()).collect()
        } else {
            (0..lay.layers.len().saturating_sub(1)).rev().collect()
        };
        for l in range {
            let adj = if downward { &up } else { &down };
            let mut keyed: Vec<(f64, usize, usize)> = lay.layers[l]
                .iter()
                .map(|&v| {
                    let key = if adj[v].is_empty() {
                        pos[v] as f64
                    } else {
                        adj[v].iter().map(|&u| pos[u] as f64).sum::<f64>() / adj[v].len() as f64
                    };
                    (key, pos[v], v)
                })
                .collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            lay.layers[l] = keyed.into_iter().map(|(_, _, v)| v).collect();
            for (i, &v) in lay.layers[l].iter().enumerate() {
                pos[v] = i;
            }
        }
        let c = crossings(&lay.layers, &pos, &down);
        if c < best_cross {
            best_cross = c;
            best = lay.layers.clone();
        }
    }
    lay.layers = best;
}

/// The x of each vertex (its centre): each layer in turn is moved as close as
/// its order allows to the mean centre of its neighbours in the layer just
/// placed, alternating downward and upward passes.
fn place(lay: &mut Layout) {
    let (up, down) = neighbours(lay);
    let sep = |a: &Vertex, b: &Vertex| {
        let gap = if a.width == 0.0 || b.width == 0.0 {
            DUMMY_GAP
        } else {
            GAP
        };
        (a.width + b.width) / 2.0 + gap
    };
    // Start packed to the left.
    for l in &lay.layers {
        let mut x = 0.0;
        for (i, &v) in l.iter().enumerate() {
            if i > 0 {
                x += sep(&lay.verts[l[i - 1]], &lay.verts[v]);
            }
            lay.verts[v].x = x;
        }
    }
    for pass in 0..PLACE_PASSES {
        let downward = pass % 2 == 0;
        let range: Vec<usize> = if downward {
            (1..lay.layers.len()).collect()
        } else {
            (0..lay.layers.len().saturating_sub(1)).rev().collect()
        };
        for l in range {
            let adj = if downward { &up } else { &down };
            let ids = lay.layers[l].clone();
            let want: Vec<f64> = ids
                .iter()
                .map(|&v| {
                    if adj[v].is_empty() {
                        lay.verts[v].x
                    } else {
                        adj[v].iter().map(|&u| lay.verts[u].x).sum::<f64>() / adj[v].len() as f64
                    }
                })
                .collect();
            let mut offset = vec![0.0; ids.len()];
            for i in 1..ids.len() {
                offset[i] = offset[i - 1] + sep(&lay.verts[ids[i - 1]], &lay.verts[ids[i]]);
            }
            let shifted: Vec<f64> = want.iter().zip(&offset).map(|(w, o)| w - o).collect();
            for (i, y) in isotonic(&shifted).into_iter().enumerate() {
                lay.verts[ids[i]].x = y + offset[i];
            }
        }
    }
    let left = lay
        .verts
        .iter()
        .map(|v| v.x - v.width / 2.0)
        .fold(f64::INFINITY, f64::min);
    if left.is_finite() {
        for v in &mut lay.verts {
            v.x += MARGIN - left;
        }
    }
}

/// The non-decreasing sequence nearest to `y` in least squares (pool
/// adjacent violators).
fn isotonic(y: &[f64]) -> Vec<f64> {
    // Blocks of (mean, count).
    let mut blocks: Vec<(f64, usize)> = Vec::with_capacity(y.len());
    for &v in y {
        blocks.push((v, 1));
        while blocks.len() > 1 {
            let (m2, c2) = blocks[blocks.len() - 1];
            let (m1, c1) = blocks[blocks.len() - 2];
            if m1 <= m2 {
                break;
            }
            blocks.pop();
            let c = c1 + c2;
            *blocks.last_mut().expect("two blocks") =
                ((m1 * c1 as f64 + m2 * c2 as f64) / c as f64, c);
        }
    }
    blocks
        .into_iter()
        .flat_map(|(m, c)| std::iter::repeat_n(m, c))
        .collect()
}

fn fmt(v: f64) -> String {
    // One decimal is plenty and keeps the text short and stable.
    let r = (v * 10.0).round() / 10.0;
    if r == r.trunc() {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

/// A picture's title: which graph of which network.
pub(crate) fn title(stage: crate::Stage, network: &str) -> String {
    let which = match stage {
        crate::Stage::Forward => "forward",
        crate::Stage::Joint => "joint (forward and backward)",
        crate::Stage::Optimized => "optimized",
    };
    format!("the {which} graph of `{network}`")
}

/// The graph as a standalone `<svg>` element. `id` prefixes every element id
/// (several pictures can share a page); `title` is its accessible title.
/// Each node is a `<g class="node KIND" id="ID-nN" data-node="N">`, each
/// argument edge a `<path class="edge">`, each root a `<g class="root">` with
/// a `<path class="edge root-edge">` from its node.
pub(crate) fn render(g: &Graph, id: &str, title: &str) -> String {
    let n = g.len();
    let mut labels: Vec<Vec<String>> = g.node_ids().map(|i| label(g, i)).collect();
    for r in g.roots() {
        labels.push(vec![r.name.clone()]);
    }
    let sizes: Vec<(f64, f64)> = labels.iter().map(|l| box_size(l)).collect();
    let lay = layout(g, &sizes);
    let live = g.live();
    let layer_y = |l: usize| MARGIN + LEGEND_H + l as f64 * LAYER_H;
    let legend_w: f64 = KINDS
        .iter()
        .map(|k| 26.0 + k.legend().chars().count() as f64 * 6.8)
        .sum();
    let width = lay
        .verts
        .iter()
        .map(|v| v.x + v.width / 2.0)
        .fold(MARGIN + legend_w, f64::max)
        + MARGIN;
    let height = layer_y(lay.layers.len().max(1) - 1) + LAYER_H - 20.0 + MARGIN;

    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"gradc-graph\" id=\"{id}\" \
         width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"monospace\" font-size=\"12\">",
        id = esc(id),
        w = fmt(width),
        h = fmt(height)
    );
    let _ = writeln!(out, "<title>{}</title>", esc(title));
    let _ = writeln!(out, "<style>\n{STYLE}</style>");
    let _ = writeln!(
        out,
        "<defs><marker id=\"{}-arrow\" viewBox=\"0 0 8 8\" refX=\"8\" refY=\"4\" \
         markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path d=\"M0,0 L8,4 L0,8 z\" \
         fill=\"#6f7780\"/></marker></defs>",
        esc(id)
    );

    out.push_str("<g class=\"legend\">\n");
    let mut x = MARGIN;
    for k in KINDS {
        let _ = writeln!(
            out,
            "<g class=\"swatch {c}\"><rect x=\"{x}\" y=\"{y}\" width=\"16\" height=\"12\" rx=\"2\"/>\
             <text x=\"{tx}\" y=\"{ty}\">{t}</text></g>",
            c = k.class(),
            x = fmt(x),
            y = fmt(MARGIN),
            tx = fmt(x + 20.0),
            ty = fmt(MARGIN + 10.0),
            t = esc(k.legend())
        );
        x += 26.0 + k.legend().chars().count() as f64 * 6.8;
    }
    out.push_str("</g>\n");

    let top = |v: usize| layer_y(lay.verts[v].layer);
    let height_of = |v: usize| if v < sizes.len() { sizes[v].1 } else { 0.0 };
    out.push_str("<g class=\"edges\">\n");
    for (chain, pos, arity) in &lay.edges {
        let (from, to) = (chain[0], chain[chain.len() - 1]);
        let mut pts: Vec<(f64, f64)> = Vec::with_capacity(chain.len());
        pts.push((lay.verts[from].x, top(from) + height_of(from)));
        for &d in &chain[1..chain.len() - 1] {
            pts.push((lay.verts[d].x, top(d) + LAYER_H / 3.0));
        }
        let tw = lay.verts[to].width;
        let tx = lay.verts[to].x - tw / 2.0 + tw * (*pos as f64 + 1.0) / (*arity as f64 + 1.0);
        pts.push((tx, top(to)));
        let mut d = format!("M{},{}", fmt(pts[0].0), fmt(pts[0].1));
        for w in pts.windows(2) {
            let my = (w[0].1 + w[1].1) / 2.0;
            let _ = write!(
                d,
                " C{},{} {},{} {},{}",
                fmt(w[0].0),
                fmt(my),
                fmt(w[1].0),
                fmt(my),
                fmt(w[1].0),
                fmt(w[1].1)
            );
        }
        let class = if to >= n { "edge root-edge" } else { "edge" };
        let _ = writeln!(
            out,
            "<path class=\"{class}\" data-from=\"{from}\" data-to=\"{to}\" d=\"{d}\" \
             marker-end=\"url(#{}-arrow)\"/>",
            esc(id)
        );
    }
    out.push_str("</g>\n");

    out.push_str("<g class=\"nodes\">\n");
    for v in 0..sizes.len() {
        let (w, h) = sizes[v];
        let (cx, y) = (lay.verts[v].x, top(v));
        let x0 = cx - w / 2.0;
        let (kind, attrs, tip) = if v < n {
            let node = NodeId::from_index(v);
            let mut attrs = format!(" id=\"{}-n{v}\" data-node=\"{v}\"", esc(id));
            let mut tip = labels[v].join(" ");
            if let Some(o) = g.origin(node) {
                let _ = write!(attrs, " data-stmt=\"{}\"", o.stmt);
                if let Some(t) = &o.term {
                    let _ = write!(attrs, " data-term=\"{}\"", esc(t));
                }
                let _ = write!(tip, "\n{o}");
            }
            (Kind::of(g, node), attrs, tip)
        } else {
            let r = &g.roots()[v - n];
            let attrs = format!(
                " id=\"{}-r{}\" data-root=\"{}\" data-node=\"{}\"",
                esc(id),
                v - n,
                esc(&r.name),
                r.node.index()
            );
            (Kind::Root, attrs, format!("root {}", r.name))
        };
        let group = if kind == Kind::Root { "root" } else { "node" };
        let dead = if v < n && !live[v] { " dead" } else { "" };
        let _ = write!(
            out,
            "<g class=\"{group} {}{dead}\"{attrs}><title>{}</title>\
             <rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"4\"/><text>",
            kind.class(),
            esc(&tip),
            fmt(x0),
            fmt(y),
            fmt(w),
            fmt(h)
        );
        for (i, l) in labels[v].iter().enumerate() {
            let _ = write!(
                out,
                "<tspan x=\"{}\" y=\"{}\">{}</tspan>",
                fmt(x0 + PAD),
                fmt(y + PAD / 2.0 + LINE_H * (i as f64 + 1.0) - 3.0),
                esc(l)
            );
        }
        out.push_str("</text></g>\n");
    }
    out.push_str("</g>\n</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::isotonic;

    #[test]
    fn isotonic_pools_violators() {
        assert_eq!(isotonic(&[1.0, 3.0, 2.0, 4.0]), vec![1.0, 2.5, 2.5, 4.0]);
        assert_eq!(isotonic(&[3.0, 2.0, 1.0]), vec![2.0, 2.0, 2.0]);
        assert_eq!(isotonic(&[]), Vec::<f64>::new());
    }
}
