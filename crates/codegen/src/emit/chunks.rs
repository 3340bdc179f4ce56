//! Large bodies as several functions. rustc's borrow checker takes time
//! superlinear in a function's size, and a debug build nests one lexical
//! scope per `let`, which overflows rustc's stack in DWARF generation (a
//! 300-layer network's one function did both). So a large graph's body is
//! cut at node boundaries into parts of about [`PART_STMTS`] statements, each
//! a `#[inline(never)]` function: the generated entry point calls them in
//! order, and no function grows with the network.
//!
//! A part gets what earlier parts computed in one of two ways ([`Def`]):
//! tensors are borrowed again from where they live (in a chunked body every
//! tensor is a `Workspace` field, a `grads` field or a leaf, never a stack
//! array), scalars and returned arrays are passed by value and returned.

use super::Emitter;
use proc_macro2::{Ident, TokenStream, TokenTree};
use quote::{format_ident, quote};
use std::collections::{BTreeMap, BTreeSet};

/// Graphs with more live nodes than this are emitted in parts.
const MIN_NODES: usize = 400;

/// About this many statements (at node boundaries) per part.
const PART_STMTS: usize = 120;

/// Whether a graph with these live nodes is emitted in parts.
pub(super) fn is_large(live: &[bool]) -> bool {
    live.iter().filter(|l| **l).count() > MIN_NODES
}

/// How a later part gets a top-level local.
#[derive(Clone, Debug)]
pub(super) enum Def {
    /// Borrowed again: `let name: ty = init;` (`init` reads `params`,
    /// `inputs`, `grads`, the workspace or other places).
    Place {
        name: Ident,
        ty: Option<TokenStream>,
        init: TokenStream,
        stmt: usize,
    },
    /// Passed by value (a scalar, an output array).
    Value {
        name: Ident,
        ty: TokenStream,
        stmt: usize,
    },
}

impl Def {
    fn name(&self) -> &Ident {
        match self {
            Def::Place { name, .. } | Def::Value { name, .. } => name,
        }
    }
    fn stmt(&self) -> usize {
        match self {
            Def::Place { stmt, .. } | Def::Value { stmt, .. } => *stmt,
        }
    }
    /// `name: ty` of a value passed between parts.
    fn value_decl(&self) -> Option<(&Ident, &TokenStream)> {
        match self {
            Def::Value { name, ty, .. } => Some((name, ty)),
            Def::Place { .. } => None,
        }
    }
}

impl<'g> Emitter<'g> {
    /// Records that the next statement binds `name`, a value of type `ty`.
    pub(super) fn def_value(&mut self, name: &Ident, ty: TokenStream) {
        if self.chunked {
            let stmt = self.stmts.len();
            self.defs.push(Def::Value {
                name: name.clone(),
                ty,
                stmt,
            });
        }
    }

    /// Records that the next statement binds `name` to the place `init`.
    pub(super) fn def_place(&mut self, name: &Ident, ty: Option<TokenStream>, init: TokenStream) {
        if self.chunked {
            let stmt = self.stmts.len();
            self.defs.push(Def::Place {
                name: name.clone(),
                ty,
                init,
                stmt,
            });
        }
    }

    /// Records that the next statement binds `name` to the place `of` is at.
    pub(super) fn def_same_place(&mut self, name: &Ident, of: &Ident) {
        let found = self.defs.iter().rev().find_map(|d| match d {
            Def::Place { name, ty, init, .. } if name == of => Some((ty.clone(), init.clone())),
            _ => None,
        });
        if let Some((ty, init)) = found {
            self.def_place(name, ty, init);
        }
    }
}

/// Identifiers a token stream mentions, except field and method names
/// (those right after a `.`).
fn mentions(ts: &TokenStream, out: &mut BTreeSet<String>) {
    let mut after_dot = false;
    for t in ts.clone() {
        match &t {
            TokenTree::Ident(i) => {
                if !after_dot {
                    out.insert(i.to_string());
                }
                after_dot = false;
            }
            TokenTree::Punct(p) => after_dot = p.as_char() == '.',
            TokenTree::Group(g) => {
                mentions(&g.stream(), out);
                after_dot = false;
            }
            TokenTree::Literal(_) => after_dot = false,
        }
    }
}

/// A body split into parts: the part functions and the entry point's body.
pub(super) struct Parts {
    /// The `fn`s, to put next to the entry point.
    pub items: TokenStream,
    /// The entry point's statements: one call per part.
    pub body: TokenStream,
}

/// Splits `stmts` (starting a part only at one of `starts`) into functions
/// named `{prefix}_part{k}` with generics `gp` and the leading arguments
/// `args` (name, type), passed on unchanged by the entry point. `tail` is
/// the entry point's final expression; what it reads is returned to it.
pub(super) fn split(
    stmts: &[TokenStream],
    starts: &[usize],
    defs: &[Def],
    tail: &TokenStream,
    prefix: &str,
    gp: &TokenStream,
    args: &[(Ident, TokenStream)],
) -> Parts {
    // Part boundaries: the first node start at or past each multiple of PART_STMTS.
    let mut bounds = vec![0];
    for &s in starts {
        if s >= bounds[bounds.len() - 1] + PART_STMTS && s < stmts.len() {
            bounds.push(s);
        }
    }
    bounds.push(stmts.len());
    let part_of = |stmt: usize| bounds.partition_point(|&b| b <= stmt) - 1;
    let by_name: BTreeMap<String, &Def> = defs.iter().map(|d| (d.name().to_string(), d)).collect();

    // What each part reads of earlier parts, and what the tail reads.
    let nparts = bounds.len() - 1;
    let mut places: Vec<BTreeSet<(usize, String)>> = vec![BTreeSet::new(); nparts + 1];
    let mut values: Vec<BTreeSet<(usize, String)>> = vec![BTreeSet::new(); nparts + 1];
    for k in 0..=nparts {
        let mut used = BTreeSet::new();
        if k < nparts {
            for s in &stmts[bounds[k]..bounds[k + 1]] {
                mentions(s, &mut used);
            }
        } else {
            mentions(tail, &mut used);
        }
        // Places are borrowed again with what their expressions read.
        let mut todo: Vec<String> = used.into_iter().collect();
        while let Some(n) = todo.pop() {
            let Some(d) = by_name.get(&n) else { continue };
            let before = k == nparts || part_of(d.stmt()) < k;
            if !before {
                continue;
            }
            match d {
                Def::Place { init, stmt, .. } => {
                    if places[k].insert((*stmt, n)) {
                        let mut deps = BTreeSet::new();
                        mentions(init, &mut deps);
                        todo.extend(deps);
                    }
                }
                Def::Value { stmt, .. } => {
                    values[k].insert((*stmt, n));
                }
            }
        }
    }
    // A part returns the values it defines that later parts or the tail read.
    let mut returns: Vec<Vec<&Def>> = vec![Vec::new(); nparts];
    let mut returned = BTreeSet::new();
    for vs in &values {
        for (_, n) in vs {
            if returned.insert(n.clone()) {
                if let Some(d) = by_name.get(n) {
                    returns[part_of(d.stmt())].push(d);
                }
            }
        }
    }
    for r in &mut returns {
        r.sort_by_key(|d| d.stmt());
    }

    let arg_names: Vec<&Ident> = args.iter().map(|(n, _)| n).collect();
    let arg_decls: Vec<TokenStream> = args.iter().map(|(n, t)| quote!(#n: #t)).collect();
    let reborrow = |set: &BTreeSet<(usize, String)>| -> Vec<TokenStream> {
        set.iter()
            .filter_map(|(_, n)| match by_name.get(n) {
                Some(Def::Place { name, ty, init, .. }) => Some(match ty {
                    Some(t) => quote!(let #name: #t = #init;),
                    None => quote!(let #name = #init;),
                }),
                _ => None,
            })
            .collect()
    };
    let value_defs = |set: &BTreeSet<(usize, String)>| -> Vec<&Def> {
        set.iter()
            .filter_map(|(_, n)| by_name.get(n).copied())
            .collect()
    };
    let mut items = TokenStream::new();
    let mut body = TokenStream::new();
    for k in 0..nparts {
        let f = format_ident!("{}_part{}", prefix, k);
        let ins = value_defs(&values[k]);
        let in_names: Vec<&Ident> = ins.iter().map(|d| d.name()).collect();
        let in_decls: Vec<TokenStream> = ins
            .iter()
            .filter_map(|d| d.value_decl())
            .map(|(name, ty)| quote!(#name: #ty))
            .collect();
        let outs: Vec<&Ident> = returns[k].iter().map(|d| d.name()).collect();
        let out_tys: Vec<&TokenStream> = returns[k]
            .iter()
            .filter_map(|d| d.value_decl())
            .map(|(_, ty)| ty)
            .collect();
        let (ret_ty, ret, bind) = match outs.len() {
            0 => (quote!(), quote!(), quote!()),
            1 => {
                let (t, n) = (out_tys[0], outs[0]);
                (quote!(-> #t), quote!(#n), quote!(let #n =))
            }
            _ => (
                quote!(-> (#(#out_tys),*)),
                quote!((#(#outs),*)),
                quote!(let (#(#outs),*) =),
            ),
        };
        let prelude = reborrow(&places[k]);
        let code = &stmts[bounds[k]..bounds[k + 1]];
        items.extend(quote! {
            #[inline(never)]
            #[allow(unused_variables)]
            fn #f #gp (#(#arg_decls,)* #(#in_decls),*) #ret_ty {
                #(#prelude)*
                #(#code)*
                #ret
            }
        });
        body.extend(quote!(#bind #f(#(#arg_names,)* #(#in_names),*);));
    }
    let prelude = reborrow(&places[nparts]);
    body.extend(quote!(#(#prelude)*));
    Parts { items, body }
}
