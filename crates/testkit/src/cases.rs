//! Hand-built example graphs with data, shared by the tests of every stage.
//!
//! [`op_cases`] holds one tiny graph per primitive op (and per interesting
//! broadcasting / flag variant): the op applied to parameters, then
//! `sum(mul(op_out, wts))` with a fixed weights input `wts`, so the loss is a
//! scalar and every output element gets a different adjoint. [`network_cases`]
//! holds small networks from the lecture (XOR MLP, softmax classifier, the 2-2-2
//! sigmoid net, the slide-53 chains) plus fan-out and unused-parameter cases.
//! All graphs are forward graphs (one scalar root named `out`), dtype `f64`,
//! and their data avoid kinks (relu at 0, max ties) so finite differences apply.
//! No randomness: the data come from a fixed linear congruential sequence.

use gradc_ir::{BinaryOp, Const, DType, Graph, IrError, NodeId, Op, RowOp, Shape, UnaryOp};

/// A forward graph with one set of inputs and parameters (flat, row-major).
#[derive(Clone, Debug)]
pub struct Case {
    pub name: String,
    pub graph: Graph,
    pub inputs: Vec<Vec<f64>>,
    pub params: Vec<Vec<f64>>,
}

impl Case {
    /// The inputs as slices, in input order.
    pub fn input_slices(&self) -> Vec<&[f64]> {
        self.inputs.iter().map(|v| v.as_slice()).collect()
    }

    /// The parameters as slices, in parameter order.
    pub fn param_slices(&self) -> Vec<&[f64]> {
        self.params.iter().map(|v| v.as_slice()).collect()
    }

    /// Central finite differences (step 1e-6, in f64) of root 0 with respect to
    /// every parameter element, in parameter order: the oracle gradient tests
    /// compare against.
    pub fn finite_differences(&self) -> Result<Vec<Vec<f64>>, IrError> {
        let h = 1e-6;
        let mut it = gradc_ir::interp::Interpreter::<f64>::new(&self.graph)?;
        let inputs = self.input_slices();
        let mut params = self.params.clone();
        let mut out = Vec::new();
        for p in 0..params.len() {
            let mut gp = Vec::new();
            for j in 0..params[p].len() {
                let orig = params[p][j];
                let mut at = |v: f64| -> Result<f64, IrError> {
                    params[p][j] = v;
                    let ps: Vec<&[f64]> = params.iter().map(|v| v.as_slice()).collect();
                    Ok(it.forward(&inputs, &ps)?[0][0])
                };
                let (up, down) = (at(orig + h)?, at(orig - h)?);
                params[p][j] = orig;
                gp.push((up - down) / (2.0 * h));
            }
            out.push(gp);
        }
        Ok(out)
    }
}

/// Deterministic pseudo-random numbers in `[lo, hi)`.
pub fn uniform(seed: u64, n: usize, lo: f64, hi: f64) -> Vec<f64> {
    let mut s = seed
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(0x2545_F491_4F6C_DD1D);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let u = (s >> 11) as f64 / (1u64 << 53) as f64;
            lo + (hi - lo) * u
        })
        .collect()
}

/// Like [`uniform`] for magnitudes in `[lo, hi)`, with alternating-ish random signs:
/// values bounded away from zero.
pub fn signed(seed: u64, n: usize, lo: f64, hi: f64) -> Vec<f64> {
    let mags = uniform(seed, n, lo, hi);
    let signs = uniform(seed ^ 0xABCD, n, 0.0, 1.0);
    mags.into_iter()
        .zip(signs)
        .map(|(m, s)| if s < 0.5 { -m } else { m })
        .collect()
}

struct Leaf {
    name: &'static str,
    dims: Vec<usize>,
    data: Vec<f64>,
}

fn leaf(name: &'static str, dims: &[usize], data: Vec<f64>) -> Leaf {
    Leaf {
        name,
        dims: dims.to_vec(),
        data,
    }
}

fn numel(d: &[usize]) -> usize {
    d.iter().product()
}

/// `[lo, hi)` data for a leaf of shape `dims`.
fn u(name: &'static str, dims: &[usize], seed: u64, lo: f64, hi: f64) -> Leaf {
    leaf(name, dims, uniform(seed, numel(dims), lo, hi))
}

/// Data away from zero for a leaf of shape `dims`.
fn s(name: &'static str, dims: &[usize], seed: u64, lo: f64, hi: f64) -> Leaf {
    leaf(name, dims, signed(seed, numel(dims), lo, hi))
}

/// One op case: parameters `params`, `out = build(params)`, loss `sum(mul(out, wts))`.
fn op_case(
    name: &str,
    params: Vec<Leaf>,
    build: impl FnOnce(&mut Graph, &[NodeId]) -> Result<NodeId, IrError>,
) -> Result<Case, IrError> {
    let mut g = Graph::new(DType::F64);
    let ids: Vec<NodeId> = params
        .iter()
        .map(|l| g.add_param(l.name, Shape::new(l.dims.clone())))
        .collect();
    let wshape = {
        // The weights input comes after the parameters are known but is input 0.
        let out = build(&mut g, &ids)?;
        let shape = g.shape(out).clone();
        let w = g.add_input("wts", shape.clone());
        let m = g.add(Op::Binary(BinaryOp::Mul), &[out, w])?;
        let l = g.add(Op::Sum, &[m])?;
        g.set_name(l, "out");
        g.add_root("out", l);
        shape
    };
    let seed = name
        .bytes()
        .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64));
    Ok(Case {
        name: name.to_string(),
        graph: g,
        inputs: vec![uniform(seed, wshape.numel(), -1.0, 1.0)],
        params: params.into_iter().map(|l| l.data).collect(),
    })
}

fn un(op: Op) -> impl FnOnce(&mut Graph, &[NodeId]) -> Result<NodeId, IrError> {
    move |g, p| g.add(op, &[p[0]])
}

fn bin(op: Op) -> impl FnOnce(&mut Graph, &[NodeId]) -> Result<NodeId, IrError> {
    move |g, p| g.add(op, &[p[0], p[1]])
}

/// One tiny graph per primitive op and per broadcasting / flag variant.
pub fn op_cases() -> Result<Vec<Case>, IrError> {
    let p32 = [3, 2];
    let mm = |ta, tb| Op::MatMul { ta, tb };
    let sh = |d: &[usize]| Shape::new(d.to_vec());
    let mut v = vec![
        op_case(
            "neg",
            vec![u("a", &p32, 1, -1.0, 1.0)],
            un(Op::Unary(UnaryOp::Neg)),
        )?,
        op_case(
            "relu",
            vec![s("a", &p32, 2, 0.2, 1.5)],
            un(Op::Unary(UnaryOp::Relu)),
        )?,
        op_case(
            "sigmoid",
            vec![u("a", &p32, 3, -2.0, 2.0)],
            un(Op::Unary(UnaryOp::Sigmoid)),
        )?,
        op_case(
            "tanh",
            vec![u("a", &p32, 4, -2.0, 2.0)],
            un(Op::Unary(UnaryOp::Tanh)),
        )?,
        op_case(
            "exp",
            vec![u("a", &p32, 5, -2.0, 2.0)],
            un(Op::Unary(UnaryOp::Exp)),
        )?,
        op_case(
            "ln",
            vec![u("a", &p32, 6, 0.5, 2.0)],
            un(Op::Unary(UnaryOp::Ln)),
        )?,
        op_case(
            "softplus",
            vec![u("a", &p32, 7, -3.0, 3.0)],
            un(Op::Unary(UnaryOp::Softplus)),
        )?,
        op_case(
            "sqrt",
            vec![u("a", &p32, 8, 0.5, 2.0)],
            un(Op::Unary(UnaryOp::Sqrt)),
        )?,
    ];
    // Data away from the kinks (0 for abs, leaky_relu and elu, the bounds of
    // clamp), so finite differences apply.
    let c = Const::new;
    let unaries: Vec<(&str, UnaryOp, Leaf)> = vec![
        ("abs", UnaryOp::Abs, s("a", &p32, 80, 0.2, 1.5)),
        (
            "leaky_relu",
            UnaryOp::LeakyRelu(c(0.05)),
            s("a", &p32, 81, 0.2, 1.5),
        ),
        (
            "leaky_relu_negative_slope",
            UnaryOp::LeakyRelu(c(-0.5)),
            s("a", &p32, 82, 0.2, 1.5),
        ),
        ("elu", UnaryOp::Elu, s("a", &p32, 83, 0.2, 3.0)),
        ("gelu", UnaryOp::Gelu, u("a", &p32, 84, -3.0, 3.0)),
        ("gelu_tanh", UnaryOp::GeluTanh, u("a", &p32, 85, -3.0, 3.0)),
        ("silu", UnaryOp::Silu, u("a", &p32, 86, -3.0, 3.0)),
        (
            "clamp",
            UnaryOp::Clamp(c(-0.5), c(0.5)),
            leaf("a", &p32, vec![-0.9, -0.3, 0.1, 0.45, 0.8, -0.55]),
        ),
        ("ln_1p", UnaryOp::Ln1p, u("a", &p32, 87, -0.5, 2.0)),
        (
            "normal_cdf",
            UnaryOp::NormalCdf,
            u("a", &p32, 88, -3.0, 3.0),
        ),
    ];
    for (name, op, a) in unaries {
        v.push(op_case(name, vec![a], un(Op::Unary(op)))?);
    }
    for n in [0, 1, 2, 3, -1] {
        v.push(op_case(
            &format!("powi{n}"),
            vec![s("a", &p32, 9, 0.5, 1.5)],
            un(Op::Unary(UnaryOp::Powi(n))),
        )?);
    }
    let binaries: Vec<(&str, Op, Leaf, Leaf)> = vec![
        (
            "add_same",
            Op::Binary(BinaryOp::Add),
            u("a", &p32, 10, -1.0, 1.0),
            u("b", &p32, 11, -1.0, 1.0),
        ),
        (
            "add_row",
            Op::Binary(BinaryOp::Add),
            u("a", &[4, 2], 12, -1.0, 1.0),
            u("b", &[2], 13, -1.0, 1.0),
        ),
        (
            "add_scalar_tensor",
            Op::Binary(BinaryOp::Add),
            u("a", &[], 14, -1.0, 1.0),
            u("b", &[3], 15, -1.0, 1.0),
        ),
        (
            "add_3d",
            Op::Binary(BinaryOp::Add),
            u("a", &[2, 1, 3], 16, -1.0, 1.0),
            u("b", &[4, 1], 17, -1.0, 1.0),
        ),
        (
            "sub_outer",
            Op::Binary(BinaryOp::Sub),
            u("a", &[4, 1], 18, -1.0, 1.0),
            u("b", &[1, 3], 19, -1.0, 1.0),
        ),
        (
            "sub_tensor_scalar",
            Op::Binary(BinaryOp::Sub),
            u("a", &[2, 3], 20, -1.0, 1.0),
            u("b", &[], 21, -1.0, 1.0),
        ),
        (
            "mul_same",
            Op::Binary(BinaryOp::Mul),
            u("a", &p32, 22, -1.0, 1.0),
            u("b", &p32, 23, -1.0, 1.0),
        ),
        (
            "mul_outer",
            Op::Binary(BinaryOp::Mul),
            u("a", &[4, 1], 24, -1.0, 1.0),
            u("b", &[1, 3], 25, -1.0, 1.0),
        ),
        (
            "mul_row",
            Op::Binary(BinaryOp::Mul),
            u("a", &[4, 2], 26, -1.0, 1.0),
            u("b", &[2], 27, -1.0, 1.0),
        ),
        (
            "div_row",
            Op::Binary(BinaryOp::Div),
            u("a", &[4, 2], 28, -1.0, 1.0),
            s("b", &[2], 29, 0.5, 2.0),
        ),
        (
            "div_scalar_tensor",
            Op::Binary(BinaryOp::Div),
            u("a", &[], 30, -1.0, 1.0),
            s("b", &[3], 31, 0.5, 2.0),
        ),
        (
            "div_same",
            Op::Binary(BinaryOp::Div),
            u("a", &p32, 32, -1.0, 1.0),
            s("b", &p32, 33, 0.5, 2.0),
        ),
        (
            "max_same",
            Op::Binary(BinaryOp::Max),
            u("a", &p32, 34, -1.0, 1.0),
            u("b", &p32, 35, -1.0, 1.0),
        ),
        (
            "max_row",
            Op::Binary(BinaryOp::Max),
            u("a", &[3, 2], 36, -1.0, 1.0),
            u("b", &[2], 37, -1.0, 1.0),
        ),
        (
            "max_row_swapped",
            Op::Binary(BinaryOp::Max),
            u("a", &[2], 37, -1.0, 1.0),
            u("b", &[3, 2], 36, -1.0, 1.0),
        ),
        (
            "min_same",
            Op::Binary(BinaryOp::Min),
            u("a", &p32, 38, -1.0, 1.0),
            u("b", &p32, 39, -1.0, 1.0),
        ),
        (
            "min_row",
            Op::Binary(BinaryOp::Min),
            u("a", &[3, 2], 36, -1.0, 1.0),
            u("b", &[2], 37, -1.0, 1.0),
        ),
        (
            "matmul_nn",
            mm(false, false),
            u("a", &[3, 4], 40, -1.0, 1.0),
            u("b", &[4, 2], 41, -1.0, 1.0),
        ),
        (
            "matmul_tn",
            mm(true, false),
            u("a", &[4, 3], 42, -1.0, 1.0),
            u("b", &[4, 2], 43, -1.0, 1.0),
        ),
        (
            "matmul_nt",
            mm(false, true),
            u("a", &[3, 4], 44, -1.0, 1.0),
            u("b", &[2, 4], 45, -1.0, 1.0),
        ),
        (
            "matmul_tt",
            mm(true, true),
            u("a", &[4, 3], 46, -1.0, 1.0),
            u("b", &[2, 4], 47, -1.0, 1.0),
        ),
    ];
    for (name, op, a, b) in binaries {
        v.push(op_case(name, vec![a, b], bin(op))?);
    }
    // A mask passes no gradient: gt(a, b)·a, so b's gradient is zero.
    v.push(op_case(
        "gt_mask",
        vec![u("a", &p32, 50, -1.0, 1.0), u("b", &p32, 51, -1.0, 1.0)],
        |g, p| {
            let m = g.add(Op::Binary(BinaryOp::Gt), &[p[0], p[1]])?;
            g.add(Op::Binary(BinaryOp::Mul), &[m, p[0]])
        },
    )?);
    // One-hot rows of labels pass no gradient either: labels 2 and 0 select a
    // class, 5 (too large) and 1.5 (fractional) none. A step of ±h moves every
    // label off its class, so finite differences see zero too.
    v.push(op_case(
        "one_hot",
        vec![leaf("a", &[2, 2], vec![2.0, 0.0, 5.0, 1.5])],
        un(Op::OneHot(3)),
    )?);
    let shaped: Vec<(&str, Op, Leaf)> = vec![
        ("transpose", Op::Transpose, u("a", &[2, 3], 60, -1.0, 1.0)),
        (
            "reshape",
            Op::Reshape(sh(&[3, 2])),
            u("a", &[2, 3], 61, -1.0, 1.0),
        ),
        (
            "reshape_1d",
            Op::Reshape(sh(&[2, 3])),
            u("a", &[6], 62, -1.0, 1.0),
        ),
        (
            "broadcast_to_row",
            Op::BroadcastTo(sh(&[2, 3])),
            u("a", &[3], 63, -1.0, 1.0),
        ),
        (
            "broadcast_to_col",
            Op::BroadcastTo(sh(&[2, 3])),
            u("a", &[2, 1], 64, -1.0, 1.0),
        ),
        (
            "broadcast_to_scalar",
            Op::BroadcastTo(sh(&[2, 2])),
            u("a", &[], 65, -1.0, 1.0),
        ),
        (
            "sum_to_row",
            Op::SumTo(sh(&[3])),
            u("a", &[4, 3], 66, -1.0, 1.0),
        ),
        (
            "sum_to_col",
            Op::SumTo(sh(&[4, 1])),
            u("a", &[4, 3], 67, -1.0, 1.0),
        ),
        (
            "sum_to_scalar",
            Op::SumTo(sh(&[])),
            u("a", &[4, 3], 68, -1.0, 1.0),
        ),
        (
            "sum_to_3d",
            Op::SumTo(sh(&[3, 1])),
            u("a", &[2, 3, 4], 69, -1.0, 1.0),
        ),
        ("sum", Op::Sum, u("a", &p32, 70, -1.0, 1.0)),
        (
            "sum_last",
            Op::Row(RowOp::SumLast),
            u("a", &[3, 4], 71, -1.0, 1.0),
        ),
        (
            "sum_last_1d",
            Op::Row(RowOp::SumLast),
            u("a", &[4], 72, -1.0, 1.0),
        ),
        (
            "logsumexp",
            Op::Row(RowOp::LogSumExp),
            u("a", &[3, 4], 73, -2.0, 2.0),
        ),
        (
            "logsumexp_1d",
            Op::Row(RowOp::LogSumExp),
            u("a", &[4], 74, -2.0, 2.0),
        ),
        (
            "softmax",
            Op::Row(RowOp::Softmax),
            u("a", &[3, 4], 75, -2.0, 2.0),
        ),
        (
            "softmax_1d",
            Op::Row(RowOp::Softmax),
            u("a", &[4], 76, -2.0, 2.0),
        ),
        (
            "log_softmax",
            Op::Row(RowOp::LogSoftmax),
            u("a", &[3, 4], 77, -2.0, 2.0),
        ),
        (
            "log_softmax_1d",
            Op::Row(RowOp::LogSoftmax),
            u("a", &[4], 78, -2.0, 2.0),
        ),
    ];
    for (name, op, a) in shaped {
        v.push(op_case(name, vec![a], un(op))?);
    }
    // The row maximum (uniform data: no ties) and its mask, which passes no
    // gradient: `max_mask(a)·a` has gradient the mask itself.
    for (name, dims) in [("max_last", &[3, 4][..]), ("max_last_1d", &[4][..])] {
        v.push(op_case(
            name,
            vec![u("a", dims, 79, -1.0, 1.0)],
            un(Op::Row(RowOp::MaxLast)),
        )?);
    }
    v.push(op_case(
        "max_mask",
        vec![u("a", &[3, 4], 80, -1.0, 1.0)],
        |g, p| {
            let m = g.add(Op::Row(RowOp::MaxMask), &[p[0]])?;
            g.add(Op::Binary(BinaryOp::Mul), &[m, p[0]])
        },
    )?);
    v.push(op_case(
        "concat",
        vec![
            u("a", &[2, 3], 81, -1.0, 1.0),
            u("b", &[2, 2], 82, -1.0, 1.0),
        ],
        bin(Op::Concat),
    )?);
    v.push(op_case(
        "concat_1d",
        vec![u("a", &[1], 83, -1.0, 1.0), u("b", &[3], 84, -1.0, 1.0)],
        bin(Op::Concat),
    )?);
    // Inside, at the start and at the end of the row: the VJP pads with
    // zeros on both sides, one side, the other side.
    for (name, start, len) in [
        ("slice_last", 1, 2),
        ("slice_last_head", 0, 3),
        ("slice_last_tail", 2, 2),
    ] {
        v.push(op_case(
            name,
            vec![u("a", &[3, 4], 85, -1.0, 1.0)],
            un(Op::SliceLast { start, len }),
        )?);
    }
    Ok(v)
}

/// Builds a network case: `inputs` and `params` are declared in order, `build`
/// returns the scalar loss, which becomes the root `out`.
fn net_case(
    name: &str,
    inputs: Vec<Leaf>,
    params: Vec<Leaf>,
    build: impl FnOnce(&mut Graph, &[NodeId], &[NodeId]) -> Result<NodeId, IrError>,
) -> Result<Case, IrError> {
    let mut g = Graph::new(DType::F64);
    let xs: Vec<NodeId> = inputs
        .iter()
        .map(|l| g.add_input(l.name, Shape::new(l.dims.clone())))
        .collect();
    let ps: Vec<NodeId> = params
        .iter()
        .map(|l| g.add_param(l.name, Shape::new(l.dims.clone())))
        .collect();
    let out = build(&mut g, &xs, &ps)?;
    g.set_name(out, "out");
    g.add_root("out", out);
    Ok(Case {
        name: name.to_string(),
        graph: g,
        inputs: inputs.into_iter().map(|l| l.data).collect(),
        params: params.into_iter().map(|l| l.data).collect(),
    })
}

/// `add` then name the result.
fn named(g: &mut Graph, name: &str, op: Op, args: &[NodeId]) -> Result<NodeId, IrError> {
    let id = g.add(op, args)?;
    g.set_name(id, name);
    Ok(id)
}

const MM: Op = Op::MatMul {
    ta: false,
    tb: false,
};

/// `div (sum (powi 2 (sub a b))) n`, the frontend's `mse`.
fn mse(g: &mut Graph, a: NodeId, b: NodeId) -> Result<NodeId, IrError> {
    let n = g.shape(a).numel() as f64;
    let d = g.add(Op::Binary(BinaryOp::Sub), &[a, b])?;
    let sq = g.add(Op::Unary(UnaryOp::Powi(2)), &[d])?;
    let s = g.add(Op::Sum, &[sq])?;
    let c = g.constant(n);
    g.add(Op::Binary(BinaryOp::Div), &[s, c])
}

/// Small networks from the lecture, plus fan-out and unused-parameter cases.
pub fn network_cases() -> Result<Vec<Case>, IrError> {
    let sh = |d: &[usize]| Shape::new(d.to_vec());
    let mut v = Vec::new();

    // Slides 6-17: XOR with a relu hidden layer, mse loss (1-D matmul desugared).
    let xor_x = vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0];
    v.push(net_case(
        "xor_mlp",
        vec![
            leaf("x", &[4, 2], xor_x),
            leaf("y", &[4], vec![0.0, 1.0, 1.0, 0.0]),
        ],
        vec![
            u("w1", &[2, 2], 100, -1.0, 1.0),
            u("c", &[2], 101, -1.0, 1.0),
            u("w2", &[2], 102, -1.0, 1.0),
            u("b", &[], 103, -1.0, 1.0),
        ],
        |g, x, p| {
            let xw = g.add(MM, &[x[0], p[0]])?;
            let pre = g.add(Op::Binary(BinaryOp::Add), &[xw, p[1]])?;
            let h = named(g, "h", Op::Unary(UnaryOp::Relu), &[pre])?;
            let w2c = g.add(Op::Reshape(sh(&[2, 1])), &[p[2]])?;
            let hw = g.add(MM, &[h, w2c])?;
            let hw = g.add(Op::Reshape(sh(&[4])), &[hw])?;
            let yhat = named(g, "yhat", Op::Binary(BinaryOp::Add), &[hw, p[3]])?;
            mse(g, yhat, x[1])
        },
    )?);

    // Slides 19-25: softmax output with cross entropy through logsumexp.
    let mut onehot = vec![0.0; 20];
    for (r, c) in [(0, 1), (1, 3), (2, 0), (3, 2), (4, 1)] {
        onehot[r * 4 + c] = 1.0;
    }
    v.push(net_case(
        "softmax_cross_entropy",
        vec![u("x", &[5, 3], 110, -1.0, 1.0), leaf("t", &[5, 4], onehot)],
        vec![
            u("w", &[3, 4], 111, -1.0, 1.0),
            u("b", &[4], 112, -0.5, 0.5),
        ],
        |g, x, p| {
            let xw = g.add(MM, &[x[0], p[0]])?;
            let z = named(g, "z", Op::Binary(BinaryOp::Add), &[xw, p[1]])?;
            let lse = g.add(Op::Row(RowOp::LogSumExp), &[z])?;
            let a = g.add(Op::Sum, &[lse])?;
            let tz = g.add(Op::Binary(BinaryOp::Mul), &[x[1], z])?;
            let b = g.add(Op::Sum, &[tz])?;
            let d = g.add(Op::Binary(BinaryOp::Sub), &[a, b])?;
            let n = g.constant(5.0);
            g.add(Op::Binary(BinaryOp::Div), &[d, n])
        },
    )?);

    // The same loss with class-index targets, as the frontend desugars it: the
    // targets are `one_hot 4 labels`; label 4 is out of range and selects no
    // class, so its row contributes logsumexp(z) alone.
    v.push(net_case(
        "class_index_cross_entropy",
        vec![
            u("x", &[5, 3], 110, -1.0, 1.0),
            leaf("labels", &[5], vec![1.0, 3.0, 0.0, 2.0, 4.0]),
        ],
        vec![
            u("w", &[3, 4], 111, -1.0, 1.0),
            u("b", &[4], 112, -0.5, 0.5),
        ],
        |g, x, p| {
            let xw = g.add(MM, &[x[0], p[0]])?;
            let z = named(g, "z", Op::Binary(BinaryOp::Add), &[xw, p[1]])?;
            let lse = g.add(Op::Row(RowOp::LogSumExp), &[z])?;
            let a = g.add(Op::Sum, &[lse])?;
            let t = g.add(Op::OneHot(4), &[x[1]])?;
            let tz = g.add(Op::Binary(BinaryOp::Mul), &[t, z])?;
            let b = g.add(Op::Sum, &[tz])?;
            let d = g.add(Op::Binary(BinaryOp::Sub), &[a, b])?;
            let n = g.constant(5.0);
            g.add(Op::Binary(BinaryOp::Div), &[d, n])
        },
    )?);

    // Slides 42-52: the 2-2-2 sigmoid network with squared error; weights
    // stored [out, in] and applied with matmul.nt.
    v.push(net_case(
        "sigmoid_222",
        vec![
            leaf("x", &[1, 2], vec![0.05, 0.10]),
            leaf("y", &[1, 2], vec![0.01, 0.99]),
        ],
        vec![
            leaf("w1", &[2, 2], vec![0.15, 0.20, 0.25, 0.30]),
            leaf("b1", &[2], vec![0.35, 0.35]),
            leaf("w2", &[2, 2], vec![0.40, 0.45, 0.50, 0.55]),
            leaf("b2", &[2], vec![0.60, 0.60]),
        ],
        |g, x, p| {
            let nt = Op::MatMul {
                ta: false,
                tb: true,
            };
            let a1 = g.add(nt.clone(), &[x[0], p[0]])?;
            let a1 = g.add(Op::Binary(BinaryOp::Add), &[a1, p[1]])?;
            let h = named(g, "h", Op::Unary(UnaryOp::Sigmoid), &[a1])?;
            let a2 = g.add(nt, &[h, p[2]])?;
            let a2 = g.add(Op::Binary(BinaryOp::Add), &[a2, p[3]])?;
            let yhat = named(g, "yhat", Op::Unary(UnaryOp::Sigmoid), &[a2])?;
            let d = g.add(Op::Binary(BinaryOp::Sub), &[yhat, x[1]])?;
            let sq = g.add(Op::Unary(UnaryOp::Powi(2)), &[d])?;
            let s = g.add(Op::Sum, &[sq])?;
            let half = g.constant(0.5);
            g.add(Op::Binary(BinaryOp::Mul), &[half, s])
        },
    )?);

    // Slide 53: x = f(w), y = f(x), z = f(y).
    for (name, f) in [
        ("chain53_sigmoid", Op::Unary(UnaryOp::Sigmoid)),
        ("chain53_tanh", Op::Unary(UnaryOp::Tanh)),
    ] {
        v.push(net_case(
            name,
            vec![],
            vec![leaf("w", &[], vec![0.7])],
            |g, _, p| {
                let x = named(g, "x", f.clone(), &[p[0]])?;
                let y = named(g, "y", f.clone(), &[x])?;
                g.add(f, &[y])
            },
        )?);
    }

    // Logistic regression with binary_cross_entropy_with_logits.
    v.push(net_case(
        "bce_logits",
        vec![
            u("x", &[4, 3], 120, -1.0, 1.0),
            leaf("y", &[4], vec![1.0, 0.0, 0.0, 1.0]),
        ],
        vec![u("w", &[3], 121, -1.0, 1.0), u("b", &[], 122, -0.5, 0.5)],
        |g, x, p| {
            let wc = g.add(Op::Reshape(sh(&[3, 1])), &[p[0]])?;
            let xw = g.add(MM, &[x[0], wc])?;
            let xw = g.add(Op::Reshape(sh(&[4])), &[xw])?;
            let z = named(g, "z", Op::Binary(BinaryOp::Add), &[xw, p[1]])?;
            let sp = g.add(Op::Unary(UnaryOp::Softplus), &[z])?;
            let yz = g.add(Op::Binary(BinaryOp::Mul), &[x[1], z])?;
            let d = g.add(Op::Binary(BinaryOp::Sub), &[sp, yz])?;
            let s = g.add(Op::Sum, &[d])?;
            let n = g.constant(4.0);
            g.add(Op::Binary(BinaryOp::Div), &[s, n])
        },
    )?);

    // Fan-out: h feeds a mul twice and a tanh once; adjoints must be summed.
    v.push(net_case(
        "fan_out",
        vec![u("x", &[3], 130, -1.0, 1.0)],
        vec![u("w", &[3], 131, -1.0, 1.0)],
        |g, x, p| {
            let h = named(g, "h", Op::Binary(BinaryOp::Mul), &[p[0], x[0]])?;
            let hh = g.add(Op::Binary(BinaryOp::Mul), &[h, h])?;
            let a = g.add(Op::Sum, &[hh])?;
            let t = g.add(Op::Unary(UnaryOp::Tanh), &[h])?;
            let b = g.add(Op::Sum, &[t])?;
            g.add(Op::Binary(BinaryOp::Add), &[a, b])
        },
    )?);

    // Unused parameters (a tensor and a scalar) get zero gradients.
    v.push(net_case(
        "unused_param",
        vec![],
        vec![
            u("w", &[2], 140, -1.0, 1.0),
            u("v", &[2, 2], 141, -1.0, 1.0),
            u("s", &[], 142, -1.0, 1.0),
        ],
        |g, _, p| {
            let e = g.add(Op::Unary(UnaryOp::Exp), &[p[0]])?;
            g.add(Op::Sum, &[e])
        },
    )?);

    // Everything else at once: an inputs-only subgraph, leaky relu via max,
    // matmul.tn, sqrt/ln/div, log_softmax with a negative log-likelihood.
    let mut onehot = vec![0.0; 9];
    for (r, c) in [(0, 2), (1, 0), (2, 1)] {
        onehot[r * 3 + c] = 1.0;
    }
    v.push(net_case(
        "kitchen_sink",
        vec![u("x", &[4, 3], 150, -1.0, 1.0), leaf("t", &[3, 3], onehot)],
        vec![
            u("w", &[4, 2], 151, -1.0, 1.0),
            u("v", &[2, 3], 152, -1.0, 1.0),
            u("c", &[3], 153, 0.5, 1.5),
        ],
        |g, x, p| {
            // Inputs only: no adjoint may be built for these.
            let xe = g.add(Op::Unary(UnaryOp::Exp), &[x[0]])?;
            let xs = g.add(Op::Binary(BinaryOp::Mul), &[xe, x[0]])?;
            let tn = Op::MatMul {
                ta: true,
                tb: false,
            };
            let a = g.add(tn, &[xs, p[0]])?; // [3, 2]
            let k = g.constant(0.1);
            let ka = g.add(Op::Binary(BinaryOp::Mul), &[k, a])?;
            let h = named(g, "h", Op::Binary(BinaryOp::Max), &[a, ka])?;
            let z = g.add(MM, &[h, p[1]])?; // [3, 3]
            let sq = g.add(Op::Unary(UnaryOp::Powi(2)), &[p[2]])?;
            let one = g.constant(1.0);
            let sq1 = g.add(Op::Binary(BinaryOp::Add), &[sq, one])?;
            let r = g.add(Op::Unary(UnaryOp::Sqrt), &[sq1])?;
            let lr = g.add(Op::Unary(UnaryOp::Ln), &[r])?;
            let z = named(g, "z", Op::Binary(BinaryOp::Div), &[z, lr])?;
            let ls = g.add(Op::Row(RowOp::LogSoftmax), &[z])?;
            let tl = g.add(Op::Binary(BinaryOp::Mul), &[x[1], ls])?;
            let s = g.add(Op::Sum, &[tl])?;
            let nll = g.add(Op::Unary(UnaryOp::Neg), &[s])?;
            let three = g.constant(3.0);
            let m = g.add(Op::Binary(BinaryOp::Div), &[nll, three])?;
            let sm = g.add(Op::Row(RowOp::Softmax), &[z])?;
            let sm2 = g.add(Op::Binary(BinaryOp::Mul), &[sm, sm])?;
            let ent = g.add(Op::Row(RowOp::SumLast), &[sm2])?;
            let tz = g.add(Op::Transpose, &[z])?;
            let tt = g.add(Op::Unary(UnaryOp::Tanh), &[tz])?;
            let st = g.add(Op::Sum, &[tt])?;
            let e = g.add(Op::Sum, &[ent])?;
            let me = g.add(Op::Binary(BinaryOp::Add), &[m, e])?;
            g.add(Op::Binary(BinaryOp::Add), &[me, st])
        },
    )?);
    Ok(v)
}

/// [`op_cases`] followed by [`network_cases`].
pub fn all_cases() -> Result<Vec<Case>, IrError> {
    let mut v = op_cases()?;
    v.extend(network_cases()?);
    Ok(v)
}
