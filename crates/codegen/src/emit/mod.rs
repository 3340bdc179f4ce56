//! The emitter: one statement or loop block per live node, in id order.
//!
//! This file holds the [`Emitter`] state and how generated code reads a
//! node's value ([`Val`]). The rest is split by concept, as cranelift splits
//! `machinst` into `lower`, `vcode`, `buffer` and `abi`, so a change to one
//! concern (a new op, a new place for buffers) stays in one file:
//!
//! - [`liveness`]: which nodes are emitted, which are fused into their user's
//!   loop, and where each value is last read, decided before any code.
//! - [`alloc`]: where each buffer lives (stack array, reused workspace field,
//!   `grads` field or `Vec`).
//! - [`loops`]: loop variables, constant-stride indices and loop nests.
//! - [`lower`]: the code of one node, per op kind.
//! - [`wrappers`]: the generated items around the body (`forward`,
//!   `forward_backward`, `Workspace`, the per-thread workspace).

mod alloc;
mod chunks;
mod liveness;
mod loops;
mod lower;
mod wrappers;

pub(crate) use loops::lit;
pub(crate) use wrappers::{forward, forward_backward, predict};

use crate::expr::{self, E};
use crate::names::{self, Names};
use gradc_ir::{DType, Graph, IrError, NodeId, Op, RowOp, Shape};
use liveness::{fusable, last_uses, live_from};
use loops::{index_of, Loop};
use proc_macro2::{Ident, TokenStream};
use quote::quote;

/// Where a gradient is computed in `grads`: the field (of `rank` axes),
/// whole or, for one slice of a stacked gradient, elements `range` of it
/// flattened.
#[derive(Clone, Debug)]
struct Direct {
    field: Ident,
    rank: usize,
    range: Option<(usize, usize)>,
}

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

struct Emitter<'g> {
    g: &'g Graph,
    dtype: DType,
    elem: TokenStream,
    live: Vec<bool>,
    vals: Vec<Option<Val>>,
    names: Names,
    /// What each node's local is called ([`names::hints`]).
    hints: Vec<Option<String>>,
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
    /// Tensor gradients computed straight into `grads.<field>`: roots of
    /// exactly one parameter, so no copy at the end, and the slices of such a
    /// root that is a `stack`.
    direct: Vec<Option<Direct>>,
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
    /// A large graph's body is split into functions ([`chunks`]): every tensor
    /// then lives in the workspace, so a later part can borrow it again.
    chunked: bool,
    /// Buffers up to this many elements are stack arrays ([`alloc::stack_cap`]).
    stack_cap: usize,
    /// In a chunked body, how a later part gets each top-level local.
    defs: Vec<chunks::Def>,
    /// Where each emitted node's statements start (the parts' boundaries).
    node_starts: Vec<usize>,
}

impl<'g> Emitter<'g> {
    /// Names the live leaves first (so they keep their source names), then emits
    /// every live node in id order. The caller has verified `g`.
    fn run(g: &'g Graph, roots: &[NodeId], workspace: bool) -> Result<Self, IrError> {
        Self::run_with(g, roots, workspace, vec![None; g.len()], workspace)
    }

    /// [`Self::run`] with some nodes' buffers being `grads` fields;
    /// `root_names`: locals of roots are named after them (else `out`).
    fn run_with(
        g: &'g Graph,
        roots: &[NodeId],
        workspace: bool,
        direct: Vec<Option<Direct>>,
        root_names: bool,
    ) -> Result<Self, IrError> {
        let live = live_from(g, roots);
        let chunked = workspace && chunks::is_large(&live);
        let mut em = Emitter {
            g,
            dtype: g.dtype(),
            elem: expr::elem(g.dtype()),
            chunked,
            stack_cap: alloc::stack_cap(workspace, chunked),
            live,
            vals: vec![None; g.len()],
            names: Names::new(),
            // In `forward_backward` the roots are `loss` and `d_<param>`.
            hints: names::hints(g, root_names, if root_names { "loss" } else { "out" }),
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
            defs: Vec::new(),
            node_starts: Vec::new(),
        };
        em.fused = fusable(g, roots, &em.live);
        em.last_use = last_uses(g, roots, &em.live, &em.fused);
        for id in g.node_ids() {
            if em.live[id.index()] && matches!(g.op(id), Op::Row(RowOp::Softmax)) {
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
                em.node_starts.push(em.stmts.len());
                em.node(id, leaf_names[id.index()].take())?;
            }
        }
        Ok(em)
    }

    /// The struct field a leaf is read from / its gradient written to.
    fn field(&self, id: NodeId) -> Result<Ident, IrError> {
        match self.g.name(id) {
            Some(n) => names::field_ident(n).map_or_else(
                || {
                    err(format!(
                        "argument name `{n}` of node {id} is not an identifier"
                    ))
                },
                Ok,
            ),
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

    /// `&[T]`-coercible reference to a tensor's buffer.
    fn slice_ref(&self, id: NodeId) -> Result<TokenStream, IrError> {
        match self.val(id)? {
            Val::Tensor { name, owned: true } => Ok(quote!(&#name)),
            Val::Tensor { name, owned: false } => Ok(quote!(#name)),
            Val::Scalar(_) => err(format!("node {id} is a scalar where a tensor was expected")),
            Val::Fused => err(format!("fused node {id} read as a buffer")),
        }
    }

    /// `&mut [T]`-coercible reference to a buffer this node writes: `&mut y`
    /// for an owned array or `Vec`, the `&mut [T]` local itself otherwise.
    fn slice_mut(&self, id: NodeId) -> Result<TokenStream, IrError> {
        match self.val(id)? {
            Val::Tensor { name, owned: true } => Ok(quote!(&mut #name)),
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
        self.names
            .fresh(self.hints[id.index()].as_deref(), id.index())
    }

    /// `let y: T = e;`
    fn new_scalar(&mut self, id: NodeId, e: E) {
        let y = self.local(id);
        self.def_value(&y, self.elem.clone());
        let (t, ts) = (&self.elem, &e.ts);
        self.stmts.push(quote!(let #y: #t = #ts;));
        self.vals[id.index()] = Some(Val::Scalar(E::atom(quote!(#y))));
    }
}
