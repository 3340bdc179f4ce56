//! The `#[network]` attribute: a thin shell over [`gradc_driver::expand`], which runs
//! the whole pipeline. Use it through the `gradc` facade crate, which re-exports
//! it as `gradc::network`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use proc_macro::TokenStream;

#[doc = include_str!("network.md")]
#[proc_macro_attribute]
pub fn network(attr: TokenStream, item: TokenStream) -> TokenStream {
    gradc_driver::expand(attr.into(), item.into()).into()
}

/// An inline module whose plain `fn`s are layers shared by the `#[network]` fns
/// in it: each call is inlined with that call's shapes (a layer's `_` types are
/// taken from the call), and the layer fns do not remain in the module. Other
/// items stay as written.
///
/// ```
/// #[gradc::layers]
/// mod nets {
///     fn dense(x: _, w: _, b: _) -> _ {
///         tanh(x.matmul(w) + b)
///     }
///
///     #[gradc::network]
///     pub fn narrow(#[input] x: [[f64; 3]; 2], #[input] y: [[f64; 2]; 2], w: [[f64; 2]; 3], b: [f64; 2]) -> f64 {
///         mse(dense(x, w, b), y)
///     }
///
///     #[gradc::network]
///     pub fn deep(
///         #[input] x: [[f64; 3]; 2],
///         #[input] y: [[f64; 2]; 2],
///         w0: [[f64; 4]; 3],
///         b0: [f64; 4],
///         w1: [[f64; 2]; 4],
///         b1: [f64; 2],
///     ) -> f64 {
///         mse(dense(dense(x, w0, b0), w1, b1), y)
///     }
/// }
///
/// let p = nets::narrow::Params { w: [[0.0; 2]; 3], b: [0.0; 2] };
/// let i = nets::narrow::Inputs { x: [[1.0; 3]; 2], y: [[0.0; 2]; 2] };
/// assert_eq!(nets::narrow::forward(&p, &i), 0.0);
/// ```
#[proc_macro_attribute]
pub fn layers(attr: TokenStream, item: TokenStream) -> TokenStream {
    gradc_driver::expand_layers(attr.into(), item.into()).into()
}
