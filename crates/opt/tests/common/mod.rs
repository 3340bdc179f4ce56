//! A tiny f64 reference evaluator for the ops the tests use, written
//! independently of the optimizer (and of the interpreter, being written
//! concurrently), plus deterministic test data.

#![allow(dead_code)]

use gradc_ir::{broadcast_shapes, BinaryOp, Graph, NodeId, Op, Shape, UnaryOp};

#[derive(Clone, Debug, PartialEq)]
pub struct T {
    pub shape: Shape,
    pub data: Vec<f64>,
}

fn expand(t: &T, out: &Shape) -> Vec<f64> {
    let strides = t.shape.broadcast_strides(out);
    let dims = out.dims();
    (0..out.numel())
        .map(|mut k| {
            let mut off = 0;
            for i in (0..dims.len()).rev() {
                off += (k % dims[i]) * strides[i];
                k /= dims[i];
            }
            t.data[off]
        })
        .collect()
}

fn sum_to(t: &T, s: &Shape) -> T {
    let strides = s.broadcast_strides(&t.shape);
    let dims = t.shape.dims();
    let mut out = vec![0.0; s.numel()];
    for (k0, v) in t.data.iter().enumerate() {
        let (mut k, mut off) = (k0, 0);
        for i in (0..dims.len()).rev() {
            off += (k % dims[i]) * strides[i];
            k /= dims[i];
        }
        out[off] += v;
    }
    T {
        shape: s.clone(),
        data: out,
    }
}

fn at(t: &T, trans: bool, i: usize, j: usize) -> f64 {
    let cols = t.shape.dims()[1];
    if trans {
        t.data[j * cols + i]
    } else {
        t.data[i * cols + j]
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Values of the roots of `g`.
pub fn eval(g: &Graph, inputs: &[T], params: &[T]) -> Vec<T> {
    let mut v: Vec<T> = Vec::with_capacity(g.len());
    for id in g.node_ids() {
        let a: Vec<&T> = g.args(id).iter().map(|x| &v[x.index()]).collect();
        let shape = g.shape(id).clone();
        let un = |f: &dyn Fn(f64) -> f64| a[0].data.iter().map(|x| f(*x)).collect::<Vec<f64>>();
        let bin = |f: &dyn Fn(f64, f64) -> f64| {
            let s = broadcast_shapes(&a[0].shape, &a[1].shape).unwrap();
            let (x, y) = (expand(a[0], &s), expand(a[1], &s));
            x.iter()
                .zip(&y)
                .map(|(p, q)| f(*p, *q))
                .collect::<Vec<f64>>()
        };
        let data = match g.op(id) {
            Op::Input(i) => inputs[*i].data.clone(),
            Op::Param(i) => params[*i].data.clone(),
            Op::Const(c) => vec![c.value()],
            Op::Unary(UnaryOp::Neg) => un(&|x| -x),
            Op::Unary(UnaryOp::Relu) => un(&|x| if x > 0.0 { x } else { 0.0 }),
            Op::Unary(UnaryOp::Sigmoid) => un(&sigmoid),
            Op::Unary(UnaryOp::Tanh) => un(&f64::tanh),
            Op::Unary(UnaryOp::Exp) => un(&f64::exp),
            Op::Unary(UnaryOp::Ln) => un(&f64::ln),
            Op::Unary(UnaryOp::Sqrt) => un(&f64::sqrt),
            Op::Unary(UnaryOp::Powi(n)) => un(&|x| x.powi(*n)),
            Op::Binary(BinaryOp::Add) => bin(&|x, y| x + y),
            Op::Binary(BinaryOp::Sub) => bin(&|x, y| x - y),
            Op::Binary(BinaryOp::Mul) => bin(&|x, y| x * y),
            Op::Binary(BinaryOp::Div) => bin(&|x, y| x / y),
            Op::Binary(BinaryOp::Max) => bin(&|x, y| if x >= y { x } else { y }),
            Op::Binary(BinaryOp::Gt) => bin(&|x, y| if x > y { 1.0 } else { 0.0 }),
            Op::MatMul { ta, tb } => {
                let (m, n) = (shape.dims()[0], shape.dims()[1]);
                let k = if *ta {
                    a[0].shape.dims()[0]
                } else {
                    a[0].shape.dims()[1]
                };
                let mut out = vec![0.0; m * n];
                for i in 0..m {
                    for j in 0..n {
                        let mut acc = 0.0;
                        for p in 0..k {
                            acc += at(a[0], *ta, i, p) * at(a[1], *tb, p, j);
                        }
                        out[i * n + j] = acc;
                    }
                }
                out
            }
            Op::Transpose => {
                let (m, n) = (shape.dims()[0], shape.dims()[1]);
                (0..m * n).map(|k| at(a[0], true, k / n, k % n)).collect()
            }
            Op::Reshape(_) => a[0].data.clone(),
            Op::BroadcastTo(s) => expand(a[0], s),
            Op::SumTo(s) => sum_to(a[0], s).data,
            Op::Sum => vec![a[0].data.iter().sum()],
            op => panic!("test evaluator: {} not supported", op.name()),
        };
        assert_eq!(data.len(), shape.numel(), "node {id}");
        v.push(T { shape, data });
    }
    g.roots()
        .iter()
        .map(|r| v[r.node.index()].clone())
        .collect()
}

/// Deterministic values in (-2, 2) for every argument of `g`.
pub fn args_for(g: &Graph, seed: u64) -> (Vec<T>, Vec<T>) {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 11) as f64 / (1u64 << 53) as f64) * 4.0 - 2.0
    };
    let mut make = |ids: &[NodeId]| {
        ids.iter()
            .map(|id| {
                let shape = g.shape(*id).clone();
                let data = (0..shape.numel()).map(|_| next()).collect();
                T { shape, data }
            })
            .collect::<Vec<T>>()
    };
    let inputs = make(g.inputs());
    let params = make(g.params());
    (inputs, params)
}

/// Number of live nodes with the given op.
pub fn count_op(g: &Graph, op: &Op) -> usize {
    let live = g.live();
    g.node_ids()
        .filter(|id| live[id.index()] && g.op(*id) == op)
        .count()
}
