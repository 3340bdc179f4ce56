//! End-to-end tests of the `gradc` binary: every subcommand, every error path,
//! and the README's CLI transcripts.

use std::path::PathBuf;
use std::process::Command;

// The fixture networks, compiled by `#[network]` as a user's crate would; the
// tests run `gradc` on the same source files.
use gradc_testkit::nets as fixture;
use gradc_testkit::nets::{BATCH_PATH, HANDROLLED_PATH as HANDROLLED, SLIDES_PATH as FIXTURE};

mod common;
use common::{gradc, root, Run};

fn show(network: &str, emit: &str) -> String {
    let r = gradc(&["show", FIXTURE, "--network", network, "--emit", emit]);
    assert!(r.ok, "gradc show failed: {}", r.stderr);
    r.stdout
}

/// A one-line `gradc: ...` error and a failing exit.
fn assert_one_line_error(r: &Run, needle: &str) {
    assert!(!r.ok, "expected failure, got: {}", r.stdout);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.starts_with("gradc: "), "{}", r.stderr);
    assert!(r.stderr.contains(needle), "{:?} lacks {needle:?}", r.stderr);
}

#[test]
fn emit_rust_is_the_macros_gradient_code_and_parses() {
    for (name, code) in [
        ("slides_222", fixture::slides_222::GRADIENT_CODE),
        ("xor", fixture::xor::GRADIENT_CODE),
        ("chain", fixture::chain::GRADIENT_CODE),
    ] {
        let out = show(name, "rust");
        assert_eq!(out, code, "{name}");
        syn::parse_file(&out).unwrap_or_else(|e| panic!("{name}: {e}\n{out}"));
    }
}

#[test]
fn gradient_code_is_commented_with_sources_and_chain_rule_terms() {
    let code = fixture::slides_222::GRADIENT_CODE;
    assert!(
        code.contains("// source: let h = sigmoid(x.matmul(w1));"),
        "{code}"
    );
    assert!(
        code.contains("// source: let yhat = sigmoid(h.matmul(w2));"),
        "{code}"
    );
    // The matmul VJP of the table: ga = g·bᵀ, gb = aᵀ·g.
    assert!(code.contains("// dL/dh = dL/d(h·w2) · w2ᵀ"), "{code}");
    assert!(code.contains("// dL/dw1 = xᵀ · dL/d(x·w1)"), "{code}");
    // Comments stand on their own lines before statements; every other line is code.
    for line in code.lines().filter(|l| l.trim_start().starts_with("//")) {
        assert!(line.starts_with("    // "), "{line:?}");
    }
}

#[test]
fn emit_ir_is_the_forward_graph() {
    assert_eq!(
        show("slides_222", "ir"),
        fixture::slides_222::graph().to_string()
    );
}

#[test]
fn emit_joint_and_optimized_are_graph_text_with_gradient_roots() {
    for emit in ["joint", "optimized"] {
        let text = show("xor", emit);
        let g: gradc::Graph = text.parse().unwrap_or_else(|e| panic!("{emit}: {e:?}"));
        let roots: Vec<&str> = g.roots().iter().map(|r| r.name.as_str()).collect();
        assert_eq!(roots, ["loss", "d_w1", "d_c", "d_w2", "d_b"], "{emit}");
    }
    // Rewriting never adds work here: the optimized graph has no more nodes.
    let joint: gradc::Graph = show("xor", "joint").parse().unwrap();
    let opt: gradc::Graph = show("xor", "optimized").parse().unwrap();
    assert!(opt.op_count() <= joint.op_count());
}

/// A small DOT reader: `digraph "name" { stmt; ... }` with node statements
/// `nK [attrs];` and edges `nA -> nB [attrs];` between declared nodes.
fn check_dot(dot: &str) -> usize {
    let body = dot
        .strip_prefix("digraph ")
        .and_then(|s| s.split_once('{'))
        .map(|(_, b)| b.trim_end())
        .and_then(|b| b.strip_suffix('}'))
        .expect("digraph NAME { ... }");
    let mut nodes = std::collections::BTreeSet::new();
    let mut edges = Vec::new();
    for stmt in body.lines().map(str::trim).filter(|l| !l.is_empty()) {
        assert!(stmt.ends_with(';'), "statement without `;`: {stmt}");
        let head = stmt.split(" [").next().unwrap().trim_end_matches(';');
        assert_eq!(
            stmt.matches('"').count() - stmt.matches("\\\"").count(),
            2 * (stmt.matches("=\"").count()),
            "unbalanced quotes: {stmt}"
        );
        match head.split_once(" -> ") {
            Some((a, b)) => edges.push((a.to_string(), b.to_string())),
            None if head.contains('=') => {} // graph attribute
            None if head == "node" => {}
            None => {
                nodes.insert(head.to_string());
            }
        }
    }
    for (a, b) in &edges {
        assert!(nodes.contains(a) && nodes.contains(b), "edge {a} -> {b}");
    }
    edges.len()
}

#[test]
fn emit_dot_is_valid_graphviz() {
    for stage in ["forward", "joint", "optimized"] {
        let r = gradc(&[
            "show",
            FIXTURE,
            "--network",
            "xor",
            "--emit",
            "dot",
            "--graph",
            stage,
        ]);
        assert!(r.ok, "{}", r.stderr);
        let edges = check_dot(&r.stdout);
        assert!(edges > 10, "{stage}: {edges} edges");
        // The real parser when it is installed.
        if let Ok(mut child) = Command::new("dot")
            .arg("-Tcanon")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
        {
            use std::io::Write as _;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(r.stdout.as_bytes())
                .unwrap();
            assert!(
                child.wait().unwrap().success(),
                "dot rejects:\n{}",
                r.stdout
            );
        }
    }
}

#[test]
fn report_lists_saved_residuals_and_scratch() {
    let out = show("slides_222", "report");
    assert!(out.contains("rules fired"), "{out}");
    // h and ŷ (f64, 2 elements) are what the sigmoid derivatives read back.
    let line = |name: &str| {
        out.lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no residual {name}:\n{out}"))
            .to_string()
    };
    assert!(
        line("h").contains("[2]") && line("h").contains(" 16 B"),
        "{out}"
    );
    assert!(line("yhat").contains(" 16 B"), "{out}");
    assert!(
        line("w2").contains(" 32 B") && line("w2").contains("argument"),
        "{out}"
    );
    // The totals are the sums of the listed lines.
    let (mut computed, mut args) = (0usize, 0usize);
    for l in out.lines().filter(|l| l.contains(" B  ")) {
        let b: usize = l
            .split(" B  ")
            .next()
            .unwrap()
            .split_whitespace()
            .last()
            .unwrap()
            .parse()
            .unwrap();
        if l.ends_with("argument") {
            args += b;
        } else {
            computed += b;
        }
    }
    assert!(
        out.contains(&format!(
            "{computed} bytes computed, {args} bytes of arguments"
        )),
        "{out}"
    );
    assert!(out.contains("scratch: "), "{out}");
}

#[test]
fn check_accepts_good_networks() {
    let r = gradc(&["check", FIXTURE]);
    assert!(r.ok, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("5 network(s) ok: xor, xor_predict, linear, slides_222, chain"),
        "{}",
        r.stdout
    );
    let r = gradc(&["check", FIXTURE, "--network", "xor"]);
    assert!(
        r.ok && r.stdout.contains("1 network(s) ok: xor"),
        "{}",
        r.stdout
    );
}

fn temp_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gradc-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// The attribute's options reach the optimizer: slide 53's chain with
/// `fast_math` reassociates its products, without it nothing does.
#[test]
fn attribute_options_are_honoured() {
    let src = "#[gradc::network(fast_math)]\nfn chain(w: f64) -> f64 {\n    let x = sigmoid(w);\n    let y = sigmoid(x);\n    sigmoid(y)\n}\n";
    let p = temp_file("fast.rs", src);
    let fast = gradc(&["show", p.to_str().unwrap(), "--emit", "report"]);
    assert!(fast.ok, "{}", fast.stderr);
    assert!(fast.stdout.contains("mul-assoc"), "{}", fast.stdout);
    let exact = show("chain", "report");
    assert!(!exact.contains("mul-assoc"), "{exact}");
}

#[test]
fn check_prints_rustc_style_diagnostics() {
    let src = "use gradc::network;\n\n#[network]\nfn bad(#[input] x: [[f32; 2]; 4], w: [[f32; 2]; 3]) -> f32 {\n    sum(x.matmul(w))\n}\n";
    let p = temp_file("bad.rs", src);
    let r = gradc(&["check", p.to_str().unwrap()]);
    assert!(!r.ok);
    // The span is `matmul(w)`: line 5, column of `matmul` (1-based).
    let col = src.lines().nth(4).unwrap().find("matmul").unwrap() + 1;
    let want = format!(
        "error: matmul: shapes [4 2] and [3 2] are not aligned (2 != 3)\n --> {}:5:{col}\n  |\n5 |     sum(x.matmul(w))\n  | {}^^^^^^^^^\n",
        p.display(),
        " ".repeat(col - 1)
    );
    assert!(
        r.stderr.starts_with(&want),
        "got:\n{}\nwant:\n{want}",
        r.stderr
    );
    assert!(r.stderr.contains("1 of 1 network(s)"), "{}", r.stderr);
}

#[test]
fn check_reports_syntax_errors_with_a_location() {
    let p = temp_file(
        "syntax.rs",
        "#[network]\nfn f(w: f32) -> f32 {\n    let = w;\n}\n",
    );
    let r = gradc(&["check", p.to_str().unwrap()]);
    assert!(!r.ok);
    assert!(r.stderr.starts_with("error: "), "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!(" --> {}:3:", p.display())),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("3 |     let = w;"), "{}", r.stderr);
}

#[test]
fn explain_gives_the_provenance_of_a_local() {
    let r = gradc(&[
        "explain",
        FIXTURE,
        "--network",
        "slides_222",
        "--node",
        "d_w1",
    ]);
    assert!(r.ok, "{}", r.stderr);
    let line = fixture::SLIDES_SOURCE
        .lines()
        .position(|l| l.contains("let h = sigmoid"))
        .unwrap()
        + 1;
    assert!(
        r.stdout
            .contains(&format!("{FIXTURE}:{line}: let h = sigmoid(x.matmul(w1));")),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("chain rule: dL/dw1 = xᵀ · dL/d(x·w1)"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("pass:      backward"), "{}", r.stdout);
    let r = gradc(&["explain", FIXTURE, "--network", "slides_222", "--node", "h"]);
    assert!(
        r.ok && r.stdout.contains("pass:      forward"),
        "{}",
        r.stdout
    );
}

/// A line made in a layer names the layer and its call site (and the calls
/// around it), for a closure and for a `#[gradc::layers]` module's `fn` alike,
/// at the line of the body's statement.
#[test]
fn explain_names_the_layer_and_call_site() {
    let closure = "#[gradc::network]\nfn c(#[input] x: [f32; 3], w: [f32; 3]) -> f32 {\n    let scale = |v, s| v * s;\n    let h = scale(x, w);\n    sum(h * h)\n}\n";
    let layers = "#[gradc::layers]\nmod m {\n    fn scale(v: _, s: _) -> _ {\n        v * s\n    }\n\n    #[gradc::network]\n    fn l(#[input] x: [f32; 3], w: [f32; 3]) -> f32 {\n        let h = scale(x, w);\n        sum(h * h)\n    }\n}\n";
    // A layer called from a closure names both calls.
    let nested = layers.replace(
        "let h = scale(x, w);",
        "let f = |a, b| scale(a, b);\n        let h = f(x, w);",
    );
    for (name, src, line, site) in [
        ("closure.rs", closure, 4, "[layer `scale` at `scale(x, w)`]"),
        ("layers.rs", layers, 9, "[layer `scale` at `scale(x, w)`]"),
        (
            "nested.rs",
            &nested,
            10,
            "[layer `scale` at `scale(a, b)` in `f` at `f(x, w)`]",
        ),
    ] {
        let p = temp_file(name, src);
        let p = p.to_str().unwrap();
        let r = gradc(&["explain", p, "--node", "d_w"]);
        assert!(r.ok, "{}", r.stderr);
        assert!(
            r.stdout.contains(&format!("{p}:{line}: ")) && r.stdout.contains(site),
            "{}",
            r.stdout
        );
    }
}

/// The rule names of the numbered steps `explain` lists, in order.
fn explained_rules(out: &str) -> Vec<String> {
    out.lines()
        .filter_map(|l| {
            let (num, rest) = l.trim_start().split_once(". ")?;
            num.parse::<usize>().ok()?;
            rest.split_whitespace().next().map(str::to_string)
        })
        .collect()
}

#[test]
fn explain_lists_the_rewrites_that_produced_a_line() {
    // The hand-rolled sigmoid's derivative: recognised as σ, and its chain
    // rule term rewritten to σ(1 − σ) on the forward value.
    let r = gradc(&["explain", HANDROLLED, "--node", "d_z"]);
    assert!(r.ok, "{}", r.stderr);
    let rules = explained_rules(&r.stdout);
    assert!(rules.iter().any(|r| r == "sigmoid-grad"), "{}", r.stdout);
    assert!(
        rules.iter().any(|r| r == "sigmoid-recognize"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("sigmoid-recognize  (div 1 (add 1 (exp (neg z))))  =>  (sigmoid z)"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("optimized: (mul (sigmoid z) (sub 1 (sigmoid z)))"),
        "{}",
        r.stdout
    );

    // XOR: mse's 1/4 and the chain rule's 2 fold into one scale 0.5.
    let r = gradc(&["explain", FIXTURE, "--network", "xor", "--node", "d_yhat"]);
    assert!(r.ok, "{}", r.stderr);
    assert_eq!(explained_rules(&r.stdout), ["scale-fold"], "{}", r.stdout);
    assert!(
        r.stdout.contains("optimized: (mul 0.5 (sub yhat y))"),
        "{}",
        r.stdout
    );

    // `1 − σ(z)` is a temporary sigmoid-grad created; codegen fuses it into
    // its user's line, which is explained with the rewrite that made it.
    let code = gradc(&["show", HANDROLLED, "--emit", "rust"]).stdout;
    let local = code
        .lines()
        .find_map(|l| {
            let (lhs, rhs) = l.trim().split_once("[i] = ")?;
            rhs.contains("(1.0f64 - ").then(|| lhs.to_string())
        })
        .unwrap_or_else(|| panic!("no 1 − σ line in:\n{code}"));
    let r = gradc(&["explain", HANDROLLED, "--node", &local]);
    assert!(r.ok, "{}", r.stderr);
    assert!(
        explained_rules(&r.stdout)
            .iter()
            .any(|r| r == "sigmoid-grad"),
        "{}",
        r.stdout
    );
}

#[test]
fn error_paths_are_one_line_and_fail() {
    assert_one_line_error(
        &gradc(&["show", "no/such/file.rs"]),
        "cannot read no/such/file.rs",
    );
    let empty = temp_file("empty.rs", "fn main() {}\n");
    assert_one_line_error(
        &gradc(&["show", empty.to_str().unwrap()]),
        "no #[network] functions",
    );
    assert_one_line_error(
        &gradc(&["check", empty.to_str().unwrap()]),
        "no #[network] functions",
    );
    assert_one_line_error(
        &gradc(&["show", FIXTURE, "--network", "nope"]),
        "no network `nope`",
    );
    assert_one_line_error(&gradc(&["show", FIXTURE]), "choose one with --network NAME");
    assert_one_line_error(
        &gradc(&["explain", FIXTURE, "--network", "xor", "--node", "nope"]),
        "no local `nope`",
    );
    let fwd = temp_file(
        "fwd.rs",
        "#[network]\nfn f(#[input] x: [f32; 2]) -> [f32; 2] {\n    relu(x)\n}\n",
    );
    assert_one_line_error(
        &gradc(&["show", fwd.to_str().unwrap(), "--emit", "joint"]),
        "has no parameters",
    );
}

#[test]
fn every_command_has_help_with_examples() {
    for cmd in ["show", "check", "explain"] {
        let r = gradc(&[cmd, "--help"]);
        assert!(r.ok, "{}", r.stderr);
        assert!(r.stdout.contains("Examples:"), "{cmd}: {}", r.stdout);
    }
    assert!(gradc(&["--help"]).stdout.contains("explain"));
}

/// Every example line of every `--help` (`  gradc ...`, up to a pipe or the
/// comment column) runs from the repository root and prints something.
#[test]
fn help_examples_run() {
    let mut ran = 0;
    for cmd in ["show", "check", "explain"] {
        let help = gradc(&[cmd, "--help"]);
        assert!(help.ok, "{}", help.stderr);
        let examples = help.stdout.split("Examples:\n").nth(1).unwrap_or_default();
        for line in examples.lines().filter_map(|l| l.strip_prefix("  gradc ")) {
            let line = line.split(" | ").next().unwrap_or_default();
            let line = line.split("  ").next().unwrap_or_default();
            let args: Vec<&str> = line.split_whitespace().collect();
            let r = gradc(&args);
            assert!(r.ok, "gradc {line}: {}", r.stderr);
            assert!(!r.stdout.trim().is_empty(), "gradc {line} printed nothing");
            ran += 1;
        }
    }
    assert!(ran >= 10, "{ran} help examples");
}

#[test]
fn graph_without_emit_dot_is_an_error() {
    for emit in ["rust", "ir", "joint", "optimized", "report"] {
        let r = gradc(&[
            "show",
            FIXTURE,
            "--network",
            "xor",
            "--emit",
            emit,
            "--graph",
            "joint",
        ]);
        assert_one_line_error(
            &r,
            "--graph picks the graph that --emit dot or --emit svg draws",
        );
    }
    // Left out, --graph changes nothing and is fine.
    assert!(gradc(&["show", FIXTURE, "--network", "xor", "--emit", "ir"]).ok);
}

/// Every ```text block of the README that starts with `$ gradc ...` is a real
/// transcript: running the command prints the rest of the block.
#[test]
fn readme_transcripts_are_real_output() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let mut seen = 0;
    for block in readme.split("```text\n").skip(1) {
        let block = block.split("```").next().unwrap();
        let Some((cmd, output)) = block.split_once('\n') else {
            continue;
        };
        let Some(args) = cmd.strip_prefix("$ gradc ") else {
            continue;
        };
        let args: Vec<&str> = args.split_whitespace().collect();
        let r = gradc(&args);
        assert!(r.ok, "{cmd}: {}", r.stderr);
        assert_eq!(output, r.stdout, "README block for `{cmd}` is stale");
        seen += 1;
    }
    assert!(seen >= 1, "the README shows a gradc transcript");
}

#[test]
fn batch_generic_networks_show_b() {
    let file = BATCH_PATH;
    let run = |emit: &str| {
        let r = gradc(&["show", file, "--network", "clf", "--emit", emit]);
        assert!(r.ok, "gradc show --emit {emit} failed: {}", r.stderr);
        r.stdout
    };
    let ir = run("ir");
    assert!(ir.contains("(let %0 x [B 6] (input 0))"), "{ir}");
    assert!(ir.contains("(count B)"), "{ir}");
    assert_eq!(ir.trim_end(), fixture::clf::graph().to_string().trim_end());
    let rust = run("rust");
    assert_eq!(rust, fixture::clf::GRADIENT_CODE);
    assert!(
        rust.contains("pub fn forward_backward<const B: usize>("),
        "{rust}"
    );
    syn::parse_file(&rust).unwrap_or_else(|e| panic!("{e}\n{rust}"));
    let report = run("report");
    assert!(report.contains("counts below are for B = 32"), "{report}");
    let dot = run("dot");
    assert!(dot.contains(" count B []"), "{dot}");
    let r = gradc(&["explain", file, "--network", "clf", "--node", "d_b"]);
    assert!(r.ok, "{}", r.stderr);
    assert!(
        r.stdout.contains("count:B") && !r.stdout.contains("1000003"),
        "{}",
        r.stdout
    );
}
