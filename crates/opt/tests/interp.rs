//! Equivalence through the IR's tape interpreter on a classifier head: the
//! softmax family, softplus, tanh and max, which `optimize.rs`'s graphs lack.

mod common;

use common::args_for;
use gradc_ir::interp::evaluate;
use gradc_ir::{BinaryOp, DType, Graph, Op, RowOp, Shape, UnaryOp};
use gradc_opt::{optimize, OptConfig};

/// Classifier head with a naive backward: recomputed softmax and logsumexp,
/// `1·g`, double negation and a transpose.
fn classifier() -> Graph {
    let mut g = Graph::new(DType::F64);
    let x = g.add_input("x", Shape::new([4, 3]));
    let t = g.add_input("t", Shape::new([4, 2]));
    let w = g.add_param("w", Shape::new([3, 2]));
    let c = g.add_param("c", Shape::new([2]));
    let mm = Op::MatMul {
        ta: false,
        tb: false,
    };
    let xw = g.add(mm.clone(), &[x, w]).unwrap();
    let z = g.add(Op::Binary(BinaryOp::Add), &[xw, c]).unwrap();
    g.set_name(z, "z");
    let th = g.add(Op::Unary(UnaryOp::Tanh), &[z]).unwrap();
    let sp = g.add(Op::Unary(UnaryOp::Softplus), &[th]).unwrap();
    let mx = g.add(Op::Binary(BinaryOp::Max), &[sp, th]).unwrap();
    let lse = g.add(Op::Row(RowOp::LogSumExp), &[mx]).unwrap();
    let s1 = g.add(Op::Sum, &[lse]).unwrap();
    let tz = g.add(Op::Binary(BinaryOp::Mul), &[t, mx]).unwrap();
    let s2 = g.add(Op::Sum, &[tz]).unwrap();
    let d = g.add(Op::Binary(BinaryOp::Sub), &[s1, s2]).unwrap();
    let n = g.constant(4.0);
    let loss = g.add(Op::Binary(BinaryOp::Div), &[d, n]).unwrap();
    // Stand-ins for adjoints: recomputed softmax / log_softmax of the same value.
    let xw2 = g.add(mm, &[x, w]).unwrap();
    let z2 = g.add(Op::Binary(BinaryOp::Add), &[xw2, c]).unwrap();
    let sm = g.add(Op::Row(RowOp::Softmax), &[z2]).unwrap();
    let one = g.constant(1.0);
    let sm1 = g.add(Op::Binary(BinaryOp::Mul), &[one, sm]).unwrap();
    let ls = g.add(Op::Row(RowOp::LogSoftmax), &[z2]).unwrap();
    let nn = g.add(Op::Unary(UnaryOp::Neg), &[ls]).unwrap();
    let nnn = g.add(Op::Unary(UnaryOp::Neg), &[nn]).unwrap();
    let e = g.add(Op::Binary(BinaryOp::Sub), &[sm1, nnn]).unwrap();
    let xt = g.add(Op::Transpose, &[x]).unwrap();
    let d_w = g
        .add(
            Op::MatMul {
                ta: false,
                tb: false,
            },
            &[xt, e],
        )
        .unwrap();
    let d_c = g.add(Op::SumTo(Shape::new([2])), &[e]).unwrap();
    g.add_root("loss", loss);
    g.add_root("d_w", d_w);
    g.add_root("d_c", d_c);
    g
}

#[test]
fn interpreter_agrees_before_and_after() {
    let g = classifier();
    let (opt, report) = optimize(&g, &OptConfig::default()).unwrap();
    assert!(report.ops_optimized < report.ops_naive, "{report}\n{opt}");
    for seed in 0..4 {
        let (inputs, params) = args_for(&g, seed);
        let i: Vec<&[f64]> = inputs.iter().map(|t| t.data.as_slice()).collect();
        let p: Vec<&[f64]> = params.iter().map(|t| t.data.as_slice()).collect();
        let before = evaluate(&g, &i, &p).unwrap();
        let after = evaluate(&opt, &i, &p).unwrap();
        // Exact rules only: bit-identical.
        assert_eq!(before, after, "seed {seed}");
    }
}
