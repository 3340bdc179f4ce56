//! Tests of the pictures: `gradc show --emit svg`, parsed as XML, and its
//! elements checked against the graphs the rest of the pipeline gives for the
//! same network.

use roxmltree::{Document, Node};
use std::path::{Path, PathBuf};
use std::process::Command;

use gradc_testkit::nets::{BATCH_PATH, SLIDES_PATH as FIXTURE};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// Runs `gradc` from the workspace root.
fn gradc(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_gradc"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("gradc runs");
    Run {
        ok: out.status.success(),
        stdout: String::from_utf8(out.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("utf-8 stderr"),
    }
}

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
