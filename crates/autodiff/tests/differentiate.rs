//! Tests of symbolic differentiation: the joint graph's gradient roots, evaluated
//! by the interpreter, must match the interpreter's run-time backward pass and
//! central finite differences; plus structural checks of the contract.

use gradc_autodiff::differentiate;
use gradc_ir::interp::{evaluate, gradients};
use gradc_ir::{BinaryOp, DType, Graph, Op, Shape, UnaryOp};
use gradc_testkit::cases::{all_cases, network_cases, Case};

fn sh(d: &[usize]) -> Shape {
    Shape::new(d.to_vec())
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * a.abs().max(b.abs()).max(1.0)
}

fn case(name: &str) -> Case {
    network_cases()
        .unwrap()
        .into_iter()
        .find(|c| c.name == name)
        .unwrap()
}

#[test]
fn joint_graph_keeps_the_forward_graph() {
    for c in all_cases().unwrap() {
        let f = &c.graph;
        let j = differentiate(f).unwrap();
        assert!(j.len() > f.len() || f.params().is_empty(), "{}", c.name);
        for id in f.node_ids() {
            assert_eq!(
                j.node(id),
                f.node(id),
                "{}: forward node {id} changed",
                c.name
            );
        }
        assert_eq!(j.inputs(), f.inputs());
        assert_eq!(j.params(), f.params());
        assert_eq!(j.dtype(), f.dtype());
        let roots = j.roots();
        assert_eq!(roots.len(), 1 + f.params().len(), "{}", c.name);
        assert_eq!(roots[0].name, "loss");
        assert_eq!(roots[0].node, f.roots()[0].node);
        for (r, p) in roots[1..].iter().zip(f.params()) {
            assert_eq!(r.name, format!("d_{}", f.name(*p).unwrap()));
            assert_eq!(j.shape(r.node), f.shape(*p), "{}: {}", c.name, r.name);
        }
        gradc_ir::verify(&j).unwrap();
    }
}

#[test]
fn gradients_match_interpreter_and_finite_differences() {
    for c in all_cases().unwrap() {
        let j = differentiate(&c.graph).unwrap();
        let vals = evaluate::<f64>(&j, &c.input_slices(), &c.param_slices()).unwrap();
        let (loss, tape) =
            gradients::<f64>(&c.graph, &c.input_slices(), &c.param_slices()).unwrap();
        let fd = c.finite_differences().unwrap();
        assert!(
            close(vals[0][0], loss, 1e-12),
            "{}: loss {} vs {loss}",
            c.name,
            vals[0][0]
        );
        for (p, ((sym, tp), num)) in vals[1..].iter().zip(&tape).zip(&fd).enumerate() {
            assert_eq!(sym.len(), tp.len());
            for (k, ((s, t), n)) in sym.iter().zip(tp).zip(num).enumerate() {
                assert!(
                    close(*s, *t, 1e-10),
                    "{}: d param {p}[{k}]: symbolic {s}, tape {t}",
                    c.name
                );
                assert!(
                    close(*s, *n, 1e-6),
                    "{}: d param {p}[{k}]: symbolic {s}, finite differences {n}",
                    c.name
                );
            }
        }
    }
}

#[test]
fn joint_graph_runs_through_the_tape_too() {
    // Root 0 of the joint graph is the loss, so it can itself be back-propagated.
    for c in network_cases().unwrap() {
        let j = differentiate(&c.graph).unwrap();
        let (l1, g1) = gradients::<f64>(&c.graph, &c.input_slices(), &c.param_slices()).unwrap();
        let (l2, g2) = gradients::<f64>(&j, &c.input_slices(), &c.param_slices()).unwrap();
        assert_eq!(l1, l2, "{}", c.name);
        assert_eq!(g1, g2, "{}", c.name);
    }
}

#[test]
fn slide_53_derivatives_reuse_forward_values() {
    for (name, op, f, df) in [
        (
            "chain53_sigmoid",
            Op::Unary(UnaryOp::Sigmoid),
            (|v: f64| 1.0 / (1.0 + (-v).exp())) as fn(f64) -> f64,
            (|y: f64| y * (1.0 - y)) as fn(f64) -> f64,
        ),
        (
            "chain53_tanh",
            Op::Unary(UnaryOp::Tanh),
            f64::tanh,
            |y: f64| 1.0 - y * y,
        ),
    ] {
        let c = case(name);
        let j = differentiate(&c.graph).unwrap();
        let count = j.node_ids().filter(|id| *j.op(*id) == op).count();
        assert_eq!(
            count, 3,
            "{name}: the joint graph must not recompute {op:?}\n{j}"
        );
        // Hand chain rule: dz/dw = f'(y)·f'(x)·f'(w), each f' from the output.
        let w = c.params[0][0];
        let x = f(w);
        let y = f(x);
        let z = f(y);
        let want = df(z) * df(y) * df(x);
        let got = evaluate::<f64>(&j, &[], &[&[w]]).unwrap();
        assert!(
            close(got[1][0], want, 1e-14),
            "{name}: {} vs {want}",
            got[1][0]
        );
        assert!(j.node_ids().any(|id| j.name(id) == Some("d_x")));
        assert!(j.node_ids().any(|id| j.name(id) == Some("d_y")));
    }
}

#[test]
fn fan_out_adjoints_are_summed() {
    // loss = Σ h·h + Σ tanh h, h = w·x: dL/dw = x·(2h + 1 − tanh²h).
    let c = case("fan_out");
    let j = differentiate(&c.graph).unwrap();
    let dh = j
        .node_ids()
        .find(|id| j.name(*id) == Some("d_h"))
        .expect("d_h");
    assert_eq!(
        *j.op(dh),
        Op::Binary(BinaryOp::Add),
        "d_h sums the contributions of h's uses"
    );
    let adds_into_dh = j
        .node_ids()
        .filter(|id| {
            *j.op(*id) == Op::Binary(BinaryOp::Add)
                && j.node(*id)
                    .args
                    .iter()
                    .any(|a| *a >= gradc_ir::NodeId::from_index(c.graph.len()))
        })
        .count();
    assert!(adds_into_dh >= 2, "three contributions need two adds");
    let got = evaluate::<f64>(&j, &c.input_slices(), &c.param_slices()).unwrap();
    for (k, d_w) in got[1].iter().enumerate() {
        let (x, w) = (c.inputs[0][k], c.params[0][k]);
        let h = w * x;
        let want = x * (2.0 * h + 1.0 - h.tanh().powi(2));
        assert!(close(*d_w, want, 1e-14), "d_w[{k}] {} vs {want}", d_w);
    }
}

#[test]
fn unused_parameters_get_explicit_zeros() {
    let c = case("unused_param");
    let j = differentiate(&c.graph).unwrap();
    let d_v = j.roots()[2].node;
    let d_s = j.roots()[3].node;
    assert_eq!(*j.op(d_v), Op::BroadcastTo(sh(&[2, 2])));
    assert_eq!(*j.op(j.args(d_v)[0]), Op::constant(0.0));
    assert_eq!(*j.op(d_s), Op::constant(0.0));
    let got = evaluate::<f64>(&j, &[], &c.param_slices()).unwrap();
    assert_eq!(got[2], vec![0.0; 4]);
    assert_eq!(got[3], vec![0.0]);
    let w = &c.params[0];
    assert_eq!(got[1], vec![w[0].exp(), w[1].exp()]);
}

#[test]
fn inputs_only_subgraphs_get_no_adjoints() {
    // loss = Σ w·exp(x): adjoints are the seed, broadcast_to of it, and d_w only.
    let mut g = Graph::new(DType::F64);
    let x = g.add_input("x", sh(&[3]));
    let w = g.add_param("w", sh(&[3]));
    let e = g.add(Op::Unary(UnaryOp::Exp), &[x]).unwrap();
    let m = g.add(Op::Binary(BinaryOp::Mul), &[w, e]).unwrap();
    let s = g.add(Op::Sum, &[m]).unwrap();
    g.add_root("out", s);
    let j = differentiate(&g).unwrap();
    assert_eq!(j.len(), g.len() + 3, "{j}");
    let d_w = j.roots()[1].node;
    assert_eq!(*j.op(d_w), Op::Binary(BinaryOp::Mul));
    assert_eq!(j.args(d_w)[1], e, "d_w reuses the forward exp(x)");
    assert_eq!(j.name(d_w), Some("d_w"));
}

#[test]
fn kinks_follow_the_conventions() {
    // relu'(0) = 0 and a max tie goes to the first argument, in the joint graph too.
    let mut g = Graph::new(DType::F64);
    let a = g.add_param("a", sh(&[3]));
    let b = g.add_param("b", sh(&[3]));
    let r = g.add(Op::Unary(UnaryOp::Relu), &[a]).unwrap();
    let m = g.add(Op::Binary(BinaryOp::Max), &[b, a]).unwrap();
    let t = g.add(Op::Binary(BinaryOp::Add), &[r, m]).unwrap();
    let s = g.add(Op::Sum, &[t]).unwrap();
    g.add_root("out", s);
    let j = differentiate(&g).unwrap();
    let (pa, pb) = ([0.0, 1.0, -1.0], [0.0, 0.5, -1.0]);
    let got = evaluate::<f64>(&j, &[], &[&pa, &pb]).unwrap();
    // a: relu' (0, 1, 0) + max picks b on ties/b > a (0, 0, 0) except where a > b.
    assert_eq!(got[1], vec![0.0, 2.0, 0.0]);
    assert_eq!(got[2], vec![1.0, 0.0, 1.0]);
    let (_, tape) = gradients::<f64>(&g, &[], &[&pa, &pb]).unwrap();
    assert_eq!(tape, vec![got[1].clone(), got[2].clone()]);
}

#[test]
fn adjoints_are_named_after_forward_nodes() {
    let j = differentiate(&case("xor_mlp").graph).unwrap();
    let names: Vec<&str> = j.node_ids().filter_map(|id| j.name(id)).collect();
    for n in ["d_h", "d_yhat", "d_w1", "d_c", "d_w2", "d_b"] {
        assert!(names.contains(&n), "no node named {n}: {names:?}");
    }
    // The seed is const 1.
    assert!(j
        .node_ids()
        .any(|id| *j.op(id) == Op::constant(1.0) && id.index() >= case("xor_mlp").graph.len()));
}

#[test]
fn bad_roots_are_errors() {
    let mut g = Graph::new(DType::F64);
    let w = g.add_param("w", sh(&[2]));
    let e = g.add(Op::Unary(UnaryOp::Exp), &[w]).unwrap();
    let mut two = g.clone();
    let mut none = g.clone();
    g.add_root("out", e);
    let err = differentiate(&g).unwrap_err();
    assert!(err.message.contains("scalar"), "{err}");
    let s = two.add(Op::Sum, &[e]).unwrap();
    two.add_root("a", s);
    two.add_root("b", s);
    assert!(differentiate(&two)
        .unwrap_err()
        .message
        .contains("exactly one root"));
    let _ = none.add(Op::Sum, &[e]).unwrap();
    assert!(differentiate(&none).is_err());
}

#[test]
fn output_is_deterministic_and_round_trips_as_text() {
    for c in all_cases().unwrap() {
        let a = differentiate(&c.graph).unwrap().to_string();
        let b = differentiate(&c.graph).unwrap().to_string();
        assert_eq!(a, b, "{}", c.name);
        let parsed: Graph = a.parse().unwrap();
        assert_eq!(parsed.to_string(), a, "{}", c.name);
    }
}
