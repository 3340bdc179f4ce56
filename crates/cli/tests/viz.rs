//! Tests of the pictures: `gradc show --emit svg` and the `gradc explore` page.
//! Both are parsed as XML, and their elements are checked against the graphs
//! and the generated code the rest of the pipeline gives for the same network.

use roxmltree::{Document, Node};
use std::path::PathBuf;

use gradc_testkit::nets as fixture;
use gradc_testkit::nets::{BATCH_PATH, SLIDES_PATH as FIXTURE};

mod common;
use common::{gradc, root};

fn ok(args: &[&str]) -> String {
    let r = gradc(args);
    assert!(r.ok, "gradc {args:?} failed: {}", r.stderr);
    r.stdout
}

/// The graph `gradc show --emit STAGE` prints, read back by its `FromStr`.
fn graph(file: &str, network: &str, stage: &str) -> gradc::Graph {
    let emit = match stage {
        "forward" => "ir",
        s => s,
    };
    ok(&["show", file, "--network", network, "--emit", emit])
        .parse()
        .unwrap_or_else(|e| panic!("{network} {stage}: {e}"))
}

fn svg(file: &str, network: &str, stage: &str) -> String {
    ok(&[
        "show",
        file,
        "--network",
        network,
        "--emit",
        "svg",
        "--graph",
        stage,
    ])
}

fn has_class(n: &Node, class: &str) -> bool {
    n.attribute("class")
        .is_some_and(|c| c.split_whitespace().any(|k| k == class))
}

fn elements<'a, 'i>(
    n: Node<'a, 'i>,
    name: &'a str,
    class: &'a str,
) -> impl Iterator<Item = Node<'a, 'i>> + 'a {
    n.descendants()
        .filter(move |d| d.is_element() && d.tag_name().name() == name && has_class(d, class))
}

fn num(n: &Node, attr: &str) -> f64 {
    n.attribute(attr)
        .unwrap_or_else(|| panic!("no {attr}"))
        .parse()
        .unwrap()
}

/// The text lines of a node box, one per `<tspan>`.
fn tspans(n: &Node) -> Vec<String> {
    n.descendants()
        .filter(|d| d.tag_name().name() == "tspan")
        .map(|d| d.text().unwrap_or("").to_string())
        .collect()
}

/// Checks one picture against its graph: a box per node labelled with its
/// op, shape and name, an edge per argument, a box and an edge per root,
/// every edge running down from its argument to its user, and no two boxes
/// overlapping. Returns the node boxes' classes, by node.
fn check_picture(svg_root: Node, g: &gradc::Graph) -> Vec<String> {
    // Boxes are in `<g class="nodes">`; the legend draws swatches of each kind.
    let boxes_group = elements(svg_root, "g", "nodes").next().expect("g.nodes");
    let nodes: Vec<Node> = elements(boxes_group, "g", "node").collect();
    assert_eq!(nodes.len(), g.len(), "one box per node");
    let args: usize = g.node_ids().map(|id| g.args(id).len()).sum();
    let edges: Vec<Node> = elements(svg_root, "path", "edge").collect();
    let root_edges = edges.iter().filter(|e| has_class(e, "root-edge")).count();
    assert_eq!(edges.len() - root_edges, args, "one edge per argument");
    assert_eq!(root_edges, g.roots().len());
    assert_eq!(elements(boxes_group, "g", "root").count(), g.roots().len());

    let mut classes = vec![String::new(); g.len()];
    let mut boxes = Vec::new();
    for n in &nodes {
        let i: usize = n.attribute("data-node").unwrap().parse().unwrap();
        let id = gradc::NodeId::from_index(i);
        let lines = tspans(n);
        assert!(
            lines[0].starts_with(&format!("{id} {}", g.op(id).name())),
            "{lines:?}"
        );
        assert_eq!(lines[1], g.shape(id).to_string());
        assert_eq!(lines.get(2).map(String::as_str), g.name(id), "{lines:?}");
        classes[i] = n.attribute("class").unwrap().to_string();
        let rect = n
            .children()
            .find(|c| c.tag_name().name() == "rect")
            .unwrap();
        boxes.push((
            num(&rect, "x"),
            num(&rect, "y"),
            num(&rect, "width"),
            num(&rect, "height"),
        ));
    }
    assert!(
        classes.iter().all(|c| !c.is_empty()),
        "every node drawn once"
    );
    for (a, x) in boxes.iter().enumerate() {
        for y in &boxes[a + 1..] {
            let apart =
                x.0 + x.2 <= y.0 || y.0 + y.2 <= x.0 || x.1 + x.3 <= y.1 || y.1 + y.3 <= x.1;
            assert!(apart, "boxes overlap: {x:?} {y:?}");
        }
    }
    // Edges start below their argument's box and end on top of their user's.
    let mut user_top = std::collections::BTreeMap::new();
    for n in &nodes {
        let rect = n
            .children()
            .find(|c| c.tag_name().name() == "rect")
            .unwrap();
        user_top.insert(
            n.attribute("data-node").unwrap().to_string(),
            (num(&rect, "y"), num(&rect, "height")),
        );
    }
    for e in edges.iter().filter(|e| !has_class(e, "root-edge")) {
        let d = e.attribute("d").unwrap();
        let start: f64 = d[1..].split([',', ' ']).nth(1).unwrap().parse().unwrap();
        let end: f64 = d.rsplit(',').next().unwrap().parse().unwrap();
        let (ay, ah) = user_top[e.attribute("data-from").unwrap()];
        let (uy, _) = user_top[e.attribute("data-to").unwrap()];
        assert!((start - (ay + ah)).abs() < 0.11, "{d}");
        assert!((end - uy).abs() < 0.11, "{d}");
        assert!(start < end, "edge runs upward: {d}");
    }
    classes
}

fn kind(class: &str) -> &str {
    class.split_whitespace().nth(1).unwrap()
}

#[test]
fn svg_is_well_formed_and_matches_the_graph() {
    for (file, network) in [
        (FIXTURE, "xor"),
        (FIXTURE, "slides_222"),
        (FIXTURE, "chain"),
        (BATCH_PATH, "clf"),
    ] {
        let forward = graph(file, network, "forward");
        for stage in ["forward", "joint", "optimized"] {
            let text = svg(file, network, stage);
            let doc = Document::parse(&text)
                .unwrap_or_else(|e| panic!("{network} {stage}: not XML: {e}\n{text}"));
            let root = doc.root_element();
            assert_eq!(root.tag_name().name(), "svg");
            assert_eq!(
                root.tag_name().namespace(),
                Some("http://www.w3.org/2000/svg")
            );
            let g = graph(file, network, stage);
            let classes = check_picture(root, &g);
            // Forward nodes are never drawn as backward ones; in the joint
            // graph every computed node after the forward ones is an adjoint.
            for (i, c) in classes.iter().enumerate() {
                let id = gradc::NodeId::from_index(i);
                if i < forward.len() {
                    assert_ne!(kind(c), "bwd", "{network} {stage} {i}");
                } else if stage == "joint" && !g.op(id).is_leaf() {
                    assert_eq!(kind(c), "bwd", "{network} {stage} {i}");
                }
                if g.op(id).is_leaf() {
                    assert!(matches!(kind(c), "arg" | "const"), "{c}");
                }
            }
            if stage != "forward" {
                assert!(
                    classes.iter().any(|c| kind(c) == "bwd"),
                    "{network} {stage}"
                );
            }
            // The legend names every colour.
            let legend: Vec<String> = elements(root, "g", "legend")
                .flat_map(|l| l.descendants().filter_map(|d| d.text().map(str::to_string)))
                .collect();
            for word in [
                "forward",
                "backward (chain rule)",
                "argument",
                "made by a rewrite",
            ] {
                assert!(legend.iter().any(|l| l == word), "{legend:?} lacks {word}");
            }
        }
    }
}

#[test]
fn svg_is_deterministic() {
    for stage in ["forward", "joint", "optimized"] {
        let a = svg(FIXTURE, "slides_222", stage);
        let b = svg(FIXTURE, "slides_222", stage);
        assert_eq!(a, b, "{stage}");
    }
}

#[test]
fn svg_of_a_network_without_parameters() {
    let text = svg(FIXTURE, "xor_predict", "forward");
    let doc = Document::parse(&text).unwrap();
    check_picture(
        doc.root_element(),
        &graph(FIXTURE, "xor_predict", "forward"),
    );
    let r = gradc(&[
        "show",
        FIXTURE,
        "--network",
        "xor_predict",
        "--emit",
        "svg",
        "--graph",
        "joint",
    ]);
    assert!(!r.ok);
    assert!(r.stderr.contains("has no parameters"), "{}", r.stderr);
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gradc-viz-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn explore(file: &str, network: &str) -> String {
    let out = temp(&format!("{network}.html"));
    let msg = ok(&[
        "explore",
        file,
        "--network",
        network,
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(msg.starts_with("wrote "), "{msg}");
    std::fs::read_to_string(&out).unwrap()
}

/// The page as XML (its `<!DOCTYPE html>` is a DTD to an XML reader).
fn parse_page(html: &str) -> Document<'_> {
    let opts = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..roxmltree::ParsingOptions::default()
    };
    Document::parse_with_options(html, opts).unwrap_or_else(|e| panic!("the page is not XML: {e}"))
}

fn by_id<'a, 'i>(doc: &'a Document<'i>, id: &str) -> Node<'a, 'i> {
    doc.descendants()
        .find(|n| n.attribute("id") == Some(id))
        .unwrap_or_else(|| panic!("no element #{id}"))
}

/// A pane's lines as text, without their line numbers.
fn line_text(n: &Node) -> String {
    n.children()
        .filter(|c| !(c.is_element() && has_class(c, "ln")))
        .map(|c| c.text().unwrap_or(""))
        .collect()
}

/// Nothing on the page reaches outside it.
fn assert_self_contained(html: &str, doc: &Document) {
    for n in doc.descendants().filter(Node::is_element) {
        let tag = n.tag_name().name();
        assert!(
            !matches!(tag, "link" | "iframe" | "img" | "object" | "embed"),
            "<{tag}>"
        );
        for a in n.attributes() {
            assert!(!matches!(a.name(), "src" | "href"), "<{tag} {}>", a.name());
        }
    }
    let mut rest = html;
    while let Some(at) = rest.find("://") {
        let before = &rest[..at];
        let scheme_start = before
            .rfind(|c: char| !c.is_ascii_alphabetic())
            .map_or(0, |k| k + 1);
        let url: String = rest[scheme_start..]
            .chars()
            .take_while(|c| !matches!(c, '"' | ' ' | '\n'))
            .collect();
        assert!(
            url == "http://www.w3.org/2000/svg" || url == "http://www.w3.org/1999/xhtml",
            "an outside address: {url}"
        );
        rest = &rest[at + 3..];
    }
    for (k, _) in html.match_indices("url(") {
        assert!(html[k..].starts_with("url(#"), "{}", &html[k..k + 20]);
    }
    assert!(!html.contains("@import"));
}

#[test]
fn explorer_page_links_source_code_graphs_and_explanations() {
    let html = explore(FIXTURE, "xor");
    let doc = parse_page(&html);
    assert_eq!(doc.root_element().tag_name().name(), "html");
    assert_self_contained(&html, &doc);

    // The three graphs, each as `gradc show --emit svg` checks it.
    for (id, stage) in [("fwd", "forward"), ("joint", "joint"), ("opt", "optimized")] {
        let svg = by_id(&doc, id);
        assert_eq!(svg.tag_name().name(), "svg");
        check_picture(svg, &graph(FIXTURE, "xor", stage));
        assert!(by_id(&doc, &format!("tab-{id}")).tag_name().name() == "button");
    }
    let opt = graph(FIXTURE, "xor", "optimized");

    // The source pane is the network's lines of the file; every body
    // statement is tagged on its lines.
    let file = std::fs::read_to_string(root().join(FIXTURE)).unwrap();
    let src: Vec<Node> = elements(doc.root_element(), "div", "src-line").collect();
    for l in &src {
        let n: usize = l.attribute("data-line").unwrap().parse().unwrap();
        assert_eq!(line_text(l), file.lines().nth(n - 1).unwrap());
    }
    let texts: Vec<String> = src.iter().map(line_text).collect();
    assert!(texts.iter().any(|t| t.contains("pub fn xor(")), "{texts:?}");
    let stmts = |n: &Node| n.attribute("data-stmt").map(str::to_string);
    let src_stmts: std::collections::BTreeSet<String> = src.iter().filter_map(stmts).collect();
    assert_eq!(src_stmts.len(), 3, "xor's body has three statements");

    // The code pane is GRADIENT_CODE, line for line.
    let code: Vec<Node> = elements(doc.root_element(), "div", "code-line").collect();
    let text: Vec<String> = code.iter().map(line_text).collect();
    assert_eq!(text.join("\n") + "\n", fixture::xor::GRADIENT_CODE);

    // Each `let` of a local names the node its picture calls by that name,
    // and its line lists nodes that exist.
    let locals = ["h", "d_h", "d_yhat", "d_w1"];
    for local in locals {
        let k = text
            .iter()
            .position(|t| {
                let rest = t.strip_prefix("    let ").unwrap_or("");
                let rest = rest.strip_prefix("mut ").unwrap_or(rest);
                rest.strip_prefix(local)
                    .is_some_and(|r| r.starts_with([' ', ':']))
            })
            .unwrap_or_else(|| panic!("no let {local}"));
        let node = code[k]
            .attribute("data-node")
            .expect("a let line has its node");
        let boxed = by_id(&doc, &format!("opt-n{node}"));
        assert_eq!(tspans(&boxed).get(2).map(String::as_str), Some(local));
        for n in code[k].attribute("data-nodes").unwrap().split(' ') {
            by_id(&doc, &format!("opt-n{n}"));
        }
        // The explanation shown for it is what `gradc explain` prints.
        let shown = by_id(&doc, &format!("explain-{node}"))
            .text()
            .unwrap()
            .to_string();
        let cli = ok(&["explain", FIXTURE, "--network", "xor", "--node", local]);
        assert_eq!(shown, cli, "{local}");
    }
    // Every line of a node's block carries its statement; a statement on a
    // code line is one the source pane has.
    for (l, t) in code.iter().zip(&text) {
        if let Some(s) = stmts(l) {
            assert!(src_stmts.contains(&s), "{t}: statement {s}");
        }
        // A chain-rule comment is the term of the node it introduces.
        if let Some(term) = t.trim().strip_prefix("// dL/d") {
            assert!(has_class(l, "origin"), "{t}");
            assert_eq!(
                l.attribute("data-term"),
                Some(format!("dL/d{term}").as_str())
            );
        }
    }
    // Every computed node of the optimized graph has its explanation.
    for id in opt.node_ids() {
        by_id(&doc, &format!("explain-{}", id.index()));
    }
    // The report is the CLI's.
    let report = by_id(&doc, "report-text").text().unwrap().to_string();
    assert_eq!(
        report,
        ok(&["show", FIXTURE, "--network", "xor", "--emit", "report"])
    );
    // The page's script is there and wrapped so XML readers skip it.
    let script = doc
        .descendants()
        .find(|n| n.tag_name().name() == "script")
        .expect("a script");
    assert!(script.text().unwrap_or("").contains("selectLine"));
}

#[test]
fn every_forward_statement_is_linked_both_ways() {
    let html = explore(FIXTURE, "slides_222");
    let doc = parse_page(&html);
    // Every statement of the body has code lines and nodes in each graph.
    let src_stmts: std::collections::BTreeSet<&str> =
        elements(doc.root_element(), "div", "src-line")
            .filter_map(|l| l.attribute("data-stmt"))
            .collect();
    assert!(!src_stmts.is_empty());
    for s in &src_stmts {
        let with = |scope: &str, class: &str| {
            by_id(&doc, scope)
                .descendants()
                .filter(|n| has_class(n, class) && n.attribute("data-stmt") == Some(*s))
                .count()
        };
        assert!(with("code", "code-line") > 0, "statement {s} has no code");
        for g in ["fwd", "joint", "opt"] {
            assert!(with(g, "node") > 0, "statement {s} has no node in {g}");
        }
    }
}

#[test]
fn explorer_works_for_batch_generic_and_parameterless_networks() {
    let html = explore(BATCH_PATH, "clf");
    let doc = parse_page(&html);
    check_picture(by_id(&doc, "opt"), &graph(BATCH_PATH, "clf", "optimized"));

    let html = explore(FIXTURE, "xor_predict");
    let doc = parse_page(&html);
    check_picture(
        by_id(&doc, "fwd"),
        &graph(FIXTURE, "xor_predict", "forward"),
    );
    for view in ["view-joint", "view-opt"] {
        let v = by_id(&doc, view);
        assert!(v.descendants().all(|n| n.tag_name().name() != "svg"));
        assert!(v
            .descendants()
            .any(|n| n.text().is_some_and(|t| t.contains("no parameters"))));
    }
}

#[test]
fn explore_reports_an_unwritable_output() {
    let r = gradc(&[
        "explore",
        FIXTURE,
        "--network",
        "xor",
        "-o",
        "/nonexistent-dir/page.html",
    ]);
    assert!(!r.ok);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(
        r.stderr
            .starts_with("gradc: cannot write /nonexistent-dir/page.html"),
        "{}",
        r.stderr
    );
}
