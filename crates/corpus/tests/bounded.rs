//! Bounded compile: a 200-layer network and a 256-branch-wide one go through
//! the whole pipeline; the optimizer stops at its limits (iterations per phase
//! and e-nodes, `OptConfig::default()`: 30 and 20 000), never by time, and the
//! report says which limit stopped it. Whatever the stop, the code computes
//! the right numbers: checked with the interpreter against the tape
//! interpreter on the forward graph (which does not use autodiff) and central
//! finite differences. Wall time is printed, never asserted.

use gradc_driver::{compile, OptConfig};
use gradc_ir::{interp, Graph};
use proc_macro2::TokenStream;
use std::time::Instant;

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
}

/// Seeded data in [-1, 1) for every leaf of `g`.
fn data(g: &Graph, ids: &[gradc_ir::NodeId], seed: u64) -> Vec<Vec<f64>> {
    let mut s = seed;
    ids.iter()
        .map(|i| {
            (0..g.shape(*i).numel())
                .map(|_| {
                    s = s
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
                })
                .collect()
        })
        .collect()
}

fn slices(v: &[Vec<f64>]) -> Vec<&[f64]> {
    v.iter().map(|x| x.as_slice()).collect()
}

/// The loss and gradients of `optimized` (a joint graph) agree with the tape
/// interpreter on `forward`, and a few gradient entries with central differences.
fn check_numbers(forward: &Graph, optimized: &Graph) {
    let xs = data(forward, forward.inputs(), 1);
    let ps = data(forward, forward.params(), 2);
    let (loss, grads) = interp::gradients::<f64>(forward, &slices(&xs), &slices(&ps)).unwrap();
    let roots = interp::evaluate::<f64>(optimized, &slices(&xs), &slices(&ps)).unwrap();
    assert!(loss.is_finite());
    assert!(
        close(roots[0][0], loss, 1e-12),
        "loss {} vs {loss}",
        roots[0][0]
    );
    for (p, (a, b)) in roots[1..].iter().zip(&grads).enumerate() {
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!(close(*x, *y, 1e-10), "d param {p} [{i}]: {x} vs tape {y}");
        }
    }
    // Central differences on the first, a middle and the last parameter.
    let n = ps.len();
    for p in [0, n / 2, n - 1] {
        let h = 1e-6;
        let mut q = ps.clone();
        q[p][0] += h;
        let up = interp::evaluate::<f64>(forward, &slices(&xs), &slices(&q)).unwrap()[0][0];
        q[p][0] -= 2.0 * h;
        let down = interp::evaluate::<f64>(forward, &slices(&xs), &slices(&q)).unwrap()[0][0];
        let fd = (up - down) / (2.0 * h);
        assert!(
            close(roots[1 + p][0], fd, 1e-6),
            "d param {p}: {} vs fd {fd}",
            roots[1 + p][0]
        );
    }
}

fn parse(src: &str) -> gradc_frontend::Network {
    let item: TokenStream = src.parse().unwrap();
    gradc_frontend::parse_network(TokenStream::new(), item).unwrap()
}

/// `h = tanh(h * w_i + 0.1)` 200 times: 200 scalar parameters in a chain.
fn deep_source(layers: usize) -> String {
    let params: Vec<String> = (0..layers).map(|i| format!("w{i}: f64")).collect();
    let mut body = String::from("let h = x;\n");
    for i in 0..layers {
        body.push_str(&format!("let h = tanh(h * w{i} + 0.1);\n"));
    }
    format!(
        "fn deep(#[input] x: [f64; 4], {}) -> f64 {{ {body} sum(h) }}",
        params.join(", ")
    )
}

/// 256 independent branches `sigmoid(x * w_i) · v_i` summed.
fn wide_source(branches: usize) -> String {
    let mut params = Vec::new();
    let mut terms = Vec::new();
    for i in 0..branches {
        params.push(format!("w{i}: [f64; 3], v{i}: f64"));
        terms.push(format!("sum(sigmoid(x * w{i})) * v{i}"));
    }
    format!(
        "fn wide(#[input] x: [[f64; 3]; 2], {}) -> f64 {{ {} }}",
        params.join(", "),
        terms.join(" + ")
    )
}

fn compile_and_check(name: &str, src: &str) -> gradc_ir::Report {
    let t = Instant::now();
    let net = parse(src);
    let forward = net.graph.clone();
    let c = compile(net).unwrap_or_else(|e| panic!("{name}: {e}"));
    let r = c.report.clone();
    println!(
        "{name}: {} forward nodes, ops {} -> {}, {} iterations, {} e-nodes, stopped by {}, {:?}",
        forward.len(),
        r.ops_naive,
        r.ops_optimized,
        r.iterations,
        r.egraph_nodes,
        r.stop_reason,
        t.elapsed()
    );
    let limits = OptConfig::default();
    // "saturated", or the limit that stopped a phase ("node limit in phase ...").
    assert!(
        ["saturated", "iteration limit", "node limit"]
            .iter()
            .any(|s| r.stop_reason.starts_with(s)),
        "{name}: stop reason {}",
        r.stop_reason
    );
    // The e-graph may overshoot the node limit by one iteration's growth only;
    // a generous bound still catches an unbounded run.
    assert!(
        r.egraph_nodes <= 10 * limits.node_limit,
        "{name}: {} e-nodes",
        r.egraph_nodes
    );
    check_numbers(&forward, c.optimized.as_ref().unwrap());
    r
}

#[test]
fn two_hundred_layers_compile_correctly() {
    compile_and_check("deep-200", &deep_source(200));
}

#[test]
fn a_wide_network_compiles_correctly() {
    compile_and_check("wide-256", &wide_source(256));
}

#[test]
fn the_whole_expansion_of_the_deep_network_is_bounded() {
    let item: TokenStream = deep_source(200).parse().unwrap();
    let out = gradc_driver::expand(TokenStream::new(), item).to_string();
    assert!(
        !out.contains("compile_error"),
        "the deep network expands cleanly"
    );
    assert!(out.contains("fn forward_backward"));
}

/// With a tight node limit the e-graph stops early; the report says so and the
/// extracted code is still right.
#[test]
fn hitting_the_node_limit_still_gives_correct_code() {
    let net = parse(&deep_source(40));
    let joint = gradc_autodiff::differentiate(&net.graph).unwrap();
    for fast_math in [false, true] {
        let config = OptConfig {
            node_limit: 300,
            fast_math,
            ..OptConfig::default()
        };
        let (optimized, report) = gradc_opt::optimize(&joint, &config).unwrap();
        assert!(
            report.stop_reason.starts_with("node limit"),
            "fast_math {fast_math}: {}",
            report.stop_reason
        );
        if !fast_math {
            check_numbers(&net.graph, &optimized);
        }
    }
    let config = OptConfig {
        iter_limit: 1,
        ..OptConfig::default()
    };
    let (optimized, report) = gradc_opt::optimize(&joint, &config).unwrap();
    assert!(
        report.stop_reason.starts_with("iteration limit")
            || report.stop_reason.starts_with("node limit"),
        "{}",
        report.stop_reason
    );
    check_numbers(&net.graph, &optimized);
}
