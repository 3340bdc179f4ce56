//! The checked model of a `#[network]` function: what the later stages need,
//! with the original syntax kept so they can point at the user's tokens.

use crate::Options;
use gradc_ir::{DType, Graph, Shape};

/// One function argument: an `#[input]` (data, no gradient) or a parameter.
#[derive(Clone, Debug)]
pub struct Arg {
    /// The argument's name.
    pub ident: syn::Ident,
    /// The type as written, e.g. `[[f32; 2]; 4]`.
    pub ty: syn::Type,
    /// Its shape, from its type.
    pub shape: Shape,
    /// `true` for `#[input]` arguments, `false` for parameters.
    pub is_input: bool,
}

/// A parsed and checked `#[network]` function with its forward graph.
#[derive(Clone, Debug)]
pub struct Network {
    /// The original function with the `#[input]` attributes removed.
    pub item: syn::ItemFn,
    /// The function's name.
    pub ident: syn::Ident,
    /// The function's visibility, given to the generated module.
    pub vis: syn::Visibility,
    /// The one element type of every argument and of the result.
    pub dtype: DType,
    /// All arguments in declaration order.
    pub args: Vec<Arg>,
    /// The declared return type.
    pub ret_ty: syn::Type,
    /// The shape of the return type.
    pub ret_shape: Shape,
    /// The attribute's options (`fast_math`).
    pub options: Options,
    /// Whether the network declares the batch size `const B: usize`. Then the
    /// dimension [`gradc_ir::BATCH`] in input, output and intermediate shapes
    /// (at most one per shape) stands for `B`, divisors that depend on it are
    /// [`gradc_ir::Op::Count`] leaves, and `item` keeps the generic parameter.
    /// Parameter shapes never involve `B`.
    pub batch: bool,
    /// The forward graph: leaves in declaration order, one root named `out`.
    pub graph: Graph,
    /// The values marked `#[output]`, in source order: nodes of `graph`.
    pub outputs: Vec<(syn::Ident, gradc_ir::NodeId)>,
}

impl Network {
    /// The `#[input]` arguments in declaration order.
    pub fn inputs(&self) -> impl Iterator<Item = &Arg> {
        self.args.iter().filter(|a| a.is_input)
    }

    /// The parameters in declaration order.
    pub fn params(&self) -> impl Iterator<Item = &Arg> {
        self.args.iter().filter(|a| !a.is_input)
    }
}
