//! The tape interpreter: runs any graph at run time, tensor by tensor.
//!
//! It is the baseline compiled code is measured against and the oracle it is
//! checked against, so it is kept honest: every node owns one contiguous
//! row-major buffer allocated when the [`Interpreter`] is built and reused by
//! every call, the kernels loop over slices (no per-element allocation, no
//! boxing), and the backward pass applies each op's vector-Jacobian product at
//! run time, following the VJP table in ARCHITECTURE.md. It does not use the
//! symbolic autodiff, so the two can check each other.

use crate::{
    verify, BinaryKernel, BinaryVjpKernel, Float, Graph, IrError, Node, Op, RowOp, Shape,
    UnaryKernel, UnaryVjpKernel,
};

/// Precomputed layout facts for one node, so that a call never allocates.
#[derive(Clone, Debug, Default)]
struct Plan {
    /// Dimensions iterated by broadcasting kernels.
    dims: Vec<usize>,
    /// Broadcast strides of the first and second operand within `dims`
    /// (for `sum_to`: of the output within the operand's dims).
    s0: Vec<usize>,
    s1: Vec<usize>,
    /// Whether the first / second operand already has the shape `dims`.
    same0: bool,
    same1: bool,
    /// Row ops over the last axis: number of rows and row length.
    rows: usize,
    last: usize,
    /// Stored 2-D dims of the operands (matmul, transpose) and of the output.
    da: [usize; 2],
    db: [usize; 2],
    dout: [usize; 2],
}

fn dims2(s: &Shape) -> [usize; 2] {
    match s.dims() {
        [r, c] => [*r, *c],
        _ => [0, 0],
    }
}

impl Plan {
    fn for_node(g: &Graph, n: &Node) -> Plan {
        let out = &n.shape;
        let arg = |k: usize| g.shape(n.args[k]);
        let mut p = Plan::default();
        match &n.op {
            Op::Binary(_) => {
                p.dims = out.0.clone();
                p.s0 = arg(0).broadcast_strides(out);
                p.s1 = arg(1).broadcast_strides(out);
                p.same0 = arg(0) == out;
                p.same1 = arg(1) == out;
            }
            Op::BroadcastTo(_) => {
                p.dims = out.0.clone();
                p.s0 = arg(0).broadcast_strides(out);
                p.s1 = p.s0.clone();
                p.same0 = arg(0) == out;
            }
            Op::SumTo(_) => {
                p.dims = arg(0).0.clone();
                p.s0 = out.broadcast_strides(arg(0));
                p.s1 = p.s0.clone();
                p.same0 = arg(0) == out;
            }
            Op::Row(_) => {
                let d = arg(0).dims();
                p.last = d.last().copied().unwrap_or(1);
                p.rows = d[..d.len().saturating_sub(1)].iter().product();
            }
            Op::MatMul { .. } => {
                p.da = dims2(arg(0));
                p.db = dims2(arg(1));
                p.dout = dims2(out);
            }
            Op::Transpose => p.da = dims2(arg(0)),
            Op::Concat => {
                let last = |k: usize| arg(k).last().unwrap_or(1);
                p.da = [last(0), last(1)];
                p.rows = out.numel() / out.last().unwrap_or(1).max(1);
            }
            Op::SliceLast { .. } => {
                p.last = arg(0).last().unwrap_or(1);
                p.rows = out.numel() / out.last().unwrap_or(1).max(1);
            }
            // Elementwise over whole buffers, or leaves: nothing to precompute.
            Op::Input(_)
            | Op::Param(_)
            | Op::Const(_)
            | Op::Count(_)
            | Op::Unary(_)
            | Op::OneHot(_)
            | Op::Reshape(_)
            | Op::Sum
            | Op::Index(_)
            | Op::Stack { .. } => {}
        }
        p
    }
}

/// Calls `f(i, o0, o1)` for every row-major index `i` of `dims`, where `o0`/`o1`
/// are the offsets of the same element in two operands with strides `s0`/`s1`
/// (broadcast dimensions have stride 0). The index arithmetic runs once per row.
#[inline]
fn for_each_bcast(
    dims: &[usize],
    s0: &[usize],
    s1: &[usize],
    mut f: impl FnMut(usize, usize, usize),
) {
    let r = dims.len();
    if r == 0 {
        f(0, 0, 0);
        return;
    }
    let last = dims[r - 1];
    let (l0, l1) = (s0[r - 1], s1[r - 1]);
    let rows: usize = dims[..r - 1].iter().product();
    for row in 0..rows {
        let (mut o0, mut o1, mut rem) = (0, 0, row);
        for d in (0..r - 1).rev() {
            let idx = rem % dims[d];
            rem /= dims[d];
            o0 += idx * s0[d];
            o1 += idx * s1[d];
        }
        let base = row * last;
        for j in 0..last {
            f(base + j, o0 + j * l0, o1 + j * l1);
        }
    }
}

/// `out = f(a, b)` elementwise with broadcasting.
#[inline]
fn binary<T: Float>(p: &Plan, a: &[T], b: &[T], out: &mut [T], f: impl Fn(T, T) -> T) {
    if p.same0 && p.same1 {
        for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
            *o = f(x, y);
        }
    } else if p.same1 && a.len() == 1 {
        let x = a[0];
        for (o, &y) in out.iter_mut().zip(b) {
            *o = f(x, y);
        }
    } else if p.same0 && b.len() == 1 {
        let y = b[0];
        for (o, &x) in out.iter_mut().zip(a) {
            *o = f(x, y);
        }
    } else {
        for_each_bcast(&p.dims, &p.s0, &p.s1, |i, ia, ib| out[i] = f(a[ia], b[ib]));
    }
}

/// Adjoint of one operand of a broadcasting binary op: for every output element
/// `i`, `adj[offset of i in operand side] += f(g[i], a, b, y[i])`, which is
/// `sum_to(shape operand, f(g, a, b, y))` fused with the accumulation.
#[inline]
#[allow(clippy::too_many_arguments)]
fn binary_vjp<T: Float>(
    p: &Plan,
    side: usize,
    g: &[T],
    a: &[T],
    b: &[T],
    y: &[T],
    adj: &mut [T],
    f: impl Fn(T, T, T, T) -> T,
) {
    if p.same0 && p.same1 {
        for ((((d, &gi), &ai), &bi), &yi) in adj.iter_mut().zip(g).zip(a).zip(b).zip(y) {
            *d += f(gi, ai, bi, yi);
        }
    } else {
        for_each_bcast(&p.dims, &p.s0, &p.s1, |i, ia, ib| {
            let o = if side == 0 { ia } else { ib };
            adj[o] += f(g[i], a[ia], b[ib], y[i]);
        });
    }
}

#[inline]
fn unary<T: Float>(x: &[T], out: &mut [T], f: impl Fn(T) -> T) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = f(v);
    }
}

/// `adj += f(g, x, y)` elementwise.
#[inline]
fn unary_vjp<T: Float>(g: &[T], x: &[T], y: &[T], adj: &mut [T], f: impl Fn(T, T, T) -> T) {
    for (((d, &gi), &xi), &yi) in adj.iter_mut().zip(g).zip(x).zip(y) {
        *d += f(gi, xi, yi);
    }
}

/// `out = f(x)`: a unary op's value over a buffer (see `UnaryOp::with_fn`).
struct Map1<'a, T> {
    x: &'a [T],
    out: &'a mut [T],
}

impl<T: Float> UnaryKernel<T> for Map1<'_, T> {
    type Out = ();
    #[inline]
    fn call(self, f: impl Fn(T) -> T + Copy) {
        unary(self.x, self.out, f);
    }
}

/// `out = f(a, b)` with broadcasting.
struct Map2<'a, T> {
    p: &'a Plan,
    a: &'a [T],
    b: &'a [T],
    out: &'a mut [T],
}

impl<T: Float> BinaryKernel<T> for Map2<'_, T> {
    type Out = ();
    #[inline]
    fn call(self, f: impl Fn(T, T) -> T + Copy) {
        binary(self.p, self.a, self.b, self.out, f);
    }
}

/// `adj += f(g, x, y)`.
struct UnaryVjp<'a, T> {
    g: &'a [T],
    x: &'a [T],
    y: &'a [T],
    adj: &'a mut [T],
}

impl<T: Float> UnaryVjpKernel<T> for UnaryVjp<'_, T> {
    type Out = ();
    #[inline]
    fn call(self, f: impl Fn(T, T, T) -> T + Copy) {
        unary_vjp(self.g, self.x, self.y, self.adj, f);
    }
}

/// `adj += sum_to(f(g, a, b, y))` for one operand of a broadcasting op.
struct BinaryVjp<'a, T> {
    p: &'a Plan,
    side: usize,
    g: &'a [T],
    a: &'a [T],
    b: &'a [T],
    y: &'a [T],
    adj: &'a mut [T],
}

impl<T: Float> BinaryVjpKernel<T> for BinaryVjp<'_, T> {
    type Out = ();
    #[inline]
    fn call(self, f: impl Fn(T, T, T, T) -> T + Copy) {
        binary_vjp(
            self.p, self.side, self.g, self.a, self.b, self.y, self.adj, f,
        );
    }
}

/// Products of at least this many multiply-adds go to the run-time GEMM kernel,
/// the threshold generated code uses too.
const MIN_GEMM_MACS: usize = 2048;

/// `out += op(a) · op(b)` for row-major `a` stored as `da` and `b` stored as `db`,
/// where `op` transposes when the flag is set. Large products go to
/// `gradc_runtime::gemm_strided` (transposes as strides); small ones loop here,
/// in an order per flag combination so that the innermost loop walks contiguous
/// memory where it can. Nothing is copied or transposed up front.
fn matmul_acc<T: Float>(
    a: &[T],
    da: [usize; 2],
    ta: bool,
    b: &[T],
    db: [usize; 2],
    tb: bool,
    out: &mut [T],
) {
    let (m, k) = if ta { (da[1], da[0]) } else { (da[0], da[1]) };
    let n = if tb { db[0] } else { db[1] };
    if m * n * k >= MIN_GEMM_MACS {
        use gradc_runtime::Strided;
        // op(a)(i, p) and op(b)(p, j) as strides into the stored buffers.
        let (ars, acs) = if ta { (1, m) } else { (k, 1) };
        let (brs, bcs) = if tb { (1, k) } else { (n, 1) };
        gradc_runtime::gemm_strided(
            m,
            n,
            k,
            Strided {
                data: a,
                rs: ars,
                cs: acs,
            },
            Strided {
                data: b,
                rs: brs,
                cs: bcs,
            },
            out,
            true,
        );
        return;
    }
    match (ta, tb) {
        (false, false) => {
            // i-k-j: a[i,p] times row p of b into row i of out.
            for i in 0..m {
                let orow = &mut out[i * n..(i + 1) * n];
                for p in 0..k {
                    let aip = a[i * k + p];
                    let brow = &b[p * n..(p + 1) * n];
                    for (o, &bv) in orow.iter_mut().zip(brow) {
                        *o += aip * bv;
                    }
                }
            }
        }
        (true, false) => {
            // a stored [k, m]: k-i-j, both a's row p and b's row p are contiguous.
            for p in 0..k {
                let arow = &a[p * m..(p + 1) * m];
                let brow = &b[p * n..(p + 1) * n];
                for (i, &aip) in arow.iter().enumerate() {
                    let orow = &mut out[i * n..(i + 1) * n];
                    for (o, &bv) in orow.iter_mut().zip(brow) {
                        *o += aip * bv;
                    }
                }
            }
        }
        (false, true) => {
            // b stored [n, k]: every output element is a dot product of two rows.
            for i in 0..m {
                let arow = &a[i * k..(i + 1) * k];
                for j in 0..n {
                    let brow = &b[j * k..(j + 1) * k];
                    let mut s = T::ZERO;
                    for (&x, &y) in arow.iter().zip(brow) {
                        s += x * y;
                    }
                    out[i * n + j] += s;
                }
            }
        }
        (true, true) => {
            // a stored [k, m], b stored [n, k]: j-k-i reads both contiguously.
            for j in 0..n {
                let brow = &b[j * k..(j + 1) * k];
                for (p, &bjp) in brow.iter().enumerate() {
                    let arow = &a[p * m..(p + 1) * m];
                    for (i, &aip) in arow.iter().enumerate() {
                        out[i * n + j] += aip * bjp;
                    }
                }
            }
        }
    }
}

fn row_max<T: Float>(row: &[T]) -> T {
    let mut m = row[0];
    for &v in &row[1..] {
        if v > m {
            m = v;
        }
    }
    m
}

/// The index of the element `row_max` returns: the first maximum.
fn row_argmax<T: Float>(row: &[T]) -> usize {
    let mut k = 0;
    for (j, &v) in row.iter().enumerate().skip(1) {
        if v > row[k] {
            k = j;
        }
    }
    k
}

/// `m + ln Σ exp(x - m)` with `m` the row maximum; never overflows.
fn row_logsumexp<T: Float>(row: &[T]) -> T {
    if row.is_empty() {
        return -T::ONE / T::ZERO;
    }
    let m = row_max(row);
    if !m.is_finite() {
        // All -inf (or an inf / NaN present): the max itself is the answer.
        return m;
    }
    let mut s = T::ZERO;
    for &v in row {
        s += (v - m).exp();
    }
    m + s.ln()
}

/// Computes node `id` from its arguments' buffers into its own.
fn eval_node<T: Float>(n: &Node, p: &Plan, vals: &mut [Vec<T>], id: usize) {
    let (lo, hi) = vals.split_at_mut(id);
    let out = hi[0].as_mut_slice();
    let x = |k: usize| lo[n.args[k].index()].as_slice();
    match &n.op {
        // Leaves are filled by the caller (inputs, params) or at construction (constants).
        Op::Input(_) | Op::Param(_) | Op::Const(_) | Op::Count(_) => {}
        Op::Unary(u) => u.with_fn(Map1 { x: x(0), out }),
        Op::Binary(op) => op.with_fn(Map2 {
            p,
            a: x(0),
            b: x(1),
            out,
        }),
        // Exact equality: a label that is no class index gives a zero row.
        Op::OneHot(c) => {
            for (orow, &v) in out.chunks_exact_mut(*c).zip(x(0)) {
                for (j, o) in orow.iter_mut().enumerate() {
                    *o = if v == T::from_f64(j as f64) {
                        T::ONE
                    } else {
                        T::ZERO
                    };
                }
            }
        }
        Op::MatMul { ta, tb } => {
            out.fill(T::ZERO);
            matmul_acc(x(0), p.da, *ta, x(1), p.db, *tb, out);
        }
        Op::Transpose => {
            let [r, c] = p.da;
            let src = x(0);
            for i in 0..r {
                for j in 0..c {
                    out[j * r + i] = src[i * c + j];
                }
            }
        }
        Op::Reshape(_) => out.copy_from_slice(x(0)),
        Op::Index(i) => {
            let n = out.len();
            out.copy_from_slice(&x(0)[i * n..(i + 1) * n]);
        }
        Op::Stack { len, at } => {
            let n = out.len() / len.max(&1);
            out.fill(T::ZERO);
            for (k, &j) in at.iter().enumerate() {
                out[j * n..(j + 1) * n].copy_from_slice(x(k));
            }
        }
        Op::BroadcastTo(_) => {
            let src = x(0);
            if p.same0 {
                out.copy_from_slice(src);
            } else {
                for_each_bcast(&p.dims, &p.s0, &p.s1, |i, o, _| out[i] = src[o]);
            }
        }
        Op::SumTo(_) => {
            let src = x(0);
            if p.same0 {
                out.copy_from_slice(src);
            } else {
                out.fill(T::ZERO);
                for_each_bcast(&p.dims, &p.s0, &p.s1, |i, o, _| out[o] += src[i]);
            }
        }
        Op::Sum => {
            let mut s = T::ZERO;
            for &v in x(0) {
                s += v;
            }
            out[0] = s;
        }
        Op::Row(RowOp::SumLast) => {
            for (o, row) in out.iter_mut().zip(x(0).chunks_exact(p.last.max(1))) {
                let mut s = T::ZERO;
                for &v in row {
                    s += v;
                }
                *o = s;
            }
        }
        Op::Row(RowOp::LogSumExp) => {
            for (o, row) in out.iter_mut().zip(x(0).chunks_exact(p.last.max(1))) {
                *o = row_logsumexp(row);
            }
        }
        Op::Row(RowOp::MaxLast) => {
            for (o, row) in out.iter_mut().zip(x(0).chunks_exact(p.last.max(1))) {
                *o = row_max(row);
            }
        }
        Op::Row(RowOp::MaxMask) => {
            let last = p.last.max(1);
            for (orow, row) in out.chunks_exact_mut(last).zip(x(0).chunks_exact(last)) {
                orow.fill(T::ZERO);
                orow[row_argmax(row)] = T::ONE;
            }
        }
        Op::Concat => {
            let [na, nb] = p.da;
            let rows = out.chunks_exact_mut((na + nb).max(1));
            for (orow, (a, b)) in rows.zip(x(0).chunks_exact(na).zip(x(1).chunks_exact(nb))) {
                orow[..na].copy_from_slice(a);
                orow[na..].copy_from_slice(b);
            }
        }
        Op::SliceLast { start, len } => {
            let rows = out.chunks_exact_mut((*len).max(1));
            for (orow, row) in rows.zip(x(0).chunks_exact(p.last.max(1))) {
                orow.copy_from_slice(&row[*start..start + len]);
            }
        }
        Op::Row(RowOp::Softmax) => {
            let last = p.last.max(1);
            for (orow, row) in out.chunks_exact_mut(last).zip(x(0).chunks_exact(last)) {
                let m = row_max(row);
                let mut s = T::ZERO;
                for (o, &v) in orow.iter_mut().zip(row) {
                    *o = (v - m).exp();
                    s += *o;
                }
                for o in orow.iter_mut() {
                    *o = *o / s;
                }
            }
        }
        Op::Row(RowOp::LogSoftmax) => {
            let last = p.last.max(1);
            for (orow, row) in out.chunks_exact_mut(last).zip(x(0).chunks_exact(last)) {
                // (x − m) − ln Σ e^(x−m): the shifted logits are exact, so no
                // precision is lost to the magnitude of m.
                let m = row_max(row);
                let mut s = T::ZERO;
                for &v in row {
                    s += (v - m).exp();
                }
                let ls = s.ln();
                for (o, &v) in orow.iter_mut().zip(row) {
                    *o = (v - m) - ls;
                }
            }
        }
    }
}

/// Adds node `id`'s vector-Jacobian products into the adjoints of those of its
/// arguments that need one (`needs`). `adj[id]` holds the node's finished adjoint.
fn vjp_node<T: Float>(
    n: &Node,
    p: &Plan,
    vals: &[Vec<T>],
    adj: &mut [Vec<T>],
    needs: &[bool],
    id: usize,
) {
    let (lo, hi) = adj.split_at_mut(id);
    let g = hi[0].as_slice();
    let y = vals[id].as_slice();
    let arg = |k: usize| n.args[k].index();
    let x = |k: usize| vals[arg(k)].as_slice();
    // The arguments that receive an adjoint; the same node may appear twice.
    let want = |k: usize| needs[arg(k)];
    let two = || 0..n.args.len();
    match &n.op {
        // Leaves and one-hot rows pass nothing on.
        Op::Input(_) | Op::Param(_) | Op::Const(_) | Op::Count(_) | Op::OneHot(_) => {}
        // The op's derivative from its table; none for a mask or `powi 0`.
        Op::Unary(u) => {
            u.with_vjp(UnaryVjp {
                g,
                x: x(0),
                y,
                adj: &mut lo[arg(0)],
            });
        }
        Op::Binary(op) => {
            for s in two().filter(|&s| want(s)) {
                op.with_vjp(
                    s,
                    BinaryVjp {
                        p,
                        side: s,
                        g,
                        a: x(0),
                        b: x(1),
                        y,
                        adj: &mut lo[arg(s)],
                    },
                );
            }
        }
        // nn: ga = g·bᵀ, gb = aᵀ·g; tn: ga = b·gᵀ, gb = a·g;
        // nt: ga = g·b, gb = gᵀ·a; tt: ga = bᵀ·gᵀ, gb = gᵀ·aᵀ
        Op::MatMul { ta, tb } => {
            let (a, b) = (x(0), x(1));
            let (da, db, dg) = (p.da, p.db, p.dout);
            if want(0) {
                let ga = &mut lo[arg(0)];
                match (ta, tb) {
                    (false, false) => matmul_acc(g, dg, false, b, db, true, ga),
                    (true, false) => matmul_acc(b, db, false, g, dg, true, ga),
                    (false, true) => matmul_acc(g, dg, false, b, db, false, ga),
                    (true, true) => matmul_acc(b, db, true, g, dg, true, ga),
                }
            }
            if want(1) {
                let gb = &mut lo[arg(1)];
                match (ta, tb) {
                    (false, false) => matmul_acc(a, da, true, g, dg, false, gb),
                    (true, false) => matmul_acc(a, da, false, g, dg, false, gb),
                    (false, true) => matmul_acc(g, dg, true, a, da, false, gb),
                    (true, true) => matmul_acc(g, dg, true, a, da, true, gb),
                }
            }
        }
        // gᵀ
        Op::Transpose => {
            let [r, c] = p.da;
            let d = &mut lo[arg(0)];
            for i in 0..r {
                for j in 0..c {
                    d[i * c + j] += g[j * r + i];
                }
            }
        }
        // reshape(shape x, g): same elements
        Op::Reshape(_) => {
            for (d, &gi) in lo[arg(0)].iter_mut().zip(g) {
                *d += gi;
            }
        }
        // stack(g) at slice i: g added into that slice
        Op::Index(i) => {
            let n = g.len();
            for (d, &gi) in lo[arg(0)][i * n..(i + 1) * n].iter_mut().zip(g) {
                *d += gi;
            }
        }
        // index(at[k], g) for argument k
        Op::Stack { len, at } => {
            let n = g.len() / len.max(&1);
            for (k, &j) in at.iter().enumerate() {
                if want(k) {
                    for (d, &gi) in lo[arg(k)].iter_mut().zip(&g[j * n..(j + 1) * n]) {
                        *d += gi;
                    }
                }
            }
        }
        // sum_to(shape x, g)
        Op::BroadcastTo(_) => {
            let d = &mut lo[arg(0)];
            for_each_bcast(&p.dims, &p.s0, &p.s1, |i, o, _| d[o] += g[i]);
        }
        // broadcast_to(shape x, g)
        Op::SumTo(_) => {
            let d = &mut lo[arg(0)];
            for_each_bcast(&p.dims, &p.s0, &p.s1, |i, o, _| d[i] += g[o]);
        }
        // broadcast_to(shape x, g)
        Op::Sum => {
            let g0 = g[0];
            for d in lo[arg(0)].iter_mut() {
                *d += g0;
            }
        }
        // broadcast_to(shape x, g)
        Op::Row(RowOp::SumLast) => {
            let last = p.last.max(1);
            for (drow, &gr) in lo[arg(0)].chunks_exact_mut(last).zip(g) {
                for d in drow {
                    *d += gr;
                }
            }
        }
        // g·softmax(x); softmax is recomputed with the row max subtracted (not as
        // exp(x − y), which loses the precision of y's magnitude in f32)
        Op::Row(RowOp::LogSumExp) => {
            let last = p.last.max(1);
            let rows = lo[arg(0)]
                .chunks_exact_mut(last)
                .zip(x(0).chunks_exact(last));
            for ((drow, xrow), &gr) in rows.zip(g) {
                let m = row_max(xrow);
                let mut s = T::ZERO;
                for &v in xrow {
                    s += (v - m).exp();
                }
                for (d, &xv) in drow.iter_mut().zip(xrow) {
                    *d += gr * ((xv - m).exp() / s);
                }
            }
        }
        // g·max_mask(x): all to the first maximum
        Op::Row(RowOp::MaxLast) => {
            let last = p.last.max(1);
            let rows = lo[arg(0)]
                .chunks_exact_mut(last)
                .zip(x(0).chunks_exact(last));
            for ((drow, xrow), &gr) in rows.zip(g) {
                drow[row_argmax(xrow)] += gr;
            }
        }
        // A mask passes nothing on.
        Op::Row(RowOp::MaxMask) => {}
        // slice_last(0, na, g) and slice_last(na, nb, g)
        Op::Concat => {
            let [na, nb] = p.da;
            let grows = g.chunks_exact((na + nb).max(1));
            if want(0) {
                for (d, gr) in lo[arg(0)].chunks_exact_mut(na).zip(grows.clone()) {
                    for (dv, &gv) in d.iter_mut().zip(&gr[..na]) {
                        *dv += gv;
                    }
                }
            }
            if want(1) {
                for (d, gr) in lo[arg(1)].chunks_exact_mut(nb).zip(grows) {
                    for (dv, &gv) in d.iter_mut().zip(&gr[na..]) {
                        *dv += gv;
                    }
                }
            }
        }
        // g placed at start..start + len of the last axis, zeros elsewhere
        Op::SliceLast { start, len } => {
            let last = p.last.max(1);
            let rows = lo[arg(0)].chunks_exact_mut(last);
            for (d, gr) in rows.zip(g.chunks_exact((*len).max(1))) {
                for (dv, &gv) in d[*start..start + len].iter_mut().zip(gr) {
                    *dv += gv;
                }
            }
        }
        // y·(g − sum_last(g·y))
        Op::Row(RowOp::Softmax) => {
            let last = p.last.max(1);
            let d = &mut lo[arg(0)];
            for ((drow, grow), yrow) in d
                .chunks_exact_mut(last)
                .zip(g.chunks_exact(last))
                .zip(y.chunks_exact(last))
            {
                let mut s = T::ZERO;
                for (&gv, &yv) in grow.iter().zip(yrow) {
                    s += gv * yv;
                }
                for ((dv, &gv), &yv) in drow.iter_mut().zip(grow).zip(yrow) {
                    *dv += yv * (gv - s);
                }
            }
        }
        // g − exp(y)·sum_last(g)
        Op::Row(RowOp::LogSoftmax) => {
            let last = p.last.max(1);
            let d = &mut lo[arg(0)];
            for ((drow, grow), yrow) in d
                .chunks_exact_mut(last)
                .zip(g.chunks_exact(last))
                .zip(y.chunks_exact(last))
            {
                let mut s = T::ZERO;
                for &gv in grow {
                    s += gv;
                }
                for ((dv, &gv), &yv) in drow.iter_mut().zip(grow).zip(yrow) {
                    *dv += gv - yv.exp() * s;
                }
            }
        }
    }
}

/// Runs a graph at run time with preallocated buffers; see the module docs.
#[derive(Clone, Debug)]
pub struct Interpreter<T: Float> {
    graph: Graph,
    plans: Vec<Plan>,
    /// Non-leaf nodes some root depends on, in topological order.
    order_all: Vec<usize>,
    /// Non-leaf nodes root 0 depends on, in topological order.
    order_loss: Vec<usize>,
    /// One buffer per node some root depends on (empty otherwise).
    vals: Vec<Vec<T>>,
    /// Which nodes need an adjoint: on a path from a parameter to root 0.
    needs: Vec<bool>,
    /// One adjoint buffer per node in `needs` (empty otherwise).
    adj: Vec<Vec<T>>,
}

impl<T: Float> Interpreter<T> {
    /// Plans buffers for `g` (any graph: forward or joint). Verifies `g` first.
    ///
    /// The graph's declared dtype is not enforced: a graph can be run in either
    /// element type (e.g. an `f32` network in `f64` for finite differences).
    /// A batch-generic graph must be instantiated first ([`Graph::instantiate`]).
    pub fn new(g: &Graph) -> Result<Self, IrError> {
        verify(g)?;
        if g.is_batch_generic() {
            return Err(IrError::new(
                "interpreter: the graph has a symbolic batch size B; run graph.instantiate(b) first",
            ));
        }
        let len = g.len();
        let live_all = g.live();
        let mut live_loss = vec![false; len];
        if let Some(r) = g.roots().first() {
            live_loss[r.node.index()] = true;
            for id in g.node_ids().rev() {
                if live_loss[id.index()] {
                    for a in g.args(id) {
                        live_loss[a.index()] = true;
                    }
                }
            }
        }
        // Reaches a parameter through ops that pass gradients (a mask or a
        // one-hot row does not).
        let mut reach = vec![false; len];
        for id in g.node_ids() {
            let n = g.node(id);
            reach[id.index()] = matches!(n.op, Op::Param(_))
                || (n.op.has_gradient() && n.args.iter().any(|a| reach[a.index()]));
        }
        let needs: Vec<bool> = (0..len).map(|i| reach[i] && live_loss[i]).collect();
        let mut plans = Vec::with_capacity(len);
        let mut vals = Vec::with_capacity(len);
        let mut adj = Vec::with_capacity(len);
        for id in g.node_ids() {
            let n = g.node(id);
            let i = id.index();
            plans.push(Plan::for_node(g, n));
            let numel = n.shape.numel();
            let mut buf = if live_all[i] {
                vec![T::ZERO; numel]
            } else {
                Vec::new()
            };
            if live_all[i] {
                if let Op::Const(c) = n.op {
                    buf.fill(T::from_f64(c.value()));
                } else if let Op::Count(c) = n.op {
                    buf.fill(T::from_f64(c as f64));
                }
            }
            vals.push(buf);
            adj.push(if needs[i] {
                vec![T::ZERO; numel]
            } else {
                Vec::new()
            });
        }
        let ops = |live: &[bool]| -> Vec<usize> {
            g.node_ids()
                .map(|id| id.index())
                .filter(|&i| live[i] && !g.node(crate::NodeId::from_index(i)).op.is_leaf())
                .collect()
        };
        Ok(Interpreter {
            graph: g.clone(),
            plans,
            order_all: ops(&live_all),
            order_loss: ops(&live_loss),
            vals,
            needs,
            adj,
        })
    }

    /// The graph being interpreted.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// Checks argument counts and lengths, then copies the leaves into their buffers.
    fn load(&mut self, inputs: &[&[T]], params: &[&[T]]) -> Result<(), IrError> {
        let g = &self.graph;
        for (kind, ids, given) in [
            ("input", g.inputs(), inputs),
            ("parameter", g.params(), params),
        ] {
            if ids.len() != given.len() {
                return Err(IrError::new(format!(
                    "interpreter: the graph has {} {kind}(s), got {}",
                    ids.len(),
                    given.len()
                )));
            }
            for (id, data) in ids.iter().zip(given) {
                let numel = g.shape(*id).numel();
                if data.len() != numel {
                    return Err(IrError::new(format!(
                        "interpreter: {kind} `{}` has shape {} ({numel} element(s)), got a slice of {}",
                        g.name(*id).unwrap_or("?"),
                        g.shape(*id),
                        data.len()
                    )));
                }
            }
        }
        for (ids, given) in [(g.inputs(), inputs), (g.params(), params)] {
            for (id, data) in ids.iter().zip(given) {
                let buf = &mut self.vals[id.index()];
                // Dead leaves have no buffer.
                if !buf.is_empty() {
                    buf.copy_from_slice(data);
                }
            }
        }
        Ok(())
    }

    fn run(&mut self, loss_only: bool) {
        let order = if loss_only {
            &self.order_loss
        } else {
            &self.order_all
        };
        for &i in order {
            let n = self.graph.node(crate::NodeId::from_index(i));
            eval_node(n, &self.plans[i], &mut self.vals, i);
        }
    }

    /// Evaluates the graph; returns the values of every root, in root order.
    pub fn forward(&mut self, inputs: &[&[T]], params: &[&[T]]) -> Result<Vec<&[T]>, IrError> {
        self.load(inputs, params)?;
        self.run(false);
        Ok(self
            .graph
            .roots()
            .iter()
            .map(|r| self.vals[r.node.index()].as_slice())
            .collect())
    }

    /// Runs root 0 (must be scalar) forward, recording the tape, then
    /// back-propagates with per-op vector-Jacobian products at run time; writes
    /// dLoss/dParam_i into `grads[i]` (overwriting) and returns the loss.
    pub fn forward_backward(
        &mut self,
        inputs: &[&[T]],
        params: &[&[T]],
        grads: &mut [&mut [T]],
    ) -> Result<T, IrError> {
        let root = match self.graph.roots().first() {
            Some(r) => r.node,
            None => {
                return Err(IrError::new(
                    "interpreter: forward_backward needs a root (the loss)",
                ))
            }
        };
        if !self.graph.shape(root).is_scalar() {
            return Err(IrError::new(format!(
                "interpreter: the loss (root 0) must be a scalar, its shape is {}",
                self.graph.shape(root)
            )));
        }
        let pids = self.graph.params();
        if grads.len() != pids.len() {
            return Err(IrError::new(format!(
                "interpreter: the graph has {} parameter(s), got {} gradient slice(s)",
                pids.len(),
                grads.len()
            )));
        }
        for (id, gr) in pids.iter().zip(grads.iter()) {
            if gr.len() != self.graph.shape(*id).numel() {
                return Err(IrError::new(format!(
                    "interpreter: gradient of `{}` needs {} element(s), got a slice of {}",
                    self.graph.name(*id).unwrap_or("?"),
                    self.graph.shape(*id).numel(),
                    gr.len()
                )));
            }
        }
        self.load(inputs, params)?;
        self.run(true);

        for (a, &need) in self.adj.iter_mut().zip(&self.needs) {
            if need {
                a.fill(T::ZERO);
            }
        }
        let r = root.index();
        if self.needs[r] {
            self.adj[r][0] = T::ONE;
        }
        for &i in self.order_loss.iter().rev() {
            if self.needs[i] {
                let n = self.graph.node(crate::NodeId::from_index(i));
                vjp_node(n, &self.plans[i], &self.vals, &mut self.adj, &self.needs, i);
            }
        }
        for (id, gr) in self.graph.params().iter().zip(grads.iter_mut()) {
            let i = id.index();
            if self.needs[i] {
                gr.copy_from_slice(&self.adj[i]);
            } else {
                gr.fill(T::ZERO);
            }
        }
        Ok(self.vals[r][0])
    }
}

/// Convenience: evaluates every root of `g` once.
pub fn evaluate<T: Float>(
    g: &Graph,
    inputs: &[&[T]],
    params: &[&[T]],
) -> Result<Vec<Vec<T>>, IrError> {
    let mut it = Interpreter::new(g)?;
    let roots = it.forward(inputs, params)?;
    Ok(roots.into_iter().map(|r| r.to_vec()).collect())
}

/// Convenience: one `forward_backward`; returns (loss, grads as Vecs in param order).
pub fn gradients<T: Float>(
    g: &Graph,
    inputs: &[&[T]],
    params: &[&[T]],
) -> Result<(T, Vec<Vec<T>>), IrError> {
    let mut it = Interpreter::new(g)?;
    let mut grads: Vec<Vec<T>> = g
        .params()
        .iter()
        .map(|p| vec![T::ZERO; g.shape(*p).numel()])
        .collect();
    let mut views: Vec<&mut [T]> = grads.iter_mut().map(|v| v.as_mut_slice()).collect();
    let loss = it.forward_backward(inputs, params, &mut views)?;
    Ok((loss, grads))
}
