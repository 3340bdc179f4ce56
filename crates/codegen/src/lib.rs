//! Stage 5 of the gradc pipeline: code generation.
//!
//! Turns a forward graph or an (optimized) joint graph into straight-line Rust
//! tokens with `quote`: one statement or loop block per live node, in id order,
//! with every shape, stride and loop bound a constant. No graph is interpreted at
//! run time. Scalars are plain locals; tensors are flat buffers; leaves are read
//! in place from `params` / `inputs`. A body of more than 400 live nodes is
//! emitted as several functions called in order, so rustc never sees one
//! function that grows with the network (see ARCHITECTURE.md, "Depth"). [`pretty`] formats the result for the
//! readable `GRADIENT_CODE`.
//!
//! Generated code names only `::gradc::__private::…` paths and compiles without
//! warnings under `#![deny(warnings)]`. This crate knows graphs, not syn parsing.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod annotate;
mod emit;
mod expr;
mod names;
mod residuals;

pub use residuals::{memory, Memory, Residual};

use gradc_ir::{DType, Graph, IrError, Shape};
use proc_macro2::TokenStream;
use quote::quote;

/// Rust type of a tensor: `f32`, `[f32; 2]`, `[[f32; 2]; 4]` (outermost dim
/// first); a dimension equal to the batch size is the const generic `B`
/// (the frontend allows `B` only as a whole array length in types).
pub fn rust_type(dtype: DType, shape: &Shape) -> TokenStream {
    let mut t = expr::elem(dtype);
    for &d in shape.dims().iter().rev() {
        let n = extent(d);
        t = quote!([#t; #n]);
    }
    t
}

/// An extent or element count as code: `64`, or `64 * B` when it depends on
/// the batch size `B` ([`gradc_ir::Extent`]).
pub fn extent(d: usize) -> TokenStream {
    emit::lit(d)
}

/// `pub fn forward(params: &Params, inputs: &Inputs) -> OUT` for a forward graph
/// (root 0 = output; OUT = [`rust_type`] of its shape).
pub fn emit_forward(g: &Graph) -> Result<TokenStream, IrError> {
    emit::forward(g).map(|(item, _)| item)
}

/// `pub fn forward_backward(params: &Params, inputs: &Inputs, grads: &mut Grads) -> T`
/// for a joint graph (roots: `loss` then `d_<param>` for each param in order):
/// computes everything in one fused pass, overwrites each `grads.<param>` and
/// returns the loss. Also `pub struct Workspace` (its scratch; empty for small
/// networks) and `pub fn forward_backward_with(.., &mut Workspace) -> T`.
pub fn emit_forward_backward(joint: &Graph) -> Result<TokenStream, IrError> {
    emit::forward_backward(joint).map(|(item, support, _)| quote::quote!(#item #support))
}

/// `pub fn predict(params: &Params, inputs: &Features) -> Outputs` for a
/// prediction graph ([`gradc_ir::Graph::extract`]: roots = the `#[output]`
/// values), plus `PredictWorkspace` and `predict_with` when it has large
/// buffers. `Outputs` has one field per root, named after it.
pub fn emit_predict(g: &Graph) -> Result<TokenStream, IrError> {
    emit::predict(g).map(|(item, _)| item)
}

/// The readable prediction pass: [`emit_predict`] formatted and commented.
pub fn predict_code(g: &Graph) -> Result<String, IrError> {
    let (item, locals) = emit::predict(g)?;
    Ok(annotate::annotate(&pretty(&item)?, g, &locals))
}

/// The readable forward pass: [`emit_forward`] formatted by [`pretty`], with a
/// comment before each block naming the source statement it came from.
pub fn forward_code(g: &Graph) -> Result<String, IrError> {
    let (item, locals) = emit::forward(g)?;
    Ok(annotate::annotate(&pretty(&item)?, g, &locals))
}

/// The readable fused pass, `NAME::GRADIENT_CODE`: [`emit_forward_backward`]
/// formatted by [`pretty`], with a comment before each block naming the source
/// statement it came from and, for backward blocks, the chain-rule term it
/// computes (`// dL/dh = dL/dyhat · w2ᵀ`). Comments come from the graph's
/// provenance ([`gradc_ir::Origin`]); nodes without one get none.
pub fn forward_backward_code(joint: &Graph) -> Result<String, IrError> {
    let (item, _, locals) = emit::forward_backward(joint)?;
    Ok(annotate::annotate(&pretty(&item)?, joint, &locals))
}

/// The local each node of a joint graph gets in [`forward_backward_code`], in
/// node order: what a reader of the code calls it (`h`, `d_w1`, `h_matmul`).
pub fn local_names(joint: &Graph) -> Result<Vec<(gradc_ir::NodeId, String)>, IrError> {
    let (_, _, locals) = emit::forward_backward(joint)?;
    Ok(locals
        .into_iter()
        .map(|(id, name)| (gradc_ir::NodeId::from_index(id), name))
        .collect())
}

/// Formats one item (a fn) with prettyplease.
pub fn pretty(item: &TokenStream) -> Result<String, IrError> {
    let file: syn::File = syn::parse2(item.clone())
        .map_err(|e| IrError::new(format!("codegen: generated code does not parse: {e}")))?;
    Ok(prettyplease::unparse(&file))
}
