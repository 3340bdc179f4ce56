mod common;

use common::{args_for, count_op, eval};
use gradc_ir::{verify, BinaryOp, DType, Graph, NodeId, Op, Shape, UnaryOp};
use gradc_opt::{flops, optimize, OptConfig};

fn mul(g: &mut Graph, a: NodeId, b: NodeId) -> NodeId {
    g.add(Op::Binary(BinaryOp::Mul), &[a, b]).unwrap()
}

/// Slide 53: x = f(w), y = f(x), z = f(y), loss = z, with the adjoints a naive
/// derivative builds, recomputing each sigmoid as a new node:
/// d_y = 1·z·(1 − z), d_x = d_y·y·(1 − y), d_w = d_x·x·(1 − x).
fn slide53(w_shape: Shape) -> Graph {
    let mut g = Graph::new(DType::F64);
    let w = g.add_param("w", w_shape);
    let x = g.add(Op::Unary(UnaryOp::Sigmoid), &[w]).unwrap();
    g.set_name(x, "x");
    let y = g.add(Op::Unary(UnaryOp::Sigmoid), &[x]).unwrap();
    g.set_name(y, "y");
    let z = g.add(Op::Unary(UnaryOp::Sigmoid), &[y]).unwrap();
    g.set_name(z, "z");
    let one = g.constant(1.0);
    let mut adj = one;
    for (arg, name) in [(y, "d_y"), (x, "d_x"), (w, "d_w")] {
        let s = g.add(Op::Unary(UnaryOp::Sigmoid), &[arg]).unwrap();
        let one = g.constant(1.0);
        let c = g.add(Op::Binary(BinaryOp::Sub), &[one, s]).unwrap();
        let t = mul(&mut g, adj, s);
        adj = mul(&mut g, t, c);
        g.set_name(adj, name);
    }
    g.add_root("loss", z);
    g.add_root("d_w", adj);
    g
}

/// A 2-layer ReLU regression network with a hand-written naive joint graph:
/// recomputed forward values, explicit transposes, `1·g` and `powi 1`.
fn mlp() -> Graph {
    let mut g = Graph::new(DType::F64);
    let xs = g.add_input("x", Shape::new([4, 2]));
    let ys = g.add_input("y", Shape::new([4, 1]));
    let _unused_input = g.add_input("mask", Shape::new([4]));
    let w1 = g.add_param("w1", Shape::new([2, 3]));
    let b = g.add_param("b", Shape::new([3]));
    let w2 = g.add_param("w2", Shape::new([3, 1]));
    let _unused_param = g.add_param("bias_unused", Shape::scalar());
    let mm = Op::MatMul {
        ta: false,
        tb: false,
    };
    let xw = g.add(mm.clone(), &[xs, w1]).unwrap();
    let pre = g.add(Op::Binary(BinaryOp::Add), &[xw, b]).unwrap();
    g.set_name(pre, "pre");
    let h = g.add(Op::Unary(UnaryOp::Relu), &[pre]).unwrap();
    g.set_name(h, "h");
    let yhat = g.add(mm.clone(), &[h, w2]).unwrap();
    g.set_name(yhat, "yhat");
    let diff = g.add(Op::Binary(BinaryOp::Sub), &[yhat, ys]).unwrap();
    let sq = g.add(Op::Unary(UnaryOp::Powi(2)), &[diff]).unwrap();
    let s = g.add(Op::Sum, &[sq]).unwrap();
    let four = g.constant(4.0);
    let loss = g.add(Op::Binary(BinaryOp::Div), &[s, four]).unwrap();

    // Backward, naively.
    let one = g.constant(1.0);
    let four2 = g.constant(4.0);
    let g_s = g.add(Op::Binary(BinaryOp::Div), &[one, four2]).unwrap();
    let g_sq = g.add(Op::BroadcastTo(Shape::new([4, 1])), &[g_s]).unwrap();
    let xw2 = g.add(mm.clone(), &[xs, w1]).unwrap();
    let pre2 = g.add(Op::Binary(BinaryOp::Add), &[xw2, b]).unwrap();
    let h2 = g.add(Op::Unary(UnaryOp::Relu), &[pre2]).unwrap();
    let yhat2 = g.add(mm.clone(), &[h2, w2]).unwrap();
    let diff2 = g.add(Op::Binary(BinaryOp::Sub), &[yhat2, ys]).unwrap();
    let p1 = g.add(Op::Unary(UnaryOp::Powi(1)), &[diff2]).unwrap();
    let two = g.constant(2.0);
    let dd = mul(&mut g, two, p1);
    let g_diff = mul(&mut g, g_sq, dd);
    let one2 = g.constant(1.0);
    let g_yhat = mul(&mut g, one2, g_diff);
    g.set_name(g_yhat, "d_yhat");
    let w2t = g.add(Op::Transpose, &[w2]).unwrap();
    let g_h = g.add(mm.clone(), &[g_yhat, w2t]).unwrap();
    let zero = g.constant(0.0);
    let mask = g.add(Op::Binary(BinaryOp::Gt), &[h2, zero]).unwrap();
    let g_pre = mul(&mut g, g_h, mask);
    let d_b = g.add(Op::SumTo(Shape::new([3])), &[g_pre]).unwrap();
    let xt = g.add(Op::Transpose, &[xs]).unwrap();
    let d_w1 = g.add(mm.clone(), &[xt, g_pre]).unwrap();
    let ht = g.add(Op::Transpose, &[h2]).unwrap();
    let d_w2 = g.add(mm, &[ht, g_yhat]).unwrap();
    let d_unused = g.constant(0.0);
    g.add_root("loss", loss);
    g.add_root("d_w1", d_w1);
    g.add_root("d_b", d_b);
    g.add_root("d_w2", d_w2);
    g.add_root("d_bias_unused", d_unused);
    verify(&g).unwrap();
    g
}

/// Both graphs give bit-identical roots on several argument sets (exact rules only).
fn assert_same_values(a: &Graph, b: &Graph) {
    for seed in 0..5 {
        let (inputs, params) = args_for(a, seed);
        assert_eq!(
            eval(a, &inputs, &params),
            eval(b, &inputs, &params),
            "seed {seed}"
        );
    }
}

fn assert_same_interface(a: &Graph, b: &Graph) {
    let leaves = |g: &Graph| -> Vec<(Option<String>, Shape)> {
        g.inputs()
            .iter()
            .chain(g.params())
            .map(|i| (g.name(*i).map(String::from), g.shape(*i).clone()))
            .collect()
    };
    assert_eq!(leaves(a), leaves(b));
    let roots = |g: &Graph| -> Vec<(String, Shape)> {
        g.roots()
            .iter()
            .map(|r| (r.name.clone(), g.shape(r.node).clone()))
            .collect()
    };
    assert_eq!(roots(a), roots(b));
    // Leaves come first, in order.
    let n = b.inputs().len() + b.params().len();
    let firsts: Vec<NodeId> = b.inputs().iter().chain(b.params()).copied().collect();
    assert_eq!(firsts, (0..n).map(NodeId::from_index).collect::<Vec<_>>());
}

#[test]
fn repeated_sigmoid_is_computed_once() {
    let mut g = Graph::new(DType::F32);
    let x = g.add_input("x", Shape::new([3]));
    let s1 = g.add(Op::Unary(UnaryOp::Sigmoid), &[x]).unwrap();
    let s2 = g.add(Op::Unary(UnaryOp::Sigmoid), &[x]).unwrap();
    let p = g.add(Op::Binary(BinaryOp::Mul), &[s1, s2]).unwrap();
    let l = g.add(Op::Sum, &[p]).unwrap();
    g.add_root("loss", l);
    assert_eq!(count_op(&g, &Op::Unary(UnaryOp::Sigmoid)), 2);
    let (opt, report) = optimize(&g, &OptConfig::default()).unwrap();
    assert_eq!(count_op(&opt, &Op::Unary(UnaryOp::Sigmoid)), 1, "{opt}");
    assert_eq!(opt.op_count(), 3);
    assert_eq!(report.ops_naive, 4);
    assert_eq!(report.ops_optimized, 3);
    assert_same_interface(&g, &opt);
}

#[test]
fn slide53_evaluates_each_sigmoid_once() {
    for shape in [Shape::scalar(), Shape::new([3])] {
        let g = slide53(shape);
        assert_eq!(count_op(&g, &Op::Unary(UnaryOp::Sigmoid)), 6);
        let (opt, report) = optimize(&g, &OptConfig::default()).unwrap();
        assert_eq!(count_op(&opt, &Op::Unary(UnaryOp::Sigmoid)), 3, "{opt}");
        // 3 sigmoids; z(1 − z): 2; d_y·y·(1 − y) and d_x·x·(1 − x): 3 each. The `1·` is gone.
        assert_eq!(opt.op_count(), 11, "{opt}");
        assert_eq!(report.ops_naive, 15);
        assert!(
            report.rules_fired.get("mul-one").copied().unwrap_or(0) >= 1,
            "{report}"
        );
        // The forward names survive on the shared sigmoids.
        for name in ["x", "y", "z"] {
            let id = opt.node_ids().find(|i| opt.name(*i) == Some(name)).unwrap();
            assert_eq!(*opt.op(id), Op::Unary(UnaryOp::Sigmoid), "{name} in {opt}");
        }
        assert_same_interface(&g, &opt);
        assert_same_values(&g, &opt);
    }
}

#[test]
fn slide53_values_match_hand_formula() {
    // Independent of the graph: σ chain rule by hand, checked against the optimized graph.
    let g = slide53(Shape::scalar());
    let (opt, _) = optimize(&g, &OptConfig::default()).unwrap();
    let sig = |v: f64| 1.0 / (1.0 + (-v).exp());
    for w in [-1.5, 0.0, 0.7] {
        let (x, y) = (sig(w), sig(sig(w)));
        let z = sig(y);
        let d_w = z * (1.0 - z) * y * (1.0 - y) * x * (1.0 - x);
        let p = common::T {
            shape: Shape::scalar(),
            data: vec![w],
        };
        let out = eval(&opt, &[], &[p]);
        assert!((out[0].data[0] - z).abs() < 1e-15);
        assert!((out[1].data[0] - d_w).abs() < 1e-15);
    }
}

#[test]
fn mlp_joint_graph_is_simplified_and_equivalent() {
    let g = mlp();
    let (opt, report) = optimize(&g, &OptConfig::default()).unwrap();
    assert_same_interface(&g, &opt);
    assert_same_values(&g, &opt);
    // The recomputed forward pass is shared: two matmuls forward, two for d_w*, one for d_h.
    assert_eq!(count_op(&opt, &Op::Unary(UnaryOp::Relu)), 1, "{opt}");
    assert_eq!(count_op(&opt, &Op::Transpose), 0, "{opt}");
    assert_eq!(count_op(&opt, &Op::Unary(UnaryOp::Powi(1))), 0, "{opt}");
    let matmuls = opt
        .node_ids()
        .filter(|i| matches!(opt.op(*i), Op::MatMul { .. }))
        .count();
    assert_eq!(matmuls, 5, "{opt}");
    assert!(report.ops_optimized < report.ops_naive);
    assert!(report.flops_optimized < report.flops_naive, "{report}");
    assert_eq!(report.flops_naive, flops(&g));
    assert_eq!(report.flops_optimized, flops(&opt));
    assert_eq!(report.ops_optimized, opt.op_count());
    assert!(report.iterations >= 1);
    assert!(report.egraph_nodes > 0);
    assert_eq!(report.stop_reason, "saturated");
    for rule in [
        "matmul-nn-transpose-a",
        "matmul-nn-transpose-b",
        "powi-one",
        "mul-one",
    ] {
        assert!(
            report.rules_fired.contains_key(rule),
            "{rule} not in {report}"
        );
    }
    // Names carry over, forward names first.
    for name in ["pre", "h", "yhat", "d_yhat"] {
        assert!(
            opt.node_ids().any(|i| opt.name(i) == Some(name)),
            "{name} missing in {opt}"
        );
    }
    // Unused arguments keep their places and names.
    assert_eq!(opt.name(opt.inputs()[2]), Some("mask"));
    assert_eq!(opt.name(opt.params()[3]), Some("bias_unused"));
}

#[test]
fn optimization_is_deterministic() {
    for config in [
        OptConfig::default(),
        OptConfig {
            fast_math: true,
            ..OptConfig::default()
        },
    ] {
        for g in [mlp(), slide53(Shape::new([2]))] {
            let (a, ra) = optimize(&g, &config).unwrap();
            let (b, rb) = optimize(&g, &config).unwrap();
            assert_eq!(a.to_string(), b.to_string());
            assert_eq!(ra, rb);
        }
    }
}

#[test]
fn optimized_graph_round_trips_and_is_stable() {
    let (opt, _) = optimize(&mlp(), &OptConfig::default()).unwrap();
    let text = opt.to_string();
    let back: Graph = text.parse().unwrap();
    assert_eq!(back.to_string(), text);
    // Optimizing again finds nothing cheaper.
    let (again, _) = optimize(&opt, &OptConfig::default()).unwrap();
    assert_eq!(again.op_count(), opt.op_count());
    assert_eq!(flops(&again), flops(&opt));
}

#[test]
fn add_zero_only_under_fast_math() {
    let mut g = Graph::new(DType::F32);
    let x = g.add_input("x", Shape::new([3]));
    let zero = g.constant(0.0);
    let a = g.add(Op::Binary(BinaryOp::Add), &[x, zero]).unwrap();
    let e = g.add(Op::Unary(UnaryOp::Exp), &[a]).unwrap();
    g.add_root("out", e);
    let (exact, _) = optimize(&g, &OptConfig::default()).unwrap();
    assert_eq!(exact.op_count(), 2);
    let (fast, report) = optimize(
        &g,
        &OptConfig {
            fast_math: true,
            ..OptConfig::default()
        },
    )
    .unwrap();
    assert_eq!(fast.op_count(), 1, "{fast}");
    assert_eq!(report.rules_fired.get("add-zero"), Some(&1));
}

#[test]
fn limits_stop_saturation_and_output_stays_correct() {
    let g = mlp();
    let fast = OptConfig {
        fast_math: true,
        ..OptConfig::default()
    };
    let (opt, report) = optimize(
        &g,
        &OptConfig {
            node_limit: 60,
            ..fast.clone()
        },
    )
    .unwrap();
    assert!(report.stop_reason.starts_with("node limit"), "{report}");
    assert_same_interface(&g, &opt);
    let (opt, report) = optimize(
        &g,
        &OptConfig {
            iter_limit: 1,
            ..fast
        },
    )
    .unwrap();
    assert!(
        report.stop_reason.starts_with("iteration limit"),
        "{report}"
    );
    // The iteration limit is per phase.
    assert!(
        report.iterations <= gradc_opt::rules::Phase::ALL.len(),
        "{report}"
    );
    // Fast math may reassociate, so compare with a tolerance here.
    for seed in 0..3 {
        let (i, p) = args_for(&g, seed);
        for (a, b) in eval(&g, &i, &p).iter().zip(eval(&opt, &i, &p)) {
            assert_eq!(a.shape, b.shape);
            for (u, v) in a.data.iter().zip(&b.data) {
                assert!((u - v).abs() <= 1e-12 * (1.0 + u.abs()), "{u} vs {v}");
            }
        }
    }
}

#[test]
fn constants_fold_in_the_element_type() {
    // (1 / 4) folds to 0.25; in f32 0.1 + 0.2 folds to the f32 sum.
    let mut g = Graph::new(DType::F32);
    let x = g.add_input("x", Shape::new([2]));
    let a = g.constant(0.1);
    let b = g.constant(0.2);
    let c = g.add(Op::Binary(BinaryOp::Add), &[a, b]).unwrap();
    let y = g.add(Op::Binary(BinaryOp::Mul), &[x, c]).unwrap();
    g.add_root("out", y);
    let (opt, report) = optimize(&g, &OptConfig::default()).unwrap();
    assert_eq!(opt.op_count(), 1, "{opt}");
    let k = opt
        .node_ids()
        .find(|i| matches!(opt.op(*i), Op::Const(_)))
        .unwrap();
    let Op::Const(v) = opt.op(k) else {
        unreachable!()
    };
    assert_eq!(v.value(), (0.1f32 + 0.2f32) as f64);
    assert!(report.rules_fired.contains_key("const-fold"));
}

#[test]
fn invalid_graph_is_an_error() {
    let mut g = Graph::new(DType::F32);
    let x = g.add_input("x", Shape::new([3]));
    // A node whose declared shape is wrong: optimize must refuse, not panic.
    let bad = g.push(Op::Unary(UnaryOp::Neg), vec![x], Shape::new([4]), None);
    g.add_root("out", bad);
    assert!(optimize(&g, &OptConfig::default()).is_err());
}

/// A pseudo-random DAG of elementwise ops over a few leaves, for stress tests.
fn random_dag(nodes: usize, seed: u64) -> Graph {
    let mut g = Graph::new(DType::F64);
    let mut ids = vec![
        g.add_input("a", Shape::new([3])),
        g.add_param("p", Shape::new([3])),
        g.add_param("q", Shape::scalar()),
    ];
    let one = g.constant(1.0);
    ids.push(one);
    let mut state = seed | 1;
    let mut next = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    for _ in 0..nodes {
        let (a, b) = (
            ids[ids.len() - 1 - next(ids.len().min(8))],
            ids[next(ids.len())],
        );
        let op = [
            Op::Binary(BinaryOp::Add),
            Op::Binary(BinaryOp::Mul),
            Op::Binary(BinaryOp::Sub),
            Op::Unary(UnaryOp::Neg),
            Op::Unary(UnaryOp::Sigmoid),
            Op::Binary(BinaryOp::Mul),
        ][next(6)]
        .clone();
        let args = if op.arity() == 1 { vec![a] } else { vec![a, b] };
        ids.push(g.add(op, &args).unwrap());
    }
    let s = g.add(Op::Sum, &[*ids.last().unwrap()]).unwrap();
    g.add_root("out", s);
    g
}

#[test]
fn random_dags_stay_equivalent() {
    for seed in 1..6 {
        let g = random_dag(60, seed);
        let (opt, report) = optimize(&g, &OptConfig::default()).unwrap();
        assert_same_interface(&g, &opt);
        assert_same_values(&g, &opt);
        assert!(report.flops_optimized <= report.flops_naive, "{report}");
    }
}

/// Fast-math rules on a large random DAG run into the node limit; the result is
/// still equivalent and the report says why saturation stopped.
#[test]
fn stress_fast_math_at_node_limit() {
    let g = random_dag(400, 7);
    let (opt, report) = optimize(
        &g,
        &OptConfig {
            fast_math: true,
            ..OptConfig::default()
        },
    )
    .unwrap();
    assert_same_interface(&g, &opt);
    assert!(report.stop_reason.starts_with("node limit"), "{report}");
}

/// FastMath's commutativity and associativity on a sum and a product of
/// twelve parameters (and their gradients) multiply the e-graph in one
/// iteration: without the guard, a limit of 400 ends at ~700 e-nodes, since
/// egg checks its limit only between iterations. The guard holds the budget
/// within an iteration (overshoot: one chunk of matches), and the report says
/// the limit stopped saturation. (`0·v + w` once grew to ~150 000 e-nodes in
/// one iteration; constant classes are now pruned to their leaf, and it
/// saturates at 6.)
#[test]
fn node_limit_holds_within_an_iteration() {
    let mut g = Graph::new(DType::F32);
    let ps: Vec<NodeId> = (0..12)
        .map(|i| g.add_param(&format!("p{i}"), Shape::scalar()))
        .collect();
    let (mut sum, mut prod) = (ps[0], ps[0]);
    for &p in &ps[1..] {
        sum = g.add(Op::Binary(BinaryOp::Add), &[sum, p]).unwrap();
        prod = mul(&mut g, prod, p);
    }
    let out = mul(&mut g, sum, prod);
    g.add_root("out", out);
    let joint = gradc_autodiff::differentiate(&g).unwrap();
    for node_limit in [20_000, 400] {
        let config = OptConfig {
            fast_math: true,
            node_limit,
            ..OptConfig::default()
        };
        let budget = gradc_opt::node_budget(&config, joint.len());
        assert!(budget <= node_limit);
        let (opt, report) = optimize(&joint, &config).unwrap();
        assert!(
            report.egraph_nodes <= budget + 200,
            "{} e-nodes for a budget of {budget}",
            report.egraph_nodes
        );
        assert!(report.stop_reason.starts_with("node limit"), "{report}");
        assert_same_interface(&joint, &opt);
        // Reassociation rounds differently: close, not bit-identical.
        for seed in 0..5 {
            let (inputs, params) = args_for(&joint, seed);
            let (a, b) = (eval(&joint, &inputs, &params), eval(&opt, &inputs, &params));
            for (x, y) in a.iter().zip(&b) {
                let (x, y) = (x.data[0], y.data[0]);
                assert!((x - y).abs() <= 1e-5 * x.abs().max(y.abs()), "{x} vs {y}");
            }
        }
    }
}

/// `w·0/4`: the constant class 0 also held `0·0.25` (from `x/4 → x·0.25`), and
/// `a·(b·x) → (ab)·x` then minted 0.25ᵏ·0 for every k down to the smallest
/// normal, a match count quadratic in the constants (628 e-nodes and the node
/// limit here; 10 s of a dev build for the fuzz seed `clf`). A constant class
/// is pruned to its leaf, so saturation ends at once.
#[test]
fn constant_classes_do_not_mint_constants() {
    let g: Graph = "(graph f64
  (let %0 w [] (param 0))
  (let %1 _ [] (const 0))
  (let %2 _ [] (mul %0 %1))
  (let %3 _ [] (const 4))
  (let %4 _ [] (div %2 %3))
  (root out %4))"
        .parse()
        .unwrap();
    let joint = gradc_autodiff::differentiate(&g).unwrap();
    let (opt, report) = optimize(&joint, &OptConfig::default()).unwrap();
    assert_eq!(report.stop_reason, "saturated", "{report}");
    assert!(report.egraph_nodes < 20, "{report}");
    assert_same_interface(&joint, &opt);
    assert_same_values(&joint, &opt);
}
