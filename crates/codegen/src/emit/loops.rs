//! Loops and indexing: loop variables, constant-stride index expressions,
//! `for` nests that skip extent-1 dimensions, and extents as code (`64 * B`).
//! Shared by every op's lowering, so loops look the same whatever emits them.

use crate::names;
use gradc_ir::{Extent, IrError, Shape};
use proc_macro2::{Delimiter, Group, Ident, Literal, Spacing, TokenStream, TokenTree};
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

/// `code` with every loop of one iteration (`for k in 1..2 { .. }`, left by a
/// peeled or reduced axis of extent 2) replaced by its body with the loop
/// variable as the constant `1`, and `1 * s` index terms folded to `s`. The
/// body keeps its braces if it declares a local, so no scope changes.
pub(super) fn unroll_single(code: TokenStream) -> TokenStream {
    let toks: Vec<TokenTree> = code.into_iter().collect();
    let mut out: Vec<TokenTree> = Vec::with_capacity(toks.len());
    let mut i = 0;
    while i < toks.len() {
        if let Some((var, body)) = one_iteration(&toks[i..]) {
            let body = unroll_single(fold_one_times(subst_one(body.stream(), var)));
            let declares = body
                .clone()
                .into_iter()
                .any(|t| matches!(&t, TokenTree::Ident(id) if id == "let"));
            if declares {
                out.push(TokenTree::Group(Group::new(Delimiter::Brace, body)));
            } else {
                out.extend(body);
            }
            i += 8;
            continue;
        }
        match &toks[i] {
            TokenTree::Group(g) => {
                let mut ng = Group::new(g.delimiter(), unroll_single(g.stream()));
                ng.set_span(g.span());
                out.push(TokenTree::Group(ng));
            }
            t => out.push(t.clone()),
        }
        i += 1;
    }
    out.into_iter().collect()
}

/// `for VAR in 1..2 { BODY }` at the start of `t`: the variable and the body.
fn one_iteration(t: &[TokenTree]) -> Option<(&Ident, &Group)> {
    match t {
        [TokenTree::Ident(f), TokenTree::Ident(v), TokenTree::Ident(kw), TokenTree::Literal(a), TokenTree::Punct(p1), TokenTree::Punct(p2), TokenTree::Literal(b), TokenTree::Group(body), ..]
            if f == "for"
                && kw == "in"
                && a.to_string() == "1"
                && p1.as_char() == '.'
                && p1.spacing() == Spacing::Joint
                && p2.as_char() == '.'
                && b.to_string() == "2"
                && body.delimiter() == Delimiter::Brace =>
        {
            Some((v, body))
        }
        _ => None,
    }
}

/// `code` with the identifier `var` replaced by the literal `1`.
fn subst_one(code: TokenStream, var: &Ident) -> TokenStream {
    code.into_iter()
        .map(|t| match t {
            TokenTree::Ident(id) if id == *var => TokenTree::Literal(Literal::usize_unsuffixed(1)),
            TokenTree::Group(g) => {
                let mut ng = Group::new(g.delimiter(), subst_one(g.stream(), var));
                ng.set_span(g.span());
                TokenTree::Group(ng)
            }
            t => t,
        })
        .collect()
}

/// `1 * s` → `s` where `1` starts a term (an index such as `1 * 2 + j`).
fn fold_one_times(code: TokenStream) -> TokenStream {
    let toks: Vec<TokenTree> = code.into_iter().collect();
    let mut out: Vec<TokenTree> = Vec::with_capacity(toks.len());
    let mut i = 0;
    while i < toks.len() {
        let starts_term = match out.last() {
            None => true,
            Some(TokenTree::Punct(p)) => p.as_char() == '+' && p.spacing() == Spacing::Alone,
            Some(_) => false,
        };
        if let [TokenTree::Literal(one), TokenTree::Punct(star), TokenTree::Literal(_) | TokenTree::Ident(_), ..] =
            &toks[i..]
        {
            if starts_term && one.to_string() == "1" && star.as_char() == '*' {
                i += 2;
                continue;
            }
        }
        match &toks[i] {
            TokenTree::Group(g) => {
                let mut ng = Group::new(g.delimiter(), fold_one_times(g.stream()));
                ng.set_span(g.span());
                out.push(TokenTree::Group(ng));
            }
            t => out.push(t.clone()),
        }
        i += 1;
    }
    out.into_iter().collect()
}
