//! Stage 5 of the gradc pipeline: code generation.
//!
//! Turns a forward graph or an (optimized) joint graph into straight-line Rust
//! tokens with `quote`: one statement or loop block per live node, in id order,
//! with every shape, stride and loop bound a constant. No graph is interpreted at
//! run time. Scalars are plain locals; tensors are flat buffers; leaves are read
//! in place from `params` / `inputs`. [`pretty`] formats the result for the
//! readable `GRADIENT_CODE`.
//!
//! Generated code names only `::gradc::__private::…` paths and compiles without
//! warnings under `#![deny(warnings)]`. This crate knows graphs, not syn parsing.

mod emit;
mod expr;
mod names;

use gradc_ir::{DType, Graph, IrError, Shape};
use proc_macro2::{Literal, TokenStream};
use quote::quote;

/// Rust type of a tensor: `f32`, `[f32; 2]`, `[[f32; 2]; 4]` (outermost dim first).
pub fn rust_type(dtype: DType, shape: &Shape) -> TokenStream {
    let mut t = expr::elem(dtype);
    for &d in shape.dims().iter().rev() {
        let n = Literal::usize_unsuffixed(d);
        t = quote!([#t; #n]);
    }
    t
}

/// `pub fn forward(params: &Params, inputs: &Inputs) -> OUT` for a forward graph
/// (root 0 = output; OUT = [`rust_type`] of its shape).
pub fn emit_forward(g: &Graph) -> Result<TokenStream, IrError> {
    emit::forward(g)
}

/// `pub fn forward_backward(params: &Params, inputs: &Inputs, grads: &mut Grads) -> T`
/// for a joint graph (roots: `loss` then `d_<param>` for each param in order):
/// computes everything in one fused pass, overwrites each `grads.<param>` and
/// returns the loss.
pub fn emit_forward_backward(joint: &Graph) -> Result<TokenStream, IrError> {
    emit::forward_backward(joint)
}

/// Formats one item (a fn) with prettyplease.
pub fn pretty(item: &TokenStream) -> Result<String, IrError> {
    let file: syn::File = syn::parse2(item.clone())
        .map_err(|e| IrError::new(format!("codegen: generated code does not parse: {e}")))?;
    Ok(prettyplease::unparse(&file))
}
