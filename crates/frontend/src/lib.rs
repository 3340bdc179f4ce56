//! Stage 1 of the gradc pipeline: the frontend.
//!
//! Turns a `#[network]` function (syn) into a checked [`Network`] model holding
//! the forward [`Graph`]. All surface sugar (`mse`, `mean`, 1-D `matmul`,
//! `cross_entropy`, ...) is desugared here into the closed op set of `gradc-ir`.
//! Every problem is a `syn::Error` spanned at the user's tokens; independent
//! problems are collected and reported together.
//!
//! A network may take its batch size from the caller as `fn net<const B: usize>`:
//! the length `B` of input types becomes the dimension [`gradc_ir::BATCH`] (at
//! most one per shape, never in a parameter), and divisors that depend on it
//! become [`gradc_ir::Op::Count`] leaves instead of constants.
//!
//! This is a normal library shared by the proc macro and the CLI, so it speaks
//! `proc_macro2` and syn, never `proc_macro`.
//!
//! Files: `attr.rs` (the attribute's options), `signature.rs` (arguments and
//! types → shapes), `lower.rs` (body → graph), `model.rs` (the result).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod attr;
mod lower;
mod model;
mod signature;

pub use attr::Options;
pub use model::{Arg, Network};

use gradc_ir::{DType, Graph};
use proc_macro2::TokenStream;
use quote::ToTokens;
use std::fmt::Display;

/// Parses and checks a `#[network]` function given the attribute's arguments
/// and the item's tokens. Collects all errors (combined with
/// [`syn::Error::combine`]), each spanned at the user's tokens.
///
/// ```
/// let net = gradc_frontend::parse_network(
///     quote::quote!(),
///     quote::quote! {
///         fn fit(#[input] x: [f32; 3], #[input] y: [f32; 3], w: f32) -> f32 {
///             let yhat = x * w;
///             mse(yhat, y)
///         }
///     },
/// )
/// .unwrap();
/// assert_eq!(net.params().count(), 1);
/// assert_eq!(net.graph.roots()[0].name, "out");
/// ```
pub fn parse_network(attr: TokenStream, item: TokenStream) -> Result<Network, syn::Error> {
    match syn::parse2::<syn::ItemFn>(item) {
        Ok(item) => lower(attr, item),
        Err(mut e) => {
            // Report a bad attribute too, so the user sees both at once.
            if let Err(a) = attr::parse_options(attr) {
                let mut a = a;
                a.combine(e);
                e = a;
            }
            Err(e)
        }
    }
}

/// Same as [`parse_network`] for an already-parsed function (the CLI finds
/// functions in a file).
pub fn lower(attr: TokenStream, item: syn::ItemFn) -> Result<Network, syn::Error> {
    lower_with_layers(attr, item, &[])
}

/// [`lower`] with layer functions the body may call: the plain `fn`s of a
/// `#[gradc::layers]` module, inlined at each call like closures (shapes come
/// from the call; a parameter's array type, if written, is checked).
pub fn lower_with_layers(
    attr: TokenStream,
    mut item: syn::ItemFn,
    layers: &[syn::ItemFn],
) -> Result<Network, syn::Error> {
    let mut errors = Errors::default();
    let options = attr::parse_options(attr).unwrap_or_else(|e| {
        errors.push(e);
        Options::default()
    });
    let mut elem = signature::TypeCx::default();
    let sig = signature::check(&mut item, &mut elem, &mut errors);
    let dtype = elem.dtype().unwrap_or(DType::F32);

    let mut graph = Graph::new(dtype);
    let mut env = lower::Env::default();
    lower::bind_layers(&mut env, layers, &mut errors);
    let mut args = Vec::new();
    // Parameter leaves with their names, for the unused-parameter check.
    let mut param_leaves = Vec::new();
    for a in sig.args {
        let name = a.ident.to_string();
        match a.shape {
            Some(shape) => {
                let id = if a.is_input {
                    graph.add_input(&name, shape.clone())
                } else {
                    let id = graph.add_param(&name, shape.clone());
                    param_leaves.push((id, a.ident.clone()));
                    id
                };
                env.bind(&name, Some(id));
                args.push(Arg {
                    ident: a.ident,
                    ty: a.ty,
                    shape,
                    is_input: a.is_input,
                });
            }
            // Known name, unusable value: uses in the body stay silent.
            None => env.bind(&name, None),
        }
    }

    let body = lower::lower_body(&item.block, &mut graph, &mut env, &mut elem, &mut errors);
    let (tail, outputs) = (body.result, body.outputs);
    if let Some((node, expr)) = &tail {
        graph.add_root("out", *node);
        // Only on an otherwise clean body: a use inside a rejected statement
        // would look like no use at all.
        if errors.0.is_empty() {
            check_unused_params(&graph, &param_leaves, &mut errors);
        }
        if let Some((_, Some(ret_shape))) = &sig.ret {
            let got = graph.shape(*node);
            if got != ret_shape {
                errors.spanned(
                    expr,
                    format!(
                        "the result has shape {got}, but the return type declares shape {ret_shape}"
                    ),
                );
            }
        }
    }
    errors.finish()?;

    // No errors were recorded, so the signature and the body were complete.
    let (Some((ret_ty, Some(ret_shape))), Some(_)) = (sig.ret, tail) else {
        return Err(syn::Error::new_spanned(
            &item.sig.ident,
            "gradc internal error: incomplete network",
        ));
    };
    Ok(Network {
        batch: elem.batch,
        ident: item.sig.ident.clone(),
        vis: item.vis.clone(),
        item,
        dtype,
        args,
        ret_ty,
        ret_shape,
        options,
        graph,
        outputs,
    })
}

/// A parameter the loss does not depend on would silently get a zero gradient
/// forever, which is almost always a typo or a forgotten term, so it is an
/// error. A leading `_` (as for Rust's unused variables) says it is deliberate.
fn check_unused_params(
    graph: &Graph,
    params: &[(gradc_ir::NodeId, syn::Ident)],
    errors: &mut Errors,
) {
    let live = graph.live();
    for (id, ident) in params {
        let name = ident.to_string();
        if !live[id.index()] && !name.starts_with('_') {
            errors.spanned(
                ident,
                format!(
                    "parameter `{name}` does not influence the loss, so its gradient would always be zero; use it, mark it `#[input]` if it is data, or rename it `_{name}` to keep it unused on purpose"
                ),
            );
        }
    }
}

/// Errors collected across the attribute, the signature and the body.
#[derive(Default)]
pub(crate) struct Errors(Vec<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, e: syn::Error) {
        self.0.push(e);
    }

    /// Records an error spanning `tokens`.
    pub(crate) fn spanned(&mut self, tokens: impl ToTokens, message: impl Display) {
        self.0.push(syn::Error::new_spanned(tokens, message));
    }

    /// Records an error at one span.
    pub(crate) fn at(&mut self, span: proc_macro2::Span, message: impl Display) {
        self.0.push(syn::Error::new(span, message));
    }

    /// All errors combined in the order they were found, or `Ok` if there were none.
    pub(crate) fn finish(self) -> Result<(), syn::Error> {
        let mut it = self.0.into_iter();
        match it.next() {
            None => Ok(()),
            Some(mut first) => {
                for e in it {
                    first.combine(e);
                }
                Err(first)
            }
        }
    }
}
