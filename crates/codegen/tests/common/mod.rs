//! Graphs shared by the codegen tests.
#![allow(dead_code)]

use gradc_ir::{BinaryOp, DType, Graph, IrError, NodeId, Op, Shape, UnaryOp};

fn named(g: &mut Graph, name: &str, op: Op, args: &[NodeId]) -> NodeId {
    let id = g.add(op, args).expect("valid op");
    g.set_name(id, name);
    id
}

/// The XOR net of the lecture, forward nodes only (no roots):
/// `h = relu(x·w1 + c)`, `yhat = reshape(h·w2) + b`, `loss = mse(yhat, y)`.
/// Returns the graph and the ids of `h`, `e = yhat - y` and `loss`.
pub fn xor_forward(dtype: DType) -> (Graph, NodeId, NodeId, NodeId) {
    let mm = Op::MatMul {
        ta: false,
        tb: false,
    };
    let mut g = Graph::new(dtype);
    let x = g.add_input("x", Shape::new([4, 2]));
    let y = g.add_input("y", Shape::new([4]));
    let w1 = g.add_param("w1", Shape::new([2, 2]));
    let c = g.add_param("c", Shape::new([2]));
    let w2 = g.add_param("w2", Shape::new([2, 1]));
    let b = g.add_param("b", Shape::scalar());
    let z = g.add(mm.clone(), &[x, w1]).unwrap();
    let a = g.add(Op::Binary(BinaryOp::Add), &[z, c]).unwrap();
    let h = named(&mut g, "h", Op::Unary(UnaryOp::Relu), &[a]);
    let o = g.add(mm, &[h, w2]).unwrap();
    let o1 = g.add(Op::Reshape(Shape::new([4])), &[o]).unwrap();
    let yhat = named(&mut g, "yhat", Op::Binary(BinaryOp::Add), &[o1, b]);
    let e = g.add(Op::Binary(BinaryOp::Sub), &[yhat, y]).unwrap();
    let e2 = g.add(Op::Unary(UnaryOp::Powi(2)), &[e]).unwrap();
    let s = g.add(Op::Sum, &[e2]).unwrap();
    let n = g.constant(4.0);
    let loss = named(&mut g, "out", Op::Binary(BinaryOp::Div), &[s, n]);
    (g, h, e, loss)
}

/// The XOR forward graph with its root `out`.
pub fn xor_graph(dtype: DType) -> Graph {
    let (mut g, _, _, loss) = xor_forward(dtype);
    g.add_root("out", loss);
    g
}

/// The XOR joint graph with the adjoints written out by hand from the VJP table:
/// roots `loss`, `d_w1`, `d_c`, `d_w2`, `d_b`.
pub fn xor_joint(dtype: DType) -> Graph {
    let (mut g, h, e, loss) = xor_forward(dtype);
    let (x, w2) = (g.inputs()[0], g.params()[2]);
    let quarter = g.constant(0.25);
    let d_e2 = g.add(Op::BroadcastTo(Shape::new([4])), &[quarter]).unwrap();
    let two = g.constant(2.0);
    let two_e = g.add(Op::Binary(BinaryOp::Mul), &[two, e]).unwrap();
    let d_yhat = named(&mut g, "d_yhat", Op::Binary(BinaryOp::Mul), &[d_e2, two_e]);
    let d_b = named(&mut g, "d_b", Op::Sum, &[d_yhat]);
    let d_o = g.add(Op::Reshape(Shape::new([4, 1])), &[d_yhat]).unwrap();
    let d_w2 = named(
        &mut g,
        "d_w2",
        Op::MatMul {
            ta: true,
            tb: false,
        },
        &[h, d_o],
    );
    let d_h = named(
        &mut g,
        "d_h",
        Op::MatMul {
            ta: false,
            tb: true,
        },
        &[d_o, w2],
    );
    let zero = g.constant(0.0);
    let mask = g.add(Op::Binary(BinaryOp::Gt), &[h, zero]).unwrap();
    let d_a = named(&mut g, "d_a", Op::Binary(BinaryOp::Mul), &[d_h, mask]);
    let d_c = named(&mut g, "d_c", Op::SumTo(Shape::new([2])), &[d_a]);
    let d_w1 = named(
        &mut g,
        "d_w1",
        Op::MatMul {
            ta: true,
            tb: false,
        },
        &[x, d_a],
    );
    g.set_name(loss, "loss");
    g.add_root("loss", loss);
    for (n, id) in [("d_w1", d_w1), ("d_c", d_c), ("d_w2", d_w2), ("d_b", d_b)] {
        g.add_root(n, id);
    }
    g
}

/// XOR data: the four corners, targets, and fixed parameters away from relu kinks.
pub fn xor_data() -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let inputs = vec![
        vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0],
        vec![0.0, 1.0, 1.0, 0.0],
    ];
    let params = vec![
        vec![0.9, -0.7, 1.1, 0.8],
        vec![-0.3, 0.2],
        vec![1.3, -0.6],
        vec![0.15],
    ];
    (inputs, params)
}

/// A copy of all nodes of `g` (no roots) in another element type: same ids.
pub fn copy_nodes(g: &Graph, dtype: DType) -> Result<Graph, IrError> {
    let mut out = Graph::new(dtype);
    for id in g.node_ids() {
        let n = g.node(id);
        let new = match n.op {
            Op::Input(_) => out.add_input(n.name.as_deref().unwrap_or("x"), n.shape.clone()),
            Op::Param(_) => out.add_param(n.name.as_deref().unwrap_or("p"), n.shape.clone()),
            _ => out.push(
                n.op.clone(),
                n.args.clone(),
                n.shape.clone(),
                n.name.clone(),
            ),
        };
        assert_eq!(new, id);
    }
    Ok(out)
}

/// Every op on small shapes, with awkward names, returning a 2-D tensor.
pub fn kitchen_sink() -> Graph {
    let text = "(graph f32
  (let %0 x [2 3] (input 0))
  (let %1 params [3] (param 0))
  (let %2 q [] (param 1))
  (let %3 unused [2] (param 2))
  (let %4 _ [] (const -1.5))
  (let %5 x [2 3] (add %0 %1))
  (let %6 x [2 3] (mul %5 %4))
  (let %7 i [2 3] (softmax %6))
  (let %8 type [2 1] (logsumexp %6))
  (let %9 _ [2 3] (log_softmax %6))
  (let %10 _ [2 3] (sub %9 %8))
  (let %11 _ [3 2] (transpose %10))
  (let %12 _ [2 2] (matmul.tt %11 %7))
  (let %13 _ [2 2] (exp %12))
  (let %14 _ [2 2] (powi -2 %13))
  (let %15 _ [] (sum %14))
  (let %16 _ [1] (reshape [1] %15))
  (let %17 _ [2 3] (broadcast_to [2 3] %16))
  (let %18 _ [2 3] (max %17 %7))
  (let %19 _ [2 1] (sum_last %18))
  (let %20 _ [2 3] (gt %7 %19))
  (let %21 _ [2 3] (div %20 %2))
  (let %22 out [2 3] (neg %21))
  (root out %22))";
    text.parse().unwrap()
}
