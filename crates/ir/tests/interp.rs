//! Tests of the tape interpreter: forward values against hand formulas, gradients
//! against central finite differences, numerics at extreme inputs, error cases.

use gradc_ir::interp::{evaluate, gradients, Interpreter};
use gradc_ir::{BinaryOp, DType, Graph, NodeId, Op, RowOp, Shape, UnaryOp};
use gradc_testkit::cases::{all_cases, network_cases, op_cases, Case};

fn sh(d: &[usize]) -> Shape {
    Shape::new(d.to_vec())
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * a.abs().max(b.abs()).max(1.0)
}

fn check_fd(c: &Case) {
    let (loss, grads) = gradients::<f64>(&c.graph, &c.input_slices(), &c.param_slices()).unwrap();
    let fwd = evaluate::<f64>(&c.graph, &c.input_slices(), &c.param_slices()).unwrap();
    assert_eq!(loss, fwd[0][0], "{}: loss differs from forward", c.name);
    let fd = c.finite_differences().unwrap();
    for (p, (an, num)) in grads.iter().zip(&fd).enumerate() {
        for (j, (a, n)) in an.iter().zip(num).enumerate() {
            assert!(
                close(*a, *n, 1e-6),
                "{}: d param {p}[{j}]: interpreter {a}, finite differences {n}",
                c.name
            );
        }
    }
}

#[test]
fn every_op_case_matches_finite_differences() {
    for c in op_cases().unwrap() {
        check_fd(&c);
    }
}

#[test]
fn every_network_case_matches_finite_differences() {
    for c in network_cases().unwrap() {
        check_fd(&c);
    }
}

#[test]
fn op_cases_cover_every_op() {
    let all = [
        "input",
        "param",
        "const",
        "neg",
        "relu",
        "sigmoid",
        "tanh",
        "exp",
        "ln",
        "softplus",
        "sqrt",
        "powi",
        "abs",
        "leaky_relu",
        "elu",
        "gelu",
        "gelu_tanh",
        "silu",
        "clamp",
        "ln_1p",
        "normal_cdf",
        "min",
        "add",
        "sub",
        "mul",
        "div",
        "max",
        "gt",
        "one_hot",
        "matmul",
        "matmul.tn",
        "matmul.nt",
        "matmul.tt",
        "transpose",
        "reshape",
        "broadcast_to",
        "sum_to",
        "sum",
        "sum_last",
        "logsumexp",
        "softmax",
        "log_softmax",
    ];
    let mut seen = std::collections::BTreeSet::new();
    for c in all_cases().unwrap() {
        for id in c.graph.node_ids() {
            seen.insert(c.graph.op(id).name());
        }
    }
    for name in all {
        assert!(seen.contains(name), "no case uses `{name}`");
    }
}

/// `one_hot 3` by hand: a label selects column `j` only when it equals `j`
/// exactly; fractional, negative, too large and NaN labels give a zero row.
fn one_hot_rows<T: gradc_ir::Float>(dtype: DType) {
    let labels = [2.0, 0.0, 5.0, 1.5, -0.0, f64::NAN, -1.0, 3.0];
    let want: [[f64; 3]; 8] = [
        [0.0, 0.0, 1.0],
        [1.0, 0.0, 0.0],
        [0.0; 3],
        [0.0; 3],
        [1.0, 0.0, 0.0],
        [0.0; 3],
        [0.0; 3],
        [0.0; 3],
    ];
    let mut g = Graph::new(dtype);
    let l = g.add_input("labels", sh(&[8]));
    let y = g.add(Op::OneHot(3), &[l]).unwrap();
    assert_eq!(g.shape(y), &sh(&[8, 3]));
    g.add_root("out", y);
    let ls: Vec<T> = labels.iter().map(|&v| T::from_f64(v)).collect();
    let got = evaluate::<T>(&g, &[&ls], &[]).unwrap().remove(0);
    let got: Vec<f64> = got.iter().map(|v| v.to_f64()).collect();
    assert_eq!(got, want.concat());
    // A scalar label gives one row.
    let mut g = Graph::new(dtype);
    let l = g.add_input("label", sh(&[]));
    let y = g.add(Op::OneHot(4), &[l]).unwrap();
    g.add_root("out", y);
    let got = evaluate::<T>(&g, &[&[T::from_f64(1.0)]], &[])
        .unwrap()
        .remove(0);
    let got: Vec<f64> = got.iter().map(|v| v.to_f64()).collect();
    assert_eq!(got, [0.0, 1.0, 0.0, 0.0]);
}

#[test]
fn one_hot_values_f64() {
    one_hot_rows::<f64>(DType::F64);
}

#[test]
fn one_hot_values_f32() {
    one_hot_rows::<f32>(DType::F32);
}

/// A graph `root = op(params...)` for checking forward values directly.
fn single(op: Op, leaves: &[&[usize]]) -> Graph {
    let mut g = Graph::new(DType::F64);
    let ps: Vec<NodeId> = leaves
        .iter()
        .enumerate()
        .map(|(i, d)| g.add_param(&format!("p{i}"), sh(d)))
        .collect();
    let r = g.add(op, &ps).unwrap();
    g.add_root("out", r);
    g
}

fn eval1(g: &Graph, params: &[&[f64]]) -> Vec<f64> {
    evaluate::<f64>(g, &[], params).unwrap().remove(0)
}

#[test]
fn matmul_values_all_flag_combinations() {
    // Stored operands; the expected product is computed with explicit index maps.
    // The second shape is large enough for the run-time GEMM kernel.
    for (m, k, n) in [(3, 4, 2), (19, 13, 17)] {
        let a: Vec<f64> = (0..m * k).map(|v| (v % 12) as f64 * 0.5 - 2.0).collect();
        let b: Vec<f64> = (0..k * n).map(|v| ((v % 8) as f64 - 3.0) * 0.25).collect();
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let ad: &[usize] = if ta { &[k, m] } else { &[m, k] };
            let bd: &[usize] = if tb { &[n, k] } else { &[k, n] };
            let got = eval1(&single(Op::MatMul { ta, tb }, &[ad, bd]), &[&a, &b]);
            for i in 0..m {
                for j in 0..n {
                    let mut s = 0.0;
                    for p in 0..k {
                        let av = if ta { a[p * m + i] } else { a[i * k + p] };
                        let bv = if tb { b[j * k + p] } else { b[p * n + j] };
                        s += av * bv;
                    }
                    assert!(
                        (got[i * n + j] - s).abs() < 1e-12,
                        "{m}x{k}x{n} ta={ta} tb={tb} [{i},{j}]"
                    );
                }
            }
        }
    }
}

#[test]
fn broadcasting_values() {
    let a: Vec<f64> = (0..8).map(|v| v as f64).collect();
    let got = eval1(
        &single(Op::Binary(BinaryOp::Add), &[&[4, 2], &[2]]),
        &[&a, &[10.0, 20.0]],
    );
    assert_eq!(got, vec![10.0, 21.0, 12.0, 23.0, 14.0, 25.0, 16.0, 27.0]);
    let got = eval1(
        &single(Op::Binary(BinaryOp::Mul), &[&[4, 1], &[1, 3]]),
        &[&[1.0, 2.0, 3.0, 4.0], &[1.0, 10.0, 100.0]],
    );
    assert_eq!(
        got,
        vec![1.0, 10.0, 100.0, 2.0, 20.0, 200.0, 3.0, 30.0, 300.0, 4.0, 40.0, 400.0]
    );
    let got = eval1(
        &single(Op::Binary(BinaryOp::Sub), &[&[], &[3]]),
        &[&[1.0], &[1.0, 2.0, 3.0]],
    );
    assert_eq!(got, vec![0.0, -1.0, -2.0]);
    let got = eval1(
        &single(Op::Binary(BinaryOp::Div), &[&[3], &[]]),
        &[&[1.0, 2.0, 3.0], &[2.0]],
    );
    assert_eq!(got, vec![0.5, 1.0, 1.5]);
    // [2 1 3] + [4 1] -> [2 4 3]: out[i, j, l] = a[i, 0, l] + b[j, 0].
    let a: Vec<f64> = (0..6).map(|v| v as f64).collect();
    let b = [100.0, 200.0, 300.0, 400.0];
    let got = eval1(
        &single(Op::Binary(BinaryOp::Add), &[&[2, 1, 3], &[4, 1]]),
        &[&a, &b],
    );
    for i in 0..2 {
        for j in 0..4 {
            for l in 0..3 {
                assert_eq!(got[(i * 4 + j) * 3 + l], a[i * 3 + l] + b[j]);
            }
        }
    }
}

#[test]
fn shape_op_values() {
    let a: Vec<f64> = (1..=6).map(|v| v as f64).collect();
    assert_eq!(
        eval1(&single(Op::Transpose, &[&[2, 3]]), &[&a]),
        vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]
    );
    assert_eq!(
        eval1(&single(Op::Reshape(sh(&[3, 2])), &[&[2, 3]]), &[&a]),
        a
    );
    assert_eq!(
        eval1(&single(Op::BroadcastTo(sh(&[2, 3])), &[&[3]]), &[&a[..3]]),
        vec![1.0, 2.0, 3.0, 1.0, 2.0, 3.0]
    );
    assert_eq!(
        eval1(
            &single(Op::BroadcastTo(sh(&[2, 3])), &[&[2, 1]]),
            &[&a[..2]]
        ),
        vec![1.0, 1.0, 1.0, 2.0, 2.0, 2.0]
    );
    assert_eq!(
        eval1(&single(Op::BroadcastTo(sh(&[2])), &[&[]]), &[&[7.0]]),
        vec![7.0, 7.0]
    );
    assert_eq!(
        eval1(&single(Op::SumTo(sh(&[3])), &[&[2, 3]]), &[&a]),
        vec![5.0, 7.0, 9.0]
    );
    assert_eq!(
        eval1(&single(Op::SumTo(sh(&[2, 1])), &[&[2, 3]]), &[&a]),
        vec![6.0, 15.0]
    );
    assert_eq!(
        eval1(&single(Op::SumTo(sh(&[])), &[&[2, 3]]), &[&a]),
        vec![21.0]
    );
    assert_eq!(eval1(&single(Op::Sum, &[&[2, 3]]), &[&a]), vec![21.0]);
    assert_eq!(
        eval1(&single(Op::Row(RowOp::SumLast), &[&[2, 3]]), &[&a]),
        vec![6.0, 15.0]
    );
    let x = [1.0, -2.0, 0.5];
    let y = [0.5, -2.0, 3.0];
    assert_eq!(
        eval1(&single(Op::Binary(BinaryOp::Max), &[&[3], &[3]]), &[&x, &y]),
        vec![1.0, -2.0, 3.0]
    );
    assert_eq!(
        eval1(&single(Op::Binary(BinaryOp::Gt), &[&[3], &[3]]), &[&x, &y]),
        vec![1.0, 0.0, 0.0]
    );
}

#[test]
fn row_op_values() {
    let x = [1.0, 2.0, 3.0, -1.0, 0.0, 1.0];
    let lse = |r: &[f64]| r.iter().map(|v| v.exp()).sum::<f64>().ln();
    let got = eval1(&single(Op::Row(RowOp::LogSumExp), &[&[2, 3]]), &[&x]);
    assert!((got[0] - lse(&x[..3])).abs() < 1e-14 && (got[1] - lse(&x[3..])).abs() < 1e-14);
    let sm = eval1(&single(Op::Row(RowOp::Softmax), &[&[2, 3]]), &[&x]);
    let ls = eval1(&single(Op::Row(RowOp::LogSoftmax), &[&[2, 3]]), &[&x]);
    for r in 0..2 {
        let den: f64 = x[r * 3..r * 3 + 3].iter().map(|v| v.exp()).sum();
        for c in 0..3 {
            let i = r * 3 + c;
            assert!((sm[i] - x[i].exp() / den).abs() < 1e-15);
            assert!((ls[i] - (x[i] - den.ln())).abs() < 1e-14);
        }
    }
}

#[test]
fn elementwise_values() {
    let x = [0.5, 2.0];
    type Case1 = (Op, fn(f64) -> f64);
    let cases: Vec<Case1> = vec![
        (Op::Unary(UnaryOp::Neg), |v| -v),
        (Op::Unary(UnaryOp::Sigmoid), |v| 1.0 / (1.0 + (-v).exp())),
        (Op::Unary(UnaryOp::Tanh), f64::tanh),
        (Op::Unary(UnaryOp::Exp), f64::exp),
        (Op::Unary(UnaryOp::Ln), f64::ln),
        (Op::Unary(UnaryOp::Softplus), |v| (1.0 + v.exp()).ln()),
        (Op::Unary(UnaryOp::Sqrt), f64::sqrt),
        (Op::Unary(UnaryOp::Powi(3)), |v| v * v * v),
        (Op::Unary(UnaryOp::Powi(-1)), |v| 1.0 / v),
        (Op::Unary(UnaryOp::Powi(0)), |_| 1.0),
    ];
    for (op, f) in cases {
        let got = eval1(&single(op.clone(), &[&[2]]), &[&x]);
        for (g, v) in got.iter().zip(x) {
            assert!((g - f(v)).abs() < 1e-14, "{op:?}({v}) = {g}");
        }
    }
    let got = eval1(
        &single(Op::Unary(UnaryOp::Relu), &[&[3]]),
        &[&[-1.0, 0.0, 2.0]],
    );
    assert_eq!(got, vec![0.0, 0.0, 2.0]);
}

#[test]
fn relu_derivative_at_zero_is_zero() {
    let mut g = Graph::new(DType::F64);
    let a = g.add_param("a", sh(&[3]));
    let r = g.add(Op::Unary(UnaryOp::Relu), &[a]).unwrap();
    let s = g.add(Op::Sum, &[r]).unwrap();
    g.add_root("out", s);
    let (_, grads) = gradients::<f64>(&g, &[], &[&[0.0, 1.0, -1.0]]).unwrap();
    assert_eq!(grads[0], vec![0.0, 1.0, 0.0]);
}

#[test]
fn max_tie_goes_to_first_argument() {
    for swap in [false, true] {
        let mut g = Graph::new(DType::F64);
        let a = g.add_param("a", sh(&[2]));
        let b = g.add_param("b", sh(&[2]));
        let args = if swap { [b, a] } else { [a, b] };
        let m = g.add(Op::Binary(BinaryOp::Max), &args).unwrap();
        let s = g.add(Op::Sum, &[m]).unwrap();
        g.add_root("out", s);
        // Element 0 ties; element 1 has a > b.
        let (_, grads) = gradients::<f64>(&g, &[], &[&[1.0, 3.0], &[1.0, 2.0]]).unwrap();
        let (first, second) = if swap {
            (&grads[1], &grads[0])
        } else {
            (&grads[0], &grads[1])
        };
        assert_eq!(
            first[0], 1.0,
            "tie goes to the first argument (swap={swap})"
        );
        assert_eq!(second[0], 0.0);
        assert_eq!(grads[0][1], 1.0);
        assert_eq!(grads[1][1], 0.0);
    }
}

fn unary_graph(op: Op, n: usize) -> Graph {
    let mut g = Graph::new(DType::F64);
    let a = g.add_param("a", sh(&[n]));
    let w = g.add_input("w", sh(&[n]));
    let r = g.add(op, &[a]).unwrap();
    g.add_root("y", r);
    let m = g.add(Op::Binary(BinaryOp::Mul), &[r, w]).unwrap();
    let s = g.add(Op::Sum, &[m]).unwrap();
    g.add_root("out", s);
    g
}

fn loss_graph(op: Op, n: usize) -> Graph {
    // Root 0 is the loss: sum(op(a) * w).
    let mut g = Graph::new(DType::F64);
    let a = g.add_param("a", sh(&[n]));
    let w = g.add_input("w", sh(&[n]));
    let r = g.add(op, &[a]).unwrap();
    let m = g.add(Op::Binary(BinaryOp::Mul), &[r, w]).unwrap();
    let s = g.add(Op::Sum, &[m]).unwrap();
    g.add_root("out", s);
    g.add_root("y", r);
    g
}

fn extremes<T: gradc_ir::Float>() {
    let t = |v: f64| T::from_f64(v);
    let x = [t(1e3), t(-1e3)];
    let w = [t(1.0), t(1.0)];
    for op in [Op::Unary(UnaryOp::Sigmoid), Op::Unary(UnaryOp::Softplus)] {
        let g = loss_graph(op.clone(), 2);
        let mut it = Interpreter::<T>::new(&g).unwrap();
        let y: Vec<f64> = it.forward(&[&w], &[&x]).unwrap()[1]
            .iter()
            .map(|v| v.to_f64())
            .collect();
        let want = if op == Op::Unary(UnaryOp::Sigmoid) {
            [1.0, 0.0]
        } else {
            [1e3, 0.0]
        };
        for (a, b) in y.iter().zip(want) {
            assert!(
                a.is_finite() && (a - b).abs() <= 1e-6 * b.abs().max(1.0),
                "{op:?}: {a} vs {b}"
            );
        }
        let mut gr = vec![T::ZERO; 2];
        let loss = it.forward_backward(&[&w], &[&x], &mut [&mut gr]).unwrap();
        assert!(loss.is_finite());
        // sigmoid' is 0 at both ends; softplus' = sigmoid is 1 and 0.
        let want = if op == Op::Unary(UnaryOp::Sigmoid) {
            [0.0, 0.0]
        } else {
            [1.0, 0.0]
        };
        for (a, b) in gr.iter().zip(want) {
            assert!(
                a.is_finite() && (a.to_f64() - b).abs() < 1e-6,
                "{op:?}': {a:?} vs {b}"
            );
        }
    }
    // Logits ±1e4: exp overflows without the max shift.
    let z = [1e4, -1e4, 1e4 - 1.0];
    let zt: Vec<T> = z.iter().map(|v| t(*v)).collect();
    let w3 = [t(0.5), t(-1.0), t(2.0)];
    let lse_true = 1e4 + (1.0 + (-1.0f64).exp()).ln();
    // logsumexp's output is [1], so its loss is a plain sum.
    let mut g1 = Graph::new(DType::F64);
    let a = g1.add_param("a", sh(&[3]));
    let r = g1.add(Op::Row(RowOp::LogSumExp), &[a]).unwrap();
    let s = g1.add(Op::Sum, &[r]).unwrap();
    g1.add_root("out", s);
    let mut it = Interpreter::<T>::new(&g1).unwrap();
    let mut gr = vec![T::ZERO; 3];
    let loss = it
        .forward_backward(&[], &[&zt], &mut [&mut gr])
        .unwrap()
        .to_f64();
    assert!(
        (loss - lse_true).abs() <= 1e-6 * lse_true,
        "logsumexp {loss} vs {lse_true}"
    );
    let den = 1.0 + (-1.0f64).exp();
    let sm = [1.0 / den, 0.0, (-1.0f64).exp() / den];
    for (a, b) in gr.iter().zip(sm) {
        assert!((a.to_f64() - b).abs() < 1e-6, "d logsumexp: {a:?} vs {b}");
    }
    let g = loss_graph(Op::Row(RowOp::LogSoftmax), 3);
    let mut it = Interpreter::<T>::new(&g).unwrap();
    let y: Vec<f64> = it.forward(&[&w3], &[&zt]).unwrap()[1]
        .iter()
        .map(|v| v.to_f64())
        .collect();
    for (a, zi) in y.iter().zip(z) {
        let want = zi - lse_true;
        assert!(
            a.is_finite() && (a - want).abs() <= 1e-6 * want.abs().max(1.0),
            "log_softmax {a} vs {want}"
        );
    }
    let mut gr = vec![T::ZERO; 3];
    it.forward_backward(&[&w3], &[&zt], &mut [&mut gr]).unwrap();
    // d/dz Σ w·(z − lse) = w − softmax(z)·Σw
    let sw: f64 = w3.iter().map(|v| v.to_f64()).sum();
    for i in 0..3 {
        let want = w3[i].to_f64() - sm[i] * sw;
        assert!(
            (gr[i].to_f64() - want).abs() < 1e-5,
            "d log_softmax[{i}]: {:?} vs {want}",
            gr[i]
        );
    }
    let g = loss_graph(Op::Row(RowOp::Softmax), 3);
    let mut it = Interpreter::<T>::new(&g).unwrap();
    let y: Vec<f64> = it.forward(&[&w3], &[&zt]).unwrap()[1]
        .iter()
        .map(|v| v.to_f64())
        .collect();
    for (a, b) in y.iter().zip(sm) {
        assert!((a - b).abs() < 1e-6, "softmax {a} vs {b}");
    }
}

#[test]
fn extremes_are_finite_and_correct_f64() {
    extremes::<f64>();
}

#[test]
fn extremes_are_finite_and_correct_f32() {
    extremes::<f32>();
}

#[test]
fn f32_agrees_with_f64_on_networks() {
    for c in network_cases().unwrap() {
        let (l64, g64) = gradients::<f64>(&c.graph, &c.input_slices(), &c.param_slices()).unwrap();
        let to32 = |v: &Vec<Vec<f64>>| -> Vec<Vec<f32>> {
            v.iter()
                .map(|x| x.iter().map(|&y| y as f32).collect())
                .collect()
        };
        let (i32v, p32v) = (to32(&c.inputs), to32(&c.params));
        let i32s: Vec<&[f32]> = i32v.iter().map(|v| v.as_slice()).collect();
        let p32s: Vec<&[f32]> = p32v.iter().map(|v| v.as_slice()).collect();
        let (l32, g32) = gradients::<f32>(&c.graph, &i32s, &p32s).unwrap();
        assert!(
            close(l32 as f64, l64, 1e-4),
            "{}: loss {l32} vs {l64}",
            c.name
        );
        for (a, b) in g32.iter().flatten().zip(g64.iter().flatten()) {
            assert!(close(*a as f64, *b, 1e-3), "{}: grad {a} vs {b}", c.name);
        }
    }
}

#[test]
fn buffers_are_reused_across_calls() {
    let cases = network_cases().unwrap();
    let c = cases.iter().find(|c| c.name == "xor_mlp").unwrap();
    let mut it = Interpreter::<f64>::new(&c.graph).unwrap();
    let mut g1: Vec<Vec<f64>> = c.params.iter().map(|p| vec![0.0; p.len()]).collect();
    let mut g2 = g1.clone();
    let (ins, ps) = (c.input_slices(), c.param_slices());
    let mut v1: Vec<&mut [f64]> = g1.iter_mut().map(|v| v.as_mut_slice()).collect();
    let l1 = it.forward_backward(&ins, &ps, &mut v1).unwrap();
    // A second call must not accumulate into stale adjoints.
    let mut v2: Vec<&mut [f64]> = g2.iter_mut().map(|v| v.as_mut_slice()).collect();
    let l2 = it.forward_backward(&ins, &ps, &mut v2).unwrap();
    assert_eq!(l1, l2);
    assert_eq!(g1, g2);
    // Different parameters give a different loss through the same buffers.
    let other: Vec<Vec<f64>> = c
        .params
        .iter()
        .map(|p| p.iter().map(|v| v * 0.5).collect())
        .collect();
    let os: Vec<&[f64]> = other.iter().map(|v| v.as_slice()).collect();
    let l3 = it.forward(&ins, &os).unwrap()[0][0];
    let fresh = evaluate::<f64>(&c.graph, &ins, &os).unwrap()[0][0];
    assert_eq!(l3, fresh);
    assert_ne!(l3, l1);
}

#[test]
fn forward_returns_every_root_in_order() {
    let g = unary_graph(Op::Unary(UnaryOp::Exp), 2);
    let r = evaluate::<f64>(&g, &[&[1.0, 2.0]], &[&[0.0, 1.0]]).unwrap();
    assert_eq!(r.len(), 2);
    assert_eq!(r[0], vec![1.0, 1.0f64.exp()]);
    assert_eq!(r[1], vec![1.0 + 2.0 * 1.0f64.exp()]);
}

#[test]
fn wrong_arguments_are_errors() {
    let g = loss_graph(Op::Unary(UnaryOp::Exp), 2);
    let mut it = Interpreter::<f64>::new(&g).unwrap();
    assert!(
        it.forward(&[&[1.0, 2.0]], &[&[1.0]]).is_err(),
        "short param"
    );
    assert!(
        it.forward(&[&[1.0, 2.0, 3.0]], &[&[1.0, 2.0]]).is_err(),
        "long input"
    );
    assert!(it.forward(&[], &[&[1.0, 2.0]]).is_err(), "missing input");
    assert!(
        it.forward(&[&[1.0, 2.0]], &[&[1.0, 2.0], &[1.0]]).is_err(),
        "extra param"
    );
    let mut short = vec![0.0; 1];
    assert!(
        it.forward_backward(&[&[1.0, 2.0]], &[&[1.0, 2.0]], &mut [&mut short])
            .is_err(),
        "short grad"
    );
    assert!(
        it.forward_backward(&[&[1.0, 2.0]], &[&[1.0, 2.0]], &mut [])
            .is_err(),
        "missing grad"
    );
    let mut ok = vec![0.0; 2];
    assert!(it
        .forward_backward(&[&[1.0, 2.0]], &[&[1.0, 2.0]], &mut [&mut ok])
        .is_ok());
    // Root 0 not a scalar.
    let g = unary_graph(Op::Unary(UnaryOp::Exp), 2);
    let mut it = Interpreter::<f64>::new(&g).unwrap();
    let e = it
        .forward_backward(&[&[1.0, 2.0]], &[&[1.0, 2.0]], &mut [&mut ok])
        .unwrap_err();
    assert!(e.message.contains("scalar"), "{e}");
    // No root at all.
    let mut g = Graph::new(DType::F64);
    g.add_param("a", sh(&[]));
    let mut it = Interpreter::<f64>::new(&g).unwrap();
    let mut one = vec![0.0];
    assert!(it
        .forward_backward(&[], &[&[1.0]], &mut [&mut one])
        .is_err());
}

#[test]
fn only_live_nodes_are_computed() {
    // A dead branch whose evaluation would be NaN must not affect anything, and
    // an unused parameter gets a zero gradient.
    let mut g = Graph::new(DType::F64);
    let a = g.add_param("a", sh(&[2]));
    let b = g.add_param("b", sh(&[2]));
    let dead = g.add(Op::Unary(UnaryOp::Ln), &[b]).unwrap();
    let _dead2 = g.add(Op::Binary(BinaryOp::Mul), &[dead, a]).unwrap();
    let e = g.add(Op::Unary(UnaryOp::Exp), &[a]).unwrap();
    let s = g.add(Op::Sum, &[e]).unwrap();
    g.add_root("out", s);
    let (loss, grads) = gradients::<f64>(&g, &[], &[&[0.0, 1.0], &[-1.0, -2.0]]).unwrap();
    assert_eq!(loss, 1.0 + 1.0f64.exp());
    assert_eq!(grads[0], vec![1.0, 1.0f64.exp()]);
    assert_eq!(grads[1], vec![0.0, 0.0]);
}

#[test]
fn forward_backward_runs_only_the_loss_cone() {
    // Root 1 is NaN for this parameter; root 0 does not depend on it.
    let mut g = Graph::new(DType::F64);
    let a = g.add_param("a", sh(&[]));
    let sq = g.add(Op::Unary(UnaryOp::Powi(2)), &[a]).unwrap();
    g.add_root("loss", sq);
    let l = g.add(Op::Unary(UnaryOp::Ln), &[a]).unwrap();
    g.add_root("other", l);
    let (loss, grads) = gradients::<f64>(&g, &[], &[&[-3.0]]).unwrap();
    assert_eq!(loss, 9.0);
    assert_eq!(grads[0], vec![-6.0]);
    let r = evaluate::<f64>(&g, &[], &[&[-3.0]]).unwrap();
    assert!(r[1][0].is_nan());
}
