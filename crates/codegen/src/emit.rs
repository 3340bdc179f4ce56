//! The emitter: one statement or loop block per live node, in id order.

use crate::expr::{self, E};
use crate::names::{self, Locals, Names};
use crate::rust_type;
use gradc_ir::{
    nominal, verify, verify_gradient_roots, DType, Extent, Graph, IrError, NodeId, Op, Shape,
};
use proc_macro2::{Ident, Literal, TokenStream};
use quote::quote;

/// In `forward`, buffers up to this many elements live on the stack; larger
/// ones in a `Vec`.
const MAX_STACK_ELEMS: usize = 4096;

/// In `forward_backward`, buffers up to this many elements live on the stack
/// (registers, for small networks); larger ones in the workspace, which a
/// buffer that is overwritten whole need not zero on every call.
const MAX_STACK_ELEMS_WS: usize = 256;

/// Matmuls with at least this many multiply-adds call the register-blocked
/// run-time kernel; smaller ones stay inline loops LLVM unrolls.
const MIN_GEMM_MACS: usize = 2048;

/// Loop variables (`None` for extent 1) and the shape they run over.
type Loop<'a> = (&'a [Option<Ident>], &'a Shape);

/// Tensor gradients with more elements than this are computed in place in
/// `grads` (see `forward_backward`).
const MIN_DIRECT_ELEMS: usize = 256;

/// How generated code refers to a node's value.
#[derive(Clone, Debug)]
enum Val {
    /// A scalar: a local, a leaf binding, or an inlined constant.
    Scalar(E),
    /// A flat row-major buffer indexable by `name[i]`: an owned array / `Vec`, or
    /// (`owned == false`) a `&[T]` borrowed from `params` / `inputs`.
    Tensor { name: Ident, owned: bool },
    /// An elementwise node with one use, by an elementwise node of its shape:
    /// never stored, its expression is built into the user's loop (fusion).
    /// Its tensor operands have its shape or one element.
    Fused,
}

fn err<T>(m: impl Into<String>) -> Result<T, IrError> {
    Err(IrError::new(format!("codegen: {}", m.into())))
}

/// An extent or element count as code: `64`, or `64 * B` when it depends on
/// the batch size (the const generic of a batch-generic network).
pub(crate) fn lit(n: usize) -> TokenStream {
    match Extent::of(n) {
        Extent::Fixed(n) => {
            let n = Literal::usize_unsuffixed(n);
            quote!(#n)
        }
        Extent::Batch(1) => quote!(B),
        Extent::Batch(c) => {
            let c = Literal::usize_unsuffixed(c);
            quote!(#c * B)
        }
    }
}

/// For a `c·B` buffer whose stack array of `cap` elements can hold it at
/// small batch sizes (`c <= cap`): the condition `c * B <= cap` under which it
/// does (see `Emitter::alloc_batch`). `None` for other buffers.
fn stack_fits(numel: usize, cap: usize) -> Option<TokenStream> {
    match Extent::of(numel) {
        Extent::Batch(c) if c <= cap => {
            let (n, cap) = (lit(numel), Literal::usize_unsuffixed(cap));
            Some(quote!(#n <= #cap))
        }
        _ => None,
    }
}

/// Whether a buffer of `numel` elements has a size that depends on `B`.
fn is_batch(numel: usize) -> bool {
    matches!(Extent::of(numel), Extent::Batch(_))
}

/// Which nodes the given roots depend on.
fn live_from(g: &Graph, roots: &[NodeId]) -> Vec<bool> {
    let mut live = vec![false; g.len()];
    for r in roots {
        live[r.index()] = true;
    }
    for id in g.node_ids().rev() {
        if live[id.index()] {
            for a in g.args(id) {
                live[a.index()] = true;
            }
        }
    }
    live
}

/// Elementwise ops (those [`Emitter::elementwise`] emits).
fn is_elementwise(op: &Op) -> bool {
    op.is_elementwise_unary() || op.is_elementwise_binary()
}

/// Which live nodes to fuse into their user's loop: a non-scalar elementwise
/// node (or a broadcast of one element) used exactly once (not a root), by an
/// elementwise node of the same shape, or by a reduction if its operands all
/// have its shape or one element. Chains of such nodes become one loop with no
/// buffers between.
fn fusable(g: &Graph, roots: &[NodeId], live: &[bool]) -> Vec<bool> {
    let mut uses = vec![0usize; g.len()];
    let mut user = vec![None; g.len()];
    for r in roots {
        uses[r.index()] += 2;
    }
    for id in g.node_ids() {
        if live[id.index()] {
            for a in g.args(id) {
                uses[a.index()] += 1;
                user[a.index()] = Some(id);
            }
        }
    }
    // `flat[id]`: a fused `id` reads every operand, down its fused chain, at
    // its own flat index or 0. Operands precede users, so one pass in id order.
    let mut fused = vec![false; g.len()];
    let mut flat = vec![true; g.len()];
    for id in g.node_ids() {
        let (op, s) = (g.op(id), g.shape(id));
        let kind = is_elementwise(op)
            || matches!(op, Op::BroadcastTo(_) if g.args(id).iter().all(|a| g.shape(*a).numel() == 1));
        let fl = g.args(id).iter().all(|a| {
            (g.shape(*a) == s || g.shape(*a).numel() == 1) && (!fused[a.index()] || flat[a.index()])
        });
        flat[id.index()] = fl;
        // A broadcast operand (a bias row) needs the user's per-dimension loop
        // variables: only an elementwise user of the same shape has them.
        fused[id.index()] = live[id.index()]
            && kind
            && !s.is_scalar()
            && uses[id.index()] == 1
            && user[id.index()].is_some_and(|u| match g.op(u) {
                // Reductions read their operand through `read` too (unless
                // they alias it).
                Op::Sum => fl,
                Op::SumTo(t) => fl && t != s,
                Op::SumLast => fl && s.last().unwrap_or(1) != 1,
                op => is_elementwise(op) && g.shape(u) == s,
            });
    }
    fused
}

/// Loop variables for the given extents: `None` for an extent of 1 (no loop, the
/// index is always 0), otherwise `i`, `j`, `k`, ... in nesting order.
fn loop_vars(dims: &[usize]) -> Vec<Option<Ident>> {
    let mut n = 0;
    dims.iter()
        .map(|&d| {
            (d != 1).then(|| {
                n += 1;
                names::loop_var(n - 1)
            })
        })
        .collect()
}

/// A constant-stride index expression `i * 6 + j * 2 + k`; `0` if no term is left.
fn index(terms: &[(&Option<Ident>, usize)]) -> TokenStream {
    let parts: Vec<TokenStream> = terms
        .iter()
        .filter_map(|(v, s)| match (v, s) {
            (None, _) | (_, 0) => None,
            (Some(v), 1) => Some(quote!(#v)),
            (Some(v), s) => {
                let s = lit(*s);
                Some(quote!(#v * #s))
            }
        })
        .collect();
    if parts.is_empty() {
        quote!(0)
    } else {
        quote!(#(#parts)+*)
    }
}

fn index_of(vars: &[Option<Ident>], strides: &[usize]) -> TokenStream {
    let terms: Vec<_> = vars.iter().zip(strides.iter().copied()).collect();
    index(&terms)
}

/// Wraps `body` in `for` loops (outermost first), skipping extent-1 dimensions.
fn nest(vars: &[Option<Ident>], dims: &[usize], body: TokenStream) -> TokenStream {
    vars.iter()
        .zip(dims)
        .rev()
        .fold(body, |inner, (v, &d)| match v {
            Some(v) => {
                let d = lit(d);
                quote!(for #v in 0..#d { #inner })
            }
            None => inner,
        })
}

/// An accumulation `for vars { y[..] += x[..] }` whose reduced axis `axis`
/// starts with an assignment instead of a zeroed buffer: the loops outside
/// `axis`, then `body(first = true)` over the inner loops with `axis` at 0, then
/// the rest of `axis` accumulating. No `0.0 +` in the chain (LLVM cannot drop
/// it: `0.0 + -0.0` is `0.0`) and no zeroing. Without a loop at `axis` (extent
/// 1) it is the assignment alone.
fn peel(
    vars: &[Option<Ident>],
    dims: &[usize],
    axis: usize,
    mut body: impl FnMut(&[Option<Ident>], bool) -> Result<TokenStream, IrError>,
) -> Result<TokenStream, IrError> {
    let (outer, inner) = (&vars[axis + 1..], &dims[axis + 1..]);
    let Some(v) = &vars[axis] else {
        return Ok(nest(vars, dims, body(vars, true)?));
    };
    let mut at0 = vars.to_vec();
    at0[axis] = None;
    let first = nest(outer, inner, body(&at0, true)?);
    let rest = nest(outer, inner, body(vars, false)?);
    let d = lit(dims[axis]);
    Ok(nest(
        &vars[..axis],
        &dims[..axis],
        quote!(#first for #v in 1..#d { #rest }),
    ))
}

/// `place.as_flattened_mut()` repeated so a rank-`rank` array becomes `&mut [T]`.
fn flatten_mut(place: TokenStream, rank: usize) -> TokenStream {
    (1..rank).fold(place, |p, _| quote!(#p.as_flattened_mut()))
}

struct Emitter<'g> {
    g: &'g Graph,
    dtype: DType,
    elem: TokenStream,
    live: Vec<bool>,
    vals: Vec<Option<Val>>,
    names: Names,
    stmts: Vec<TokenStream>,
    uses_params: bool,
    uses_inputs: bool,
    /// `Some` in `forward_backward`: large buffers become fields of a
    /// `Workspace` (name, element count) instead of heap allocations per call.
    workspace: Option<Vec<(Ident, usize)>>,
    /// The workspace argument's name (reserved so no local shadows it).
    ws: Ident,
    /// Nodes whose value is inlined into their one user's loop ([`Val::Fused`]).
    fused: Vec<bool>,
    /// Tensor gradients computed straight into `grads.<field>` (field, rank):
    /// roots of exactly one parameter, so no copy at the end.
    direct: Vec<Option<(Ident, usize)>>,
    /// Which nodes did get a `grads` field as their buffer.
    in_grads: Vec<bool>,
    /// `softmax_of[x]`: a live `softmax x`, which a `logsumexp x` emitted before
    /// it computes in the same row pass (one `exp` per element, not two).
    softmax_of: Vec<Option<NodeId>>,
    /// The node being emitted.
    cur: usize,
    /// `last_use[x]`: the last node whose emitted code reads `x` (a fused user
    /// reads at its consumer's position); `usize::MAX` for roots.
    last_use: Vec<usize>,
    /// Per workspace field: the last node that reads the value it holds. A field
    /// whose value is dead is handed to the next buffer of its size (liveness
    /// reuse); Rust's borrow checker rejects the code if a reused field were
    /// read after its new owner took it.
    busy: Vec<usize>,
    /// The workspace field behind a buffer's local name.
    field_of: std::collections::BTreeMap<String, usize>,
}

/// [`Emitter::last_use`] for the live nodes of `g`.
fn last_uses(g: &Graph, roots: &[NodeId], live: &[bool], fused: &[bool]) -> Vec<usize> {
    let mut consumer = vec![None; g.len()];
    for id in g.node_ids().filter(|id| live[id.index()]) {
        for a in g.args(id) {
            consumer[a.index()] = Some(id.index());
        }
    }
    // Where a node's value is read: a fused node is read inside its one
    // consumer's loop, transitively.
    let mut at: Vec<usize> = (0..g.len()).collect();
    for i in (0..g.len()).rev() {
        if fused[i] {
            if let Some(c) = consumer[i] {
                at[i] = at[c];
            }
        }
    }
    let mut last = vec![0usize; g.len()];
    for id in g.node_ids().filter(|id| live[id.index()]) {
        for a in g.args(id) {
            let l = &mut last[a.index()];
            *l = (*l).max(at[id.index()]);
        }
    }
    for r in roots {
        last[r.index()] = usize::MAX;
    }
    last
}

impl<'g> Emitter<'g> {
    /// Names the live leaves first (so they keep their source names), then emits
    /// every live node in id order. The caller has verified `g`.
    fn run(g: &'g Graph, roots: &[NodeId], workspace: bool) -> Result<Self, IrError> {
        Self::run_with(g, roots, workspace, vec![None; g.len()])
    }

    /// [`Self::run`] with some nodes' buffers being `grads` fields.
    fn run_with(
        g: &'g Graph,
        roots: &[NodeId],
        workspace: bool,
        direct: Vec<Option<(Ident, usize)>>,
    ) -> Result<Self, IrError> {
        let mut em = Emitter {
            g,
            dtype: g.dtype(),
            elem: expr::elem(g.dtype()),
            live: live_from(g, roots),
            vals: vec![None; g.len()],
            names: Names::new(),
            stmts: Vec::new(),
            uses_params: false,
            uses_inputs: false,
            workspace: workspace.then(Vec::new),
            ws: Ident::new("ws", proc_macro2::Span::call_site()),
            fused: Vec::new(),
            direct,
            in_grads: vec![false; g.len()],
            softmax_of: vec![None; g.len()],
            cur: 0,
            last_use: Vec::new(),
            busy: Vec::new(),
            field_of: Default::default(),
        };
        em.fused = fusable(g, roots, &em.live);
        em.last_use = last_uses(g, roots, &em.live, &em.fused);
        for id in g.node_ids() {
            if em.live[id.index()] && matches!(g.op(id), Op::Softmax) {
                let x = g.args(id)[0];
                em.softmax_of[x.index()].get_or_insert(id);
            }
        }
        if workspace {
            em.ws = em.names.take("ws");
        }
        if g.is_batch_generic() {
            // The const generic: no local may shadow it.
            em.names.take("B");
        }
        let mut leaf_names = vec![None; g.len()];
        for id in g.node_ids() {
            if em.live[id.index()] && matches!(g.op(id), Op::Input(_) | Op::Param(_)) {
                let field = em.field(id)?;
                leaf_names[id.index()] = Some((
                    field.clone(),
                    em.names.fresh(Some(&field.to_string()), id.index()),
                ));
            }
        }
        for id in g.node_ids() {
            if em.live[id.index()] {
                em.cur = id.index();
                em.node(id, leaf_names[id.index()].take())?;
            }
        }
        Ok(em)
    }

    /// The struct field a leaf is read from / its gradient written to.
    fn field(&self, id: NodeId) -> Result<Ident, IrError> {
        match self.g.name(id) {
            Some(n) if names::is_plain_ident(n) => {
                Ok(Ident::new(n, proc_macro2::Span::call_site()))
            }
            Some(n) => err(format!(
                "argument name `{n}` of node {id} is not a plain identifier"
            )),
            None => err(format!("argument node {id} has no name")),
        }
    }

    fn shape(&self, id: NodeId) -> &'g Shape {
        self.g.shape(id)
    }

    fn val(&self, id: NodeId) -> Result<&Val, IrError> {
        match &self.vals[id.index()] {
            Some(v) => Ok(v),
            None => err(format!("node {id} used before it was emitted")),
        }
    }

    fn tensor(&self, id: NodeId) -> Result<Ident, IrError> {
        match self.val(id)? {
            Val::Tensor { name, .. } => Ok(name.clone()),
            Val::Scalar(_) => err(format!("node {id} is a scalar where a tensor was expected")),
            Val::Fused => err(format!("fused node {id} read as a buffer")),
        }
    }

    /// The value of `id` at flat index `ix` (a scalar ignores the index).
    fn read(&self, id: NodeId, ix: &TokenStream) -> Result<E, IrError> {
        self.read_in(id, ix, None)
    }

    /// [`Self::read`] inside a loop over the dimensions of `loop_shape` with
    /// variables `vars`, which a fused node's broadcast operands index by.
    fn read_in(&self, id: NodeId, ix: &TokenStream, lp: Option<Loop<'_>>) -> Result<E, IrError> {
        Ok(match self.val(id)? {
            Val::Scalar(e) => e.clone(),
            Val::Tensor { name, .. } => E::atom(quote!(#name[#ix])),
            Val::Fused => self.read_fused(id, ix, lp)?,
        })
    }

    /// Whether reading fused `id` needs per-dimension loop variables (some
    /// operand down the fused chain broadcasts).
    fn needs_dims(&self, id: NodeId) -> bool {
        if !matches!(self.vals[id.index()], Some(Val::Fused)) {
            return false;
        }
        let s = self.shape(id);
        self.g.args(id).iter().any(|a| {
            let sa = self.shape(*a);
            (sa != s && sa.numel() != 1 && matches!(self.vals[a.index()], Some(Val::Tensor { .. })))
                || self.needs_dims(*a)
        })
    }

    /// A fused node's expression at flat index `ix`: its operands are read at
    /// `ix` (same shape) or 0 (one element). An op that repeats an operand
    /// (`relu`, `max`) binds fused operands once in a block, so chains do not
    /// grow exponentially.
    fn read_fused(&self, id: NodeId, ix: &TokenStream, lp: Option<Loop<'_>>) -> Result<E, IrError> {
        let g = self.g;
        let out = self.shape(id);
        let mut ops = Vec::new();
        let mut inner = false;
        for a in g.args(id) {
            let sa = self.shape(*a);
            let aix = if sa == out {
                ix.clone()
            } else if sa.numel() == 1 {
                quote!(0)
            } else {
                match lp {
                    Some((vars, ls)) if ls == out => index_of(vars, &sa.broadcast_strides(out)),
                    _ => {
                        return err(format!(
                            "fused node {id} broadcasts outside a loop over its shape"
                        ))
                    }
                }
            };
            inner |= matches!(self.val(*a)?, Val::Fused);
            ops.push(self.read_in(*a, &aix, lp)?);
        }
        let op = g.op(id);
        if let Op::BroadcastTo(_) = op {
            return match ops.first() {
                Some(e) => Ok(e.clone()),
                None => err(format!("broadcast node {id} has no operand")),
            };
        }
        self.apply_once(op, &ops, inner)
    }

    /// [`Self::apply`], but an op that repeats an operand (`relu`, `max`) binds
    /// its operands once in a block when some are fused expressions (`inner`),
    /// so chains neither recompute nor grow exponentially.
    fn apply_once(&self, op: &Op, ops: &[E], inner: bool) -> Result<E, IrError> {
        if inner && matches!(op, Op::Relu | Op::Max) {
            let vars: Vec<Ident> = ["p", "q"]
                .iter()
                .take(ops.len())
                .map(|v| Ident::new(v, proc_macro2::Span::call_site()))
                .collect();
            let es: Vec<&TokenStream> = ops.iter().map(|e| &e.ts).collect();
            let bound: Vec<E> = vars.iter().map(|v| E::atom(quote!(#v))).collect();
            let body = self.apply(op, &bound)?.ts;
            return Ok(E::atom(if vars.len() == 1 {
                quote!({ let p = #(#es)*; #body })
            } else {
                quote!({ let (#(#vars),*) = (#(#es),*); #body })
            }));
        }
        self.apply(op, ops)
    }

    /// `&[T]`-coercible reference to a tensor's buffer.
    fn slice_ref(&self, id: NodeId) -> Result<TokenStream, IrError> {
        match self.val(id)? {
            Val::Tensor { name, owned: true } => Ok(quote!(&#name)),
            Val::Tensor { name, owned: false } => Ok(quote!(#name)),
            Val::Scalar(_) => err(format!("node {id} is a scalar where a tensor was expected")),
            Val::Fused => err(format!("fused node {id} read as a buffer")),
        }
    }

    fn zero(&self) -> E {
        match self.dtype {
            DType::F32 => E::atom(quote!(0.0f32)),
            DType::F64 => E::atom(quote!(0.0f64)),
        }
    }

    fn one(&self) -> E {
        match self.dtype {
            DType::F32 => E::atom(quote!(1.0f32)),
            DType::F64 => E::atom(quote!(1.0f64)),
        }
    }

    fn local(&mut self, id: NodeId) -> Ident {
        self.names.fresh(self.g.name(id), id.index())
    }

    fn alias(&mut self, id: NodeId, of: NodeId) -> Result<(), IrError> {
        let v = self.val(of)?.clone();
        if let Val::Tensor { name, .. } = &v {
            // The field now also holds `id`'s value.
            if let Some(&f) = self.field_of.get(&name.to_string()) {
                self.busy[f] = self.busy[f].max(self.last_use[id.index()]);
            }
        }
        self.vals[id.index()] = Some(v);
        Ok(())
    }

    /// `let y: T = e;`
    fn new_scalar(&mut self, id: NodeId, e: E) {
        let y = self.local(id);
        let (t, ts) = (&self.elem, &e.ts);
        self.stmts.push(quote!(let #y: #t = #ts;));
        self.vals[id.index()] = Some(Val::Scalar(E::atom(quote!(#y))));
    }

    /// The one place tensor scratch is declared: a zeroed stack array; when
    /// large, a workspace field (zeroed only if `overwrites` is false, since it
    /// holds the previous call's values) or, in `forward`, a `Vec`.
    fn new_buffer(&mut self, id: NodeId) -> Ident {
        self.new_buffer_for(id, false)
    }

    fn new_buffer_for(&mut self, id: NodeId, overwrites: bool) -> Ident {
        let y = self.local(id);
        let numel = self.shape(id).numel();
        if let Some((field, rank)) = self.direct[id.index()].clone() {
            let (t, z) = (self.elem.clone(), self.zero().ts);
            let place = flatten_mut(quote!(grads.#field), rank);
            let place = if rank == 1 {
                quote!(&mut #place[..])
            } else {
                place
            };
            self.stmts.push(if overwrites {
                quote!(let #y: &mut [#t] = #place;)
            } else {
                quote!(let #y: &mut [#t] = #place; #y.fill(#z);)
            });
            self.in_grads[id.index()] = true;
            self.vals[id.index()] = Some(Val::Tensor {
                name: y.clone(),
                owned: false,
            });
            return y;
        }
        let owned = self.alloc(&y, numel, overwrites, id);
        self.vals[id.index()] = Some(Val::Tensor {
            name: y.clone(),
            owned,
        });
        y
    }

    /// Declares buffer `y` of `numel` elements: a zeroed stack array when small,
    /// else a workspace field (zeroed only if `overwrites` is false: it holds the
    /// previous call's values) or, in `forward`, a `Vec`. Returns whether `y` is
    /// an owned array (`false`: already a `&mut [T; N]`).
    fn alloc(&mut self, y: &Ident, numel: usize, overwrites: bool, owner: NodeId) -> bool {
        let n = lit(numel);
        let z = self.zero().ts;
        let stack_max = if self.workspace.is_some() {
            MAX_STACK_ELEMS_WS
        } else {
            MAX_STACK_ELEMS
        };
        if is_batch(numel) {
            self.alloc_batch(y, numel, overwrites, owner, stack_max);
            return false;
        }
        if numel <= stack_max {
            self.stmts.push(quote!(let mut #y = [#z; #n];));
            return true;
        }
        let Some(field) = self.ws_field(y, numel, owner) else {
            self.stmts.push(quote!(let mut #y = vec![#z; #n];));
            return true;
        };
        let w = &self.ws;
        self.stmts.push(if overwrites {
            quote!(let #y = &mut *#w.#field;)
        } else {
            quote!(let #y = &mut *#w.#field; #y.fill(#z);)
        });
        false
    }

    /// A buffer of `c·B` elements, as `y: &mut [T]`. Its size is known only when
    /// the caller picks `B`, so the choice is made then, by a branch on
    /// constants that LLVM folds: up to `cap` elements in a fixed stack array
    /// (registers for small batches), more in the workspace or, in `forward`, a
    /// `Vec`. A large batch never lands on the stack.
    fn alloc_batch(
        &mut self,
        y: &Ident,
        numel: usize,
        overwrites: bool,
        owner: NodeId,
        cap: usize,
    ) {
        let (n, z, t) = (lit(numel), self.zero().ts, self.elem.clone());
        let field = self.ws_field(y, numel, owner);
        let w = &self.ws;
        let fits = stack_fits(numel, cap);
        let stack = self.names.take(&format!("{y}_stack"));
        let capl = Literal::usize_unsuffixed(cap);
        let code = match (field, fits) {
            (Some(field), Some(fits)) => quote! {
                let mut #stack = [#z; #capl];
                let #y: &mut [#t] = if #fits { &mut #stack[..#n] } else { &mut #w.#field[..#n] };
            },
            (Some(field), None) => quote!(let #y = &mut #w.#field[..#n];),
            (None, Some(fits)) => {
                let heap = self.names.take(&format!("{y}_heap"));
                quote! {
                    let mut #stack = [#z; #capl];
                    let mut #heap = ::std::vec::Vec::new();
                    let #y: &mut [#t] = if #fits {
                        &mut #stack[..#n]
                    } else {
                        #heap.resize(#n, #z);
                        &mut #heap[..]
                    };
                }
            }
            (None, None) => quote!(let #y = &mut ::std::vec![#z; #n][..];),
        };
        self.stmts.push(code);
        if !overwrites {
            // The workspace holds an earlier value.
            self.stmts.push(quote!(#y.fill(#z);));
        }
    }

    /// In `forward_backward`, the workspace field for a buffer of `numel`
    /// elements owned by `owner`: a field of that size whose value no later
    /// node reads, else a new one. `None` without a workspace.
    fn ws_field(&mut self, y: &Ident, numel: usize, owner: NodeId) -> Option<Ident> {
        let ws = self.workspace.as_mut()?;
        let (cur, until) = (self.cur, self.last_use[owner.index()]);
        let free = (0..ws.len()).find(|&f| ws[f].1 == numel && self.busy[f] < cur);
        let f = match free {
            Some(f) => f,
            None => {
                // Neutral names: a field serves several values in turn.
                let name = Ident::new(&format!("buf{}", ws.len()), proc_macro2::Span::call_site());
                ws.push((name, numel));
                self.busy.push(0);
                ws.len() - 1
            }
        };
        self.busy[f] = until;
        self.field_of.insert(y.to_string(), f);
        Some(ws[f].0.clone())
    }

    fn node(&mut self, id: NodeId, leaf: Option<(Ident, Ident)>) -> Result<(), IrError> {
        let g = self.g;
        let args = g.args(id);
        match g.op(id) {
            Op::Input(_) | Op::Param(_) => {
                let Some((field, name)) = leaf else {
                    return err(format!("leaf {id} was not named"));
                };
                let src = if matches!(g.op(id), Op::Param(_)) {
                    self.uses_params = true;
                    quote!(params)
                } else {
                    self.uses_inputs = true;
                    quote!(inputs)
                };
                let (t, rank) = (&self.elem, self.shape(id).rank());
                if rank == 0 {
                    self.stmts.push(quote!(let #name: #t = #src.#field;));
                    self.vals[id.index()] = Some(Val::Scalar(E::atom(quote!(#name))));
                } else {
                    let view = if rank == 1 {
                        quote!(&#src.#field[..])
                    } else {
                        (1..rank).fold(quote!(#src.#field), |p, _| quote!(#p.as_flattened()))
                    };
                    self.stmts.push(quote!(let #name: &[#t] = #view;));
                    self.vals[id.index()] = Some(Val::Tensor { name, owned: false });
                }
            }
            Op::Const(c) => {
                self.vals[id.index()] = Some(Val::Scalar(expr::float(c.value(), self.dtype)?));
            }
            Op::Count(n) => {
                let e = match Extent::of(*n) {
                    Extent::Fixed(n) => expr::float(n as f64, self.dtype)?,
                    Extent::Batch(1) => {
                        let t = &self.elem;
                        E::atom(quote!((B as #t)))
                    }
                    Extent::Batch(_) => {
                        let (n, t) = (lit(*n), &self.elem);
                        E::atom(quote!(((#n) as #t)))
                    }
                };
                self.vals[id.index()] = Some(Val::Scalar(e));
            }
            op @ (Op::Neg
            | Op::Relu
            | Op::Sigmoid
            | Op::Tanh
            | Op::Exp
            | Op::Ln
            | Op::Softplus
            | Op::Sqrt
            | Op::Powi(_)
            | Op::Add
            | Op::Sub
            | Op::Mul
            | Op::Div
            | Op::Max
            | Op::Gt) => {
                if self.fused[id.index()] {
                    self.vals[id.index()] = Some(Val::Fused);
                } else {
                    let op = op.clone();
                    let inner = args.iter().any(|a| self.fused[a.index()]);
                    self.elementwise(id, |em, v| em.apply_once(&op, v, inner))?;
                }
            }
            Op::OneHot(c) => self.one_hot(id, args[0], *c)?,
            Op::MatMul { ta, tb } => self.matmul(id, args[0], args[1], *ta, *tb)?,
            Op::Transpose => self.transpose(id, args[0])?,
            Op::Reshape(_) => {
                let x = args[0];
                match (self.shape(x).is_scalar(), self.shape(id).is_scalar()) {
                    // Same elements in the same order: the buffer is reused as is.
                    (true, true) | (false, false) => self.alias(id, x)?,
                    (false, true) => {
                        let e = self.read(x, &quote!(0))?;
                        self.new_scalar(id, e);
                    }
                    (true, false) => {
                        let e = self.read(x, &quote!(0))?.ts;
                        let y = self.new_buffer(id);
                        self.stmts.push(quote!(#y[0] = #e;));
                    }
                }
            }
            Op::BroadcastTo(s) => {
                if s == self.shape(args[0]) {
                    self.alias(id, args[0])?;
                } else if self.fused[id.index()] {
                    self.vals[id.index()] = Some(Val::Fused);
                } else {
                    self.elementwise(id, |_, v| Ok(v[0].clone()))?;
                }
            }
            Op::SumTo(s) => {
                let x = args[0];
                if s == self.shape(x) {
                    self.alias(id, x)?;
                } else if s.is_scalar() {
                    self.sum_all(id, x)?;
                } else {
                    self.sum_to(id, x)?;
                }
            }
            Op::Sum => {
                if self.shape(args[0]).is_scalar() {
                    self.alias(id, args[0])?;
                } else {
                    self.sum_all(id, args[0])?;
                }
            }
            Op::SumLast => self.sum_last(id, args[0])?,
            // Already computed by the `logsumexp` of its operand.
            Op::Softmax if self.vals[id.index()].is_some() => {}
            op @ (Op::LogSumExp | Op::Softmax | Op::LogSoftmax) => {
                let op = op.clone();
                self.rowwise(id, args[0], &op)?;
            }
        }
        Ok(())
    }

    /// The scalar expression of an elementwise op applied to operand expressions.
    fn apply(&self, op: &Op, v: &[E]) -> Result<E, IrError> {
        let sigmoid = quote!(::gradc::__private::sigmoid);
        let softplus = quote!(::gradc::__private::softplus);
        let arg = |i: usize| -> Result<&E, IrError> {
            match v.get(i) {
                Some(e) => Ok(e),
                None => err(format!("`{}` is missing operand {i}", op.name())),
            }
        };
        Ok(match op {
            Op::Neg => expr::neg(arg(0)?),
            Op::Relu => {
                let x = arg(0)?;
                expr::if_else(&expr::gt(x, &self.zero()), x, &self.zero())
            }
            Op::Sigmoid => expr::call(sigmoid, arg(0)?),
            Op::Softplus => expr::call(softplus, arg(0)?),
            Op::Tanh => expr::method(arg(0)?, quote!(tanh), quote!()),
            Op::Exp => expr::method(arg(0)?, quote!(exp), quote!()),
            Op::Ln => expr::method(arg(0)?, quote!(ln), quote!()),
            Op::Sqrt => expr::method(arg(0)?, quote!(sqrt), quote!()),
            Op::Powi(n) => expr::method(arg(0)?, quote!(powi), expr::int(i64::from(*n))),
            Op::Add => expr::add(arg(0)?, arg(1)?),
            Op::Sub => expr::sub(arg(0)?, arg(1)?),
            Op::Mul => expr::mul(arg(0)?, arg(1)?),
            Op::Div => expr::div(arg(0)?, arg(1)?),
            Op::Max => {
                let (a, b) = (arg(0)?, arg(1)?);
                expr::if_else(&expr::ge(a, b), a, b)
            }
            Op::Gt => expr::if_else(&expr::gt(arg(0)?, arg(1)?), &self.one(), &self.zero()),
            Op::Input(_)
            | Op::Param(_)
            | Op::Const(_)
            | Op::Count(_)
            | Op::OneHot(_)
            | Op::MatMul { .. }
            | Op::Transpose
            | Op::Reshape(_)
            | Op::BroadcastTo(_)
            | Op::SumTo(_)
            | Op::Sum
            | Op::SumLast
            | Op::LogSumExp
            | Op::Softmax
            | Op::LogSoftmax => return err(format!("`{}` is not elementwise", op.name())),
        })
    }

    /// An elementwise node: `f` maps the operands' expressions at one output
    /// index to the result. Broadcasting is resolved here into constant strides:
    /// same-shape operands share one flat loop, scalars are read once, anything
    /// else gets a loop per output dimension.
    fn elementwise(
        &mut self,
        id: NodeId,
        f: impl Fn(&Self, &[E]) -> Result<E, IrError>,
    ) -> Result<(), IrError> {
        let args = self.g.args(id);
        let out = self.shape(id);
        if out.is_scalar() {
            let ops = args
                .iter()
                .map(|a| self.read(*a, &quote!(0)))
                .collect::<Result<Vec<_>, _>>()?;
            let e = f(self, &ops)?;
            self.new_scalar(id, e);
            return Ok(());
        }
        let mut general = false;
        for a in args {
            // A one-element operand is read at index 0 whatever the loop shape.
            let s = self.shape(*a);
            if matches!(self.val(*a)?, Val::Tensor { .. }) && s != out && s.numel() != 1 {
                general = true;
            }
            general |= self.needs_dims(*a);
        }
        let (dims, strides) = if general {
            (out.dims().to_vec(), out.strides())
        } else {
            (vec![out.numel()], vec![1])
        };
        let vars = loop_vars(&dims);
        let oi = index_of(&vars, &strides);
        // In place: the result overwrites a workspace buffer this loop reads
        // only at the result's own index and nothing reads afterwards.
        let in_place = self.in_place_buffer(id);
        if let Some((old, f)) = &in_place {
            let y = self.local(id);
            self.stmts.push(quote!(let #y = #old;));
            for v in self.vals.iter_mut().flatten() {
                if let Val::Tensor { name, .. } = v {
                    if name == old {
                        *name = y.clone();
                    }
                }
            }
            self.field_of.insert(y.to_string(), *f);
            self.busy[*f] = self.last_use[id.index()];
            self.vals[id.index()] = Some(Val::Tensor {
                name: y,
                owned: false,
            });
        }
        let mut ops = Vec::with_capacity(args.len());
        for a in args {
            let ix = if self.shape(*a) == out {
                oi.clone()
            } else if self.shape(*a).numel() == 1 {
                quote!(0)
            } else {
                index_of(&vars, &self.shape(*a).broadcast_strides(out))
            };
            let lp = general.then_some((&vars[..], out));
            ops.push(self.read_in(*a, &ix, lp)?);
        }
        let e = f(self, &ops)?.ts;
        let y = match in_place {
            Some(_) => self.tensor(id)?,
            None => self.new_buffer_for(id, true),
        };
        self.stmts.push(nest(&vars, &dims, quote!(#y[#oi] = #e;)));
        Ok(())
    }

    /// For elementwise `id` in `forward_backward`: a workspace buffer (its
    /// local name and field) that the loop of `id` reads only at the result's
    /// own flat index (directly or down fused chains) and that no later node
    /// reads, so the result can overwrite it element by element.
    fn in_place_buffer(&self, id: NodeId) -> Option<(Ident, usize)> {
        if self.workspace.is_none() || self.direct[id.index()].is_some() {
            return None;
        }
        // Every buffer the loop reads, and whether at the result's index.
        fn reads(em: &Emitter<'_>, id: NodeId, out: &Shape, acc: &mut Vec<(Ident, bool)>) {
            for a in em.g.args(id) {
                match &em.vals[a.index()] {
                    Some(Val::Tensor { name, .. }) => acc.push((name.clone(), em.shape(*a) == out)),
                    Some(Val::Fused) => reads(em, *a, out, acc),
                    _ => {}
                }
            }
        }
        let out = self.shape(id);
        let mut acc = Vec::new();
        reads(self, id, out, &mut acc);
        acc.iter().find_map(|(name, same)| {
            let f = *self.field_of.get(&name.to_string())?;
            let only_here = acc.iter().all(|(n, s)| n != name || *s);
            (*same && only_here && self.busy[f] <= self.cur).then(|| (name.clone(), f))
        })
    }

    /// `op(a) · op(b)` in i-k-j order, reading transposed operands in place.
    fn matmul(
        &mut self,
        id: NodeId,
        a: NodeId,
        b: NodeId,
        ta: bool,
        tb: bool,
    ) -> Result<(), IrError> {
        let (m, n) = match self.shape(id).dims() {
            [m, n] => (*m, *n),
            _ => return err(format!("matmul node {id} is not 2-D")),
        };
        let k = match (self.shape(a).dims(), ta) {
            ([_, k], false) | ([k, _], true) => *k,
            _ => return err(format!("matmul node {id}: left operand is not 2-D")),
        };
        let (an, bn) = (self.tensor(a)?, self.tensor(b)?);
        if nominal(m) * nominal(n) * nominal(k) >= MIN_GEMM_MACS {
            return self.gemm(id, (m, n, k), (&an, ta), (&bn, tb));
        }
        let var = |d: usize, name: &str| {
            (d != 1).then(|| Ident::new(name, proc_macro2::Span::call_site()))
        };
        let vars = [var(m, "i"), var(k, "k"), var(n, "j")];
        let (mn, nn, kn) = (m, n, k);
        let y = self.new_buffer_for(id, true);
        let body = |vs: &[Option<Ident>], first: bool| {
            let (vi, vk, vj) = (&vs[0], &vs[1], &vs[2]);
            let ai = if ta {
                index(&[(vk, mn), (vi, 1)])
            } else {
                index(&[(vi, kn), (vk, 1)])
            };
            let bi = if tb {
                index(&[(vj, kn), (vk, 1)])
            } else {
                index(&[(vk, nn), (vj, 1)])
            };
            let oi = index(&[(vi, nn), (vj, 1)]);
            Ok(if first {
                quote!(#y[#oi] = #an[#ai] * #bn[#bi];)
            } else {
                quote!(#y[#oi] += #an[#ai] * #bn[#bi];)
            })
        };
        let code = peel(&vars, &[m, k, n], 1, body)?;
        self.stmts.push(code);
        Ok(())
    }

    /// A large matmul through `rt::gemm_strided`: a transposed operand is the
    /// same buffer read through swapped strides (the kernel packs its panels
    /// anyway), so nothing is copied.
    fn gemm(
        &mut self,
        id: NodeId,
        (m, n, k): (usize, usize, usize),
        (an, ta): (&Ident, bool),
        (bn, tb): (&Ident, bool),
    ) -> Result<(), IrError> {
        let rt = quote!(::gradc::__private::rt);
        // A is m×k: stored [m, k], or [k, m] when transposed.
        let (ars, acs) = if ta {
            (lit(1), lit(m))
        } else {
            (lit(k), lit(1))
        };
        // B is k×n: stored [k, n], or [n, k] when transposed.
        let (brs, bcs) = if tb {
            (lit(1), lit(k))
        } else {
            (lit(n), lit(1))
        };
        let (lm, ln, lk) = (lit(m), lit(n), lit(k));
        let y = self.new_buffer_for(id, true);
        self.stmts.push(quote! {
            #rt::gemm_strided(
                #lm, #ln, #lk,
                #rt::Strided { data: &#an[..], rs: #ars, cs: #acs },
                #rt::Strided { data: &#bn[..], rs: #brs, cs: #bcs },
                &mut #y[..],
                false,
            );
        });
        Ok(())
    }

    /// `y[i * c + j] = if x[i] == j { 1 } else { 0 }`: exact equality, so a
    /// label that is no class index gives a zero row (as in the interpreter).
    fn one_hot(&mut self, id: NodeId, x: NodeId, c: usize) -> Result<(), IrError> {
        let n = self.shape(x).numel();
        let vars = loop_vars(&[n, c]);
        let xe = self.read(x, &index_of(&vars[..1], &[1]))?;
        let class = match &vars[1] {
            Some(j) => {
                let t = &self.elem;
                E::atom(quote!((#j as #t)))
            }
            None => self.zero(),
        };
        let hit = expr::if_else(&expr::eq(&xe, &class), &self.one(), &self.zero()).ts;
        let oi = index_of(&vars, &[c, 1]);
        let y = self.new_buffer_for(id, true);
        self.stmts
            .push(nest(&vars, &[n, c], quote!(#y[#oi] = #hit;)));
        Ok(())
    }

    fn transpose(&mut self, id: NodeId, x: NodeId) -> Result<(), IrError> {
        let (r, c) = match self.shape(x).dims() {
            [r, c] => (*r, *c),
            _ => return err(format!("transpose node {id} is not 2-D")),
        };
        let xn = self.tensor(x)?;
        let vars = loop_vars(&[c, r]);
        let oi = index_of(&vars, &[r, 1]);
        let xi = index_of(&vars, &[1, c]);
        let y = self.new_buffer_for(id, true);
        self.stmts
            .push(nest(&vars, &[c, r], quote!(#y[#oi] = #xn[#xi];)));
        Ok(())
    }

    /// Sum of every element into a scalar local.
    fn sum_all(&mut self, id: NodeId, x: NodeId) -> Result<(), IrError> {
        let numel = self.shape(x).numel();
        if numel == 1 {
            let e = self.read(x, &quote!(0))?;
            self.new_scalar(id, e);
            return Ok(());
        }
        // Starts from the first element: no `0.0 +` (see `peel`).
        let x0 = self.read(x, &quote!(0))?.ts;
        let i = names::loop_var(0);
        let xe = self.read(x, &quote!(#i))?.ts;
        let y = self.local(id);
        let (t, n) = (&self.elem, lit(numel));
        self.stmts.push(quote!(let mut #y: #t = #x0;));
        self.stmts.push(quote!(for #i in 1..#n { #y += #xe; }));
        self.vals[id.index()] = Some(Val::Scalar(E::atom(quote!(#y))));
        Ok(())
    }

    /// Sum over the axes that broadcasting the result's shape to the operand's adds.
    fn sum_to(&mut self, id: NodeId, x: NodeId) -> Result<(), IrError> {
        let (xs, s) = (self.shape(x), self.shape(id));
        let vars = loop_vars(xs.dims());
        let (xst, yst) = (xs.strides(), s.broadcast_strides(xs));
        // One reduced axis, outermost of the loops (a bias gradient's batch
        // axis): it starts with an assignment (see `peel`).
        let looped: Vec<usize> = (0..vars.len()).filter(|&d| vars[d].is_some()).collect();
        let reduced: Vec<usize> = looped.iter().copied().filter(|&d| yst[d] == 0).collect();
        if let ([axis], Some(&outer)) = (&reduced[..], looped.first()) {
            if *axis == outer {
                let y = self.new_buffer_for(id, true);
                let code = peel(&vars, xs.dims(), *axis, |vs, first| {
                    let xe = self.read(x, &index_of(vs, &xst))?.ts;
                    let yi = index_of(vs, &yst);
                    Ok(if first {
                        quote!(#y[#yi] = #xe;)
                    } else {
                        quote!(#y[#yi] += #xe;)
                    })
                })?;
                self.stmts.push(code);
                return Ok(());
            }
        }
        let xi = index_of(&vars, &xst);
        let xe = self.read(x, &xi)?.ts;
        let yi = index_of(&vars, &yst);
        let y = self.new_buffer(id);
        self.stmts
            .push(nest(&vars, xs.dims(), quote!(#y[#yi] += #xe;)));
        Ok(())
    }

    /// Rows and columns of an op over the last axis.
    fn rows_cols(&self, x: NodeId) -> (usize, usize) {
        let s = self.shape(x);
        let c = s.last().unwrap_or(1);
        (s.numel().checked_div(c).unwrap_or(0), c)
    }

    fn sum_last(&mut self, id: NodeId, x: NodeId) -> Result<(), IrError> {
        let (r, c) = self.rows_cols(x);
        if c == 1 || self.shape(x).is_scalar() {
            return self.alias(id, x);
        }
        let vars = loop_vars(&[r, c]);
        let y = self.new_buffer_for(id, true);
        let code = peel(&vars, &[r, c], 1, |vs, first| {
            let xe = self.read(x, &index_of(vs, &[c, 1]))?.ts;
            let yi = index_of(vs, &[1, 0]);
            Ok(if first {
                quote!(#y[#yi] = #xe;)
            } else {
                quote!(#y[#yi] += #xe;)
            })
        })?;
        self.stmts.push(code);
        Ok(())
    }

    /// logsumexp / softmax / log_softmax: a loop over rows, each subtracting the
    /// row maximum before `exp` so nothing overflows.
    fn rowwise(&mut self, id: NodeId, x: NodeId, op: &Op) -> Result<(), IrError> {
        let (r, c) = self.rows_cols(x);
        let xn = self.tensor(x)?;
        let vars = loop_vars(&[r, c]);
        let (vi, vj) = (vars[0].clone(), vars[1].clone());
        let row0 = index(&[(&vi, c)]);
        let xij = index(&[(&vi, c), (&vj, 1)]);
        let z = self.zero().ts;
        let max = match &vj {
            Some(j) => {
                let c = lit(c);
                quote! {
                    let mut mx = #xn[#row0];
                    for #j in 1..#c { mx = mx.max(#xn[#xij]); }
                }
            }
            None => quote!(let mx = #xn[#row0];),
        };
        let cols = |body: TokenStream| nest(std::slice::from_ref(&vj), &[c], body);
        // f32 rows use the runtime's branch-free exp (≤ 2 ulp), which LLVM
        // vectorises; libm's is an opaque call per element.
        let exp = |x: TokenStream| match self.dtype {
            DType::F32 => quote!(::gradc::__private::rt::exp_f32(#x)),
            DType::F64 => quote!((#x).exp()),
        };
        let e_ij = exp(quote!(#xn[#xij] - mx));
        let y = self.new_buffer_for(id, true);
        // `logsumexp x` with a later `softmax x`: the exponentials go into the
        // softmax's buffer, summed and normalised in the same row (the same
        // values, in the same order, as two separate passes).
        let with_softmax = match (op, self.softmax_of[x.index()]) {
            (Op::LogSumExp, Some(s)) if s > id && self.direct[s.index()].is_none() => Some(s),
            _ => None,
        };
        let body = match op {
            Op::LogSumExp if with_softmax.is_some() => {
                let s = with_softmax.unwrap_or(id);
                // Named after the logsumexp and not recorded as the softmax's
                // local, so the comments keep this block in the forward pass.
                let sm = self.names.take(&format!("{y}_softmax"));
                let owned = self.alloc(&sm, r * c, true, s);
                self.vals[s.index()] = Some(Val::Tensor {
                    name: sm.clone(),
                    owned,
                });
                let exps = cols(quote!(#sm[#xij] = #e_ij;));
                let sum = cols(quote!(se += #sm[#xij];));
                let scale = cols(quote!(#sm[#xij] /= se;));
                let yi = index(&[(&vi, 1)]);
                quote! {
                    #max
                    #exps
                    let mut se = #z;
                    #sum
                    #y[#yi] = mx + se.ln();
                    #scale
                }
            }
            Op::LogSumExp => {
                let acc = cols(quote!(se += #e_ij;));
                let yi = index(&[(&vi, 1)]);
                quote! {
                    #max
                    let mut se = #z;
                    #acc
                    #y[#yi] = mx + se.ln();
                }
            }
            Op::Softmax => {
                // Exponentials in a loop of their own (it vectorises), then the sum.
                let exps = cols(quote!(#y[#xij] = #e_ij;));
                let sum = cols(quote!(se += #y[#xij];));
                let scale = cols(quote!(#y[#xij] /= se;));
                quote! {
                    #max
                    #exps
                    let mut se = #z;
                    #sum
                    #scale
                }
            }
            Op::LogSoftmax => {
                let acc = cols(quote!(se += #e_ij;));
                let shift = cols(quote!(#y[#xij] = #xn[#xij] - lse;));
                quote! {
                    #max
                    let mut se = #z;
                    #acc
                    let lse = mx + se.ln();
                    #shift
                }
            }
            Op::Input(_)
            | Op::Param(_)
            | Op::Const(_)
            | Op::Count(_)
            | Op::Neg
            | Op::Relu
            | Op::Sigmoid
            | Op::Tanh
            | Op::Exp
            | Op::Ln
            | Op::Softplus
            | Op::Sqrt
            | Op::Powi(_)
            | Op::Add
            | Op::Sub
            | Op::Mul
            | Op::Div
            | Op::Max
            | Op::Gt
            | Op::OneHot(_)
            | Op::MatMul { .. }
            | Op::Transpose
            | Op::Reshape(_)
            | Op::BroadcastTo(_)
            | Op::SumTo(_)
            | Op::Sum
            | Op::SumLast => return err(format!("`{}` is not a row op", op.name())),
        };
        self.stmts.push(match &vi {
            Some(i) => {
                let r = lit(r);
                quote!(for #i in 0..#r { #body })
            }
            None => quote!({ #body }),
        });
        Ok(())
    }

    /// Argument names for the signature: `_`-prefixed when no leaf reads them,
    /// so an unused struct does not warn.
    fn arg_names(&self) -> (Ident, Ident) {
        let id = |s: &str| Ident::new(s, proc_macro2::Span::call_site());
        (
            id(if self.uses_params {
                "params"
            } else {
                "_params"
            }),
            id(if self.uses_inputs {
                "inputs"
            } else {
                "_inputs"
            }),
        )
    }
}

/// The generic parameters and the `Inputs` / `Workspace` types of a graph's
/// functions: `<const B: usize>`, `Inputs<B>`, `Workspace<B>` when it is
/// batch-generic ([`Graph::is_batch_generic`]), else nothing and the bare names.
struct Generics {
    params: TokenStream,
    inputs: TokenStream,
    workspace: TokenStream,
    /// A compile-time check that `B` is at least 1 (a mean over no rows has
    /// no value), evaluated when the caller picks `B`.
    check: TokenStream,
}

fn generics(g: &Graph) -> Generics {
    if g.is_batch_generic() {
        Generics {
            params: quote!(<const B: usize>),
            inputs: quote!(Inputs<B>),
            workspace: quote!(Workspace<B>),
            check: quote!(const { assert!(B > 0, "gradc: the batch size B must be at least 1") };),
        }
    } else {
        Generics {
            params: quote!(),
            inputs: quote!(Inputs),
            workspace: quote!(Workspace),
            check: quote!(),
        }
    }
}

/// `[[0.0f32; 2]; 4]` for a shape.
fn zero_array(dtype: DType, shape: &Shape) -> TokenStream {
    let mut t = match dtype {
        DType::F32 => quote!(0.0f32),
        DType::F64 => quote!(0.0f64),
    };
    for &d in shape.dims().iter().rev() {
        let n = lit(d);
        t = quote!([#t; #n]);
    }
    t
}

/// Also returns each node's local name (the hook `annotate.rs` keys comments on).
pub(crate) fn forward(g: &Graph) -> Result<(TokenStream, Locals), IrError> {
    verify(g)?;
    let Some(root) = g.roots().first().map(|r| r.node) else {
        return err("forward graph has no root");
    };
    let mut em = Emitter::run(g, &[root], false)?;
    let shape = g.shape(root);
    let ret = match em.val(root)?.clone() {
        Val::Scalar(e) => e.ts,
        Val::Tensor { .. } | Val::Fused => {
            let out = em.names.take("out");
            let zero = zero_array(g.dtype(), shape);
            let dst = flatten_mut(quote!(#out), shape.rank());
            let src = em.slice_ref(root)?;
            em.stmts.push(quote!(let mut #out = #zero;));
            em.stmts.push(quote!(#dst.copy_from_slice(#src);));
            quote!(#out)
        }
    };
    let ty = rust_type(g.dtype(), shape);
    let (p, i) = em.arg_names();
    let stmts = &em.stmts;
    let Generics {
        params: gp,
        inputs: it,
        check,
        ..
    } = generics(g);
    let item = quote! {
        pub fn forward #gp (#p: &Params, #i: &#it) -> #ty {
            #check
            #(#stmts)*
            #ret
        }
    };
    Ok((item, em.names.locals()))
}

/// The shown items (`forward_backward`, and the workspace when it has
/// buffers), the supporting items (the empty workspace API of a small network),
/// and each node's local name (the hook `annotate.rs` keys comments on).
pub(crate) fn forward_backward(g: &Graph) -> Result<(TokenStream, TokenStream, Locals), IrError> {
    // Before any lookup by root or shape: `loss`, then one gradient per parameter.
    verify_gradient_roots(g)?;
    let roots = g.roots();
    let params = g.params();
    let root_ids: Vec<NodeId> = roots.iter().map(|r| r.node).collect();
    // A tensor gradient that is the root of one parameter only (not the loss,
    // not shared) is computed in place in `grads`: no buffer, no final copy.
    let mut direct = vec![None; g.len()];
    for (r, p) in roots[1..].iter().zip(params) {
        let once = root_ids.iter().filter(|n| **n == r.node).count() == 1;
        let rank = g.shape(*p).rank();
        // Small gradients stay locals LLVM keeps in registers; copying them is free.
        let big = g.shape(*p).numel() > MIN_DIRECT_ELEMS;
        if once && big && rank >= 1 && !matches!(g.op(r.node), Op::Input(_) | Op::Param(_)) {
            if let Some(n) = g.name(*p).filter(|n| names::is_plain_ident(n)) {
                direct[r.node.index()] =
                    Some((Ident::new(n, proc_macro2::Span::call_site()), rank));
            }
        }
    }
    let mut em = Emitter::run_with(g, &root_ids, true, direct)?;
    for (r, p) in roots[1..].iter().zip(params) {
        if em.in_grads[r.node.index()] {
            continue;
        }
        let field = em.field(*p)?;
        let rank = g.shape(*p).rank();
        let write = match em.val(r.node)? {
            Val::Scalar(e) => {
                let e = &e.ts;
                quote!(grads.#field = #e;)
            }
            Val::Tensor { .. } | Val::Fused => {
                let dst = flatten_mut(quote!(grads.#field), rank);
                let src = em.slice_ref(r.node)?;
                quote!(#dst.copy_from_slice(#src);)
            }
        };
        em.stmts.push(write);
    }
    let loss = match em.val(roots[0].node)? {
        Val::Scalar(e) => e.ts.clone(),
        Val::Tensor { .. } | Val::Fused => return err("the loss is not a scalar"),
    };
    let ty = expr::elem(g.dtype());
    let (p, i) = em.arg_names();
    let gr = Ident::new(
        if params.is_empty() { "_grads" } else { "grads" },
        proc_macro2::Span::call_site(),
    );
    let stmts = &em.stmts;
    let fields = em.workspace.take().unwrap_or_default();
    let mut support = TokenStream::new();
    let Generics {
        params: gp,
        inputs: it,
        workspace: wt,
        check,
    } = generics(g);
    let item = if fields.is_empty() {
        // No large buffers: an empty workspace (in `support`, not shown in
        // GRADIENT_CODE), so generic code can always call
        // `forward_backward_with`; `forward_backward` holds the body (no
        // thread-local access, nothing between the caller and the registers).
        support = quote! {
            /// Scratch buffers of [`forward_backward_with`]: none for this network.
            #[derive(Debug, Default)]
            pub struct Workspace #gp {}

            impl #gp #wt {
                /// The empty workspace (allocates nothing).
                pub fn new() -> Self {
                    Workspace {}
                }
            }

            /// [`forward_backward`]; this network needs no scratch.
            #[inline]
            pub fn forward_backward_with #gp (params: &Params, inputs: &#it, grads: &mut Grads, _ws: &mut #wt) -> #ty {
                forward_backward(params, inputs, grads)
            }
        };
        quote! {
            pub fn forward_backward #gp (#p: &Params, #i: &#it, #gr: &mut Grads) -> #ty {
                #check
                #(#stmts)*
                #loss
            }
        }
    } else {
        // Large buffers live in a workspace the caller may own
        // (`forward_backward_with`); `forward_backward` keeps one per thread, so
        // no call after a thread's first allocates.
        let names: Vec<&Ident> = fields.iter().map(|(n, _)| n).collect();
        let elem = &em.elem;
        let z = em.zero().ts;
        // A `B`-sized buffer is a boxed slice of `c * B` elements (`[T; c * B]`
        // is not a type for a const generic `B`); the others fixed arrays.
        let types = fields.iter().map(|(_, l)| {
            if is_batch(*l) {
                quote!(::std::boxed::Box<[#elem]>)
            } else {
                let l = lit(*l);
                quote!(::std::boxed::Box<[#elem; #l]>)
            }
        });
        let inits = fields.iter().map(|(_, l)| {
            match (Extent::of(*l), stack_fits(*l, MAX_STACK_ELEMS_WS)) {
                // Used only when the batch is too large for the stack array (see
                // `alloc_batch`); empty otherwise.
                (Extent::Batch(_), Some(fits)) => {
                    let n = lit(*l);
                    quote!(::std::vec![#z; if #fits { 0 } else { #n }].into_boxed_slice())
                }
                (Extent::Batch(_), None) => {
                    let l = lit(*l);
                    quote!(::std::vec![#z; #l].into_boxed_slice())
                }
                (Extent::Fixed(_), _) => {
                    quote!(::gradc::__private::rt::zeroed_box())
                }
            }
        });
        let ws = &em.ws;
        // One workspace per thread, or with `B`, one per batch size a thread
        // has used (a `static` cannot depend on `B`, so they are kept as `Any`).
        // When every field is a stack-capable `c·B` buffer, a small enough `B`
        // uses none of them: an empty workspace (no allocation) then serves,
        // and the thread-local lookup is skipped.
        let small: Option<Vec<TokenStream>> = fields
            .iter()
            .map(|(_, l)| stack_fits(*l, MAX_STACK_ELEMS_WS))
            .collect();
        let fast = small.map(|small| {
            quote! {
                if #(#small)&&* {
                    return forward_backward_with(params, inputs, grads, &mut Workspace::<B>::new());
                }
            }
        });
        let per_thread = if g.is_batch_generic() {
            quote! {
                #fast
                ::std::thread_local! {
                    static WORKSPACES: ::std::cell::RefCell<::std::vec::Vec<::std::boxed::Box<dyn ::core::any::Any>>> =
                        const { ::std::cell::RefCell::new(::std::vec::Vec::new()) };
                }
                WORKSPACES.with(|w| {
                    let mut w = w.borrow_mut();
                    if !w.iter().any(|b| b.is::<Workspace<B>>()) {
                        w.push(::std::boxed::Box::new(Workspace::<B>::new()));
                    }
                    match w.iter_mut().find_map(|b| b.downcast_mut::<Workspace<B>>()) {
                        ::core::option::Option::Some(ws) => forward_backward_with(params, inputs, grads, ws),
                        ::core::option::Option::None => forward_backward_with(params, inputs, grads, &mut Workspace::<B>::new()),
                    }
                })
            }
        } else {
            quote! {
                ::std::thread_local! {
                    static WORKSPACE: ::std::cell::RefCell<::core::option::Option<Workspace>> =
                        const { ::std::cell::RefCell::new(::core::option::Option::None) };
                }
                WORKSPACE.with(|w| {
                    let mut w = w.borrow_mut();
                    let ws = w.get_or_insert_with(Workspace::new);
                    forward_backward_with(params, inputs, grads, ws)
                })
            }
        };
        quote! {
            /// Scratch buffers of [`forward_backward_with`], allocated once.
            pub struct Workspace #gp {
                #(#names: #types,)*
            }

            impl #gp #wt {
                /// Allocates every buffer (zeroed, on the heap).
                pub fn new() -> Self {
                    Workspace { #(#names: #inits,)* }
                }
            }

            impl #gp ::core::default::Default for #wt {
                fn default() -> Self {
                    Self::new()
                }
            }

            pub fn forward_backward #gp (params: &Params, inputs: &#it, grads: &mut Grads) -> #ty {
                #per_thread
            }

            /// [`forward_backward`] with caller-owned scratch: never allocates.
            pub fn forward_backward_with #gp (#p: &Params, #i: &#it, #gr: &mut Grads, #ws: &mut #wt) -> #ty {
                #check
                #(#stmts)*
                #loss
            }
        }
    };
    Ok((item, support, em.names.locals()))
}
