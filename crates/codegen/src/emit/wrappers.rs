//! The generated items around the emitted body: `forward`, and
//! `forward_backward` with its `Workspace` struct, `forward_backward_with`
//! and the per-thread workspace, generic over `B` when the graph is. Here
//! too the contract checks on the joint graph's roots and which gradients
//! are written straight into `grads`.

use super::alloc::{is_batch, stack_fits};
use super::chunks;
use super::liveness::live_from;
use super::loops::{flatten_mut, lit, unroll_single};
use super::{err, Direct, Emitter, Val};
use crate::expr;
use crate::names::{self, Locals};
use crate::rust_type;
use gradc_ir::{verify, verify_gradient_roots, DType, Extent, Graph, IrError, NodeId, Op, Shape};
use proc_macro2::{Ident, TokenStream};
use quote::quote;

/// Tensor gradients with more elements than this are computed in place in
/// `grads` (see `forward_backward`).
const MIN_DIRECT_ELEMS: usize = 256;

impl<'g> Emitter<'g> {
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

impl<'g> Emitter<'g> {
    /// The statements of the entry point `name` (with generics `gp` and
    /// arguments `args`) before its final expression `tail`, and the items it
    /// calls: in a large body, its parts ([`chunks`]).
    fn body(
        &self,
        name: &str,
        gp: &TokenStream,
        args: &[(Ident, TokenStream)],
        tail: &TokenStream,
    ) -> (TokenStream, TokenStream) {
        let stmts: Vec<TokenStream> = self.stmts.iter().cloned().map(unroll_single).collect();
        if !self.chunked {
            return (TokenStream::new(), quote!(#(#stmts)*));
        }
        let parts = chunks::split(&stmts, &self.node_starts, &self.defs, tail, name, gp, args);
        (parts.items, parts.body)
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
    // A large forward pass is split into parts, which borrow their tensors
    // from a workspace (one per thread).
    let large = chunks::is_large(&live_from(g, &[root]));
    let mut em = Emitter::run_with(g, &[root], large, vec![None; g.len()], false)?;
    let shape = g.shape(root);
    let ty = rust_type(g.dtype(), shape);
    let ret = match em.val(root)?.clone() {
        Val::Scalar(e) => e.ts,
        Val::Tensor { .. } | Val::Fused => {
            let out = em.names.take("out");
            let zero = zero_array(g.dtype(), shape);
            let dst = flatten_mut(quote!(#out), shape.rank());
            let src = em.slice_ref(root)?;
            em.def_value(&out, ty.clone());
            em.stmts.push(quote!(let mut #out = #zero;));
            em.stmts.push(quote!(#dst.copy_from_slice(#src);));
            quote!(#out)
        }
    };
    let (p, i) = em.arg_names();
    let Generics {
        params: gp,
        inputs: it,
        check,
        ..
    } = generics(g);
    let fields = em.workspace.take().unwrap_or_default();
    if fields.is_empty() {
        let args = [(p.clone(), quote!(&Params)), (i.clone(), quote!(&#it))];
        let (parts, body) = em.body("forward", &gp, &args, &ret);
        let item = quote! {
            #parts
            pub fn forward #gp (#p: &Params, #i: &#it) -> #ty {
                #check
                #body
                #ret
            }
        };
        return Ok((item, em.names.locals()));
    }
    let ws = em.ws.clone();
    let wt = if gp.is_empty() {
        quote!(ForwardWorkspace)
    } else {
        quote!(ForwardWorkspace<B>)
    };
    let args = [
        (p.clone(), quote!(&Params)),
        (i.clone(), quote!(&#it)),
        (ws.clone(), quote!(&mut #wt)),
    ];
    let (parts, body) = em.body("forward", &gp, &args, &ret);
    let ws_struct = workspace_struct(
        &quote!(ForwardWorkspace),
        "the forward pass",
        &gp,
        &fields,
        &em,
    );
    let item = quote! {
        pub fn forward #gp (params: &Params, inputs: &#it) -> #ty {
            ::gradc::__private::rt::with_workspace(|ws| forward_with(params, inputs, ws))
        }
        #ws_struct
        #parts
        fn forward_with #gp (#p: &Params, #i: &#it, #ws: &mut #wt) -> #ty {
            #check
            #body
            #ret
        }
    };
    Ok((item, em.names.locals()))
}

/// For a direct gradient `root` that stacks one slice per layer (a loop over
/// stacked weights), each large slice computed only for the stack is also
/// computed in place, in its range of the field, so the stack copies nothing.
fn direct_slices(
    g: &Graph,
    root: NodeId,
    field: &Ident,
    rank: usize,
    roots: &[NodeId],
    direct: &mut [Option<Direct>],
) {
    // Every slice given, so the stack never zero-fills the field after them.
    let Op::Stack { len, at } = g.op(root) else {
        return;
    };
    if at.len() != *len {
        return;
    }
    let n = g.shape(root).numel() / (*len).max(1);
    let args = g.args(root);
    for (&a, &j) in args.iter().zip(at) {
        let once = args.iter().filter(|b| **b == a).count() == 1 && g.users(a) == [root];
        if once
            && n > MIN_DIRECT_ELEMS
            && g.shape(a).numel() == n
            && !roots.contains(&a)
            && !matches!(g.op(a), Op::Input(_) | Op::Param(_))
        {
            direct[a.index()] = Some(Direct {
                field: field.clone(),
                rank,
                range: Some((j * n, (j + 1) * n)),
            });
        }
    }
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
            if let Some(n) = g.name(*p).and_then(names::field_ident) {
                direct_slices(g, r.node, &n, rank, &root_ids, &mut direct);
                direct[r.node.index()] = Some(Direct {
                    field: n,
                    rank,
                    range: None,
                });
            }
        }
    }
    let mut em = Emitter::run_with(g, &root_ids, true, direct, true)?;
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
        let args = [
            (p.clone(), quote!(&Params)),
            (i.clone(), quote!(&#it)),
            (gr.clone(), quote!(&mut Grads)),
        ];
        let (parts, body) = em.body("forward_backward", &gp, &args, &loss);
        quote! {
            #parts
            pub fn forward_backward #gp (#p: &Params, #i: &#it, #gr: &mut Grads) -> #ty {
                #check
                #body
                #loss
            }
        }
    } else {
        // Large buffers live in a workspace the caller may own
        // (`forward_backward_with`); `forward_backward` keeps one per thread, so
        // no call after a thread's first allocates.
        let ws = &em.ws;
        let args = [
            (p.clone(), quote!(&Params)),
            (i.clone(), quote!(&#it)),
            (gr.clone(), quote!(&mut Grads)),
            (ws.clone(), quote!(&mut #wt)),
        ];
        let (parts, body) = em.body("forward_backward", &gp, &args, &loss);
        let ws_struct = workspace_struct(
            &quote!(Workspace),
            "[`forward_backward_with`]",
            &gp,
            &fields,
            &em,
        );
        let fast = small_batch(&fields, em.stack_max()).map(|small| {
            quote! {
                if #(#small)&&* {
                    return forward_backward_with(params, inputs, grads, &mut Workspace::<B>::new());
                }
            }
        });
        let per_thread = quote! {
            #fast
            ::gradc::__private::rt::with_workspace(|ws| {
                forward_backward_with(params, inputs, grads, ws)
            })
        };
        quote! {
            #ws_struct

            pub fn forward_backward #gp (params: &Params, inputs: &#it, grads: &mut Grads) -> #ty {
                #per_thread
            }

            #parts

            /// [`forward_backward`] with caller-owned scratch: never allocates.
            pub fn forward_backward_with #gp (#p: &Params, #i: &#it, #gr: &mut Grads, #ws: &mut #wt) -> #ty {
                #check
                #body
                #loss
            }
        }
    };
    Ok((item, support, em.names.locals()))
}

/// A workspace struct `NAME` holding the scratch `fields` of the function
/// `user` (doc link text), with `new()` allocating every buffer (zeroed, on
/// the heap) and `Default`.
fn workspace_struct(
    name: &TokenStream,
    user: &str,
    gp: &TokenStream,
    fields: &[(Ident, usize)],
    em: &Emitter<'_>,
) -> TokenStream {
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
        match (Extent::of(*l), stack_fits(*l, em.stack_max())) {
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
    let ty = if gp.is_empty() {
        name.clone()
    } else {
        quote!(#name<B>)
    };
    let doc = format!("Scratch buffers of {user}, allocated once.");
    quote! {
        #[doc = #doc]
        pub struct #name #gp {
            #(#names: #types,)*
        }

        impl #gp #ty {
            /// Allocates every buffer (zeroed, on the heap).
            pub fn new() -> Self {
                #name { #(#names: #inits,)* }
            }
        }

        impl #gp ::core::default::Default for #ty {
            fn default() -> Self {
                Self::new()
            }
        }
    }
}

/// When every scratch field is a stack-capable `c·B` buffer, the conditions
/// (each once) under which a batch size needs none of them.
fn small_batch(fields: &[(Ident, usize)], cap: usize) -> Option<Vec<TokenStream>> {
    let small: Option<Vec<TokenStream>> = fields.iter().map(|(_, l)| stack_fits(*l, cap)).collect();
    // Each condition once (several fields often share a size).
    small.map(|conds| {
        let mut seen = std::collections::BTreeSet::new();
        conds
            .into_iter()
            .filter(|c| seen.insert(c.to_string()))
            .collect::<Vec<_>>()
    })
}

/// `predict` for a prediction graph (see `gradc_ir::Graph::extract`): its
/// roots are the `#[output]` values, its inputs the features they read.
/// `pub fn predict(params: &Params, inputs: &Features) -> Outputs`; with
/// large buffers also `PredictWorkspace` and `predict_with(.., &mut
/// PredictWorkspace)`, `predict` then keeping one workspace per thread (no
/// allocation after a thread's first call).
pub(crate) fn predict(g: &Graph) -> Result<(TokenStream, Locals), IrError> {
    verify(g)?;
    let roots: Vec<NodeId> = g.roots().iter().map(|r| r.node).collect();
    if roots.is_empty() {
        return err("prediction graph has no outputs");
    }
    let mut em = Emitter::run(g, &roots, true)?;
    let mut fields = Vec::new();
    let mut values = Vec::new();
    for r in g.roots() {
        let Some(field) = names::field_ident(&r.name) else {
            return err(format!("output `{}` is not an identifier", r.name));
        };
        fields.push(field);
        let shape = g.shape(r.node);
        values.push(match em.val(r.node)?.clone() {
            Val::Scalar(e) => e.ts,
            Val::Tensor { .. } | Val::Fused => {
                let out = em.names.take(&format!("{}_out", r.name));
                let zero = zero_array(g.dtype(), shape);
                let dst = flatten_mut(quote!(#out), shape.rank());
                let src = em.slice_ref(r.node)?;
                em.def_value(&out, rust_type(g.dtype(), shape));
                em.stmts.push(quote!(let mut #out = #zero;));
                em.stmts.push(quote!(#dst.copy_from_slice(#src);));
                quote!(#out)
            }
        });
    }
    let batch = g.is_batch_generic();
    let outputs_batch = roots.iter().any(|r| g.shape(*r).batch_degree() > 0);
    let (gp, ft, pw, check) = if batch {
        (
            quote!(<const B: usize>),
            quote!(Features<B>),
            quote!(PredictWorkspace<B>),
            quote!(const { assert!(B > 0, "gradc: the batch size B must be at least 1") };),
        )
    } else {
        (
            quote!(),
            quote!(Features),
            quote!(PredictWorkspace),
            quote!(),
        )
    };
    let ot = if outputs_batch {
        quote!(Outputs<B>)
    } else {
        quote!(Outputs)
    };
    let (p, i) = em.arg_names();
    let tail = quote!(Outputs { #(#fields: #values,)* });
    let ws_fields = em.workspace.take().unwrap_or_default();
    let mut args = vec![(p.clone(), quote!(&Params)), (i.clone(), quote!(&#ft))];
    if !ws_fields.is_empty() {
        args.push((em.ws.clone(), quote!(&mut #pw)));
    }
    let (parts, stmts) = em.body("predict", &gp, &args, &tail);
    let body = quote! {
        #check
        #stmts
        #tail
    };
    let item = if ws_fields.is_empty() {
        quote! {
            #parts
            /// The `#[output]` values for these features, compiled; computes only
            /// what the outputs need and never allocates.
            pub fn predict #gp (#p: &Params, #i: &#ft) -> #ot {
                #body
            }
        }
    } else {
        let ws = &em.ws;
        let ws_struct = workspace_struct(
            &quote!(PredictWorkspace),
            "[`predict_with`]",
            &gp,
            &ws_fields,
            &em,
        );
        let fast = small_batch(&ws_fields, em.stack_max()).map(|small| {
            quote! {
                if #(#small)&&* {
                    return predict_with(params, inputs, &mut PredictWorkspace::<B>::new());
                }
            }
        });
        quote! {
            #ws_struct
            #parts

            /// The `#[output]` values for these features, compiled; computes only
            /// what the outputs need. Keeps one [`PredictWorkspace`] per thread,
            /// so no call after a thread's first allocates.
            pub fn predict #gp (params: &Params, inputs: &#ft) -> #ot {
                #fast
                ::gradc::__private::rt::with_workspace(|ws| predict_with(params, inputs, ws))
            }

            /// [`predict`] with caller-owned scratch: never allocates.
            pub fn predict_with #gp (#p: &Params, #i: &#ft, #ws: &mut #pw) -> #ot {
                #body
            }
        }
    };
    Ok((item, em.names.locals()))
}
