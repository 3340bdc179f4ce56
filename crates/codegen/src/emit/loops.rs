//! Loops and indexing: loop variables, constant-stride index expressions,
//! `for` nests that skip extent-1 dimensions, and extents as code (`64 * B`).
//! Shared by every op's lowering, so loops look the same whatever emits them.

use crate::names;
use gradc_ir::{Extent, IrError, Shape};
use proc_macro2::{Ident, Literal, TokenStream};
use quote::quote;

/// Loop variables (`None` for extent 1) and the shape they run over.
pub(super) type Loop<'a> = (&'a [Option<Ident>], &'a Shape);

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

/// Loop variables for the given extents: `None` for an extent of 1 (no loop, the
/// index is always 0), otherwise `i`, `j`, `k`, ... in nesting order.
pub(super) fn loop_vars(dims: &[usize]) -> Vec<Option<Ident>> {
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
pub(super) fn index(terms: &[(&Option<Ident>, usize)]) -> TokenStream {
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

pub(super) fn index_of(vars: &[Option<Ident>], strides: &[usize]) -> TokenStream {
    let terms: Vec<_> = vars.iter().zip(strides.iter().copied()).collect();
    index(&terms)
}

/// Wraps `body` in `for` loops (outermost first), skipping extent-1 dimensions.
pub(super) fn nest(vars: &[Option<Ident>], dims: &[usize], body: TokenStream) -> TokenStream {
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
pub(super) fn peel(
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
pub(super) fn flatten_mut(place: TokenStream, rank: usize) -> TokenStream {
    (1..rank).fold(place, |p, _| quote!(#p.as_flattened_mut()))
}
