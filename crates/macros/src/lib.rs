//! The `#[network]` attribute: a thin shell over [`gradc_driver::expand`], which runs
//! the whole pipeline. Use it through the `gradc` facade crate.

#![forbid(unsafe_code)]

use proc_macro::TokenStream;

/// Compiles a network function; see the `gradc` crate documentation.
#[proc_macro_attribute]
pub fn network(attr: TokenStream, item: TokenStream) -> TokenStream {
    gradc_driver::expand(attr.into(), item.into()).into()
}

/// An inline module whose plain `fn`s are layers shared by the `#[network]`
/// fns in it; see the `gradc` crate documentation.
#[proc_macro_attribute]
pub fn layers(attr: TokenStream, item: TokenStream) -> TokenStream {
    gradc_driver::expand_layers(attr.into(), item.into()).into()
}
