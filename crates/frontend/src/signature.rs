//! The function signature: arguments, `#[input]` markers, and Rust types → shapes.

use crate::Errors;
use gradc_ir::{DType, Shape};
use quote::ToTokens;
use std::collections::BTreeSet;
use syn::{FnArg, Pat, ReturnType, Type};

/// What a type may be, for error messages.
const TYPES: &str = "types are `f32`, `f64` or (nested) arrays of them with integer literal lengths, such as `[f32; 4]` or `[[f32; 2]; 4]`";

/// Tracks the one element type shared by every argument, the return type and
/// `let` annotations: the first one seen decides.
#[derive(Default)]
pub(crate) struct ElemType {
    first: Option<DType>,
}

impl ElemType {
    pub(crate) fn dtype(&self) -> Option<DType> {
        self.first
    }

    fn see(&mut self, dt: DType, at: &syn::TypePath, errors: &mut Errors) -> bool {
        match self.first {
            None => {
                self.first = Some(dt);
                true
            }
            Some(first) if first == dt => true,
            Some(first) => {
                errors.spanned(
                    at,
                    format!(
                        "mixed element types: this is `{}` but the network's element type is `{}`, set by the first type in the signature; all arguments and the return type must share one element type, `f32` or `f64`",
                        dt.name(),
                        first.name()
                    ),
                );
                false
            }
        }
    }
}

/// One argument whose name is known; `shape` is `None` if its type was rejected.
pub(crate) struct SigArg {
    pub ident: syn::Ident,
    pub ty: Type,
    pub shape: Option<Shape>,
    pub is_input: bool,
}

/// The checked signature, as far as it could be understood.
pub(crate) struct Sig {
    pub args: Vec<SigArg>,
    /// The return type with its shape (`None` if rejected); `None` if missing.
    pub ret: Option<(Type, Option<Shape>)>,
}

/// Checks the signature and strips the `#[input]` attributes from `item`.
pub(crate) fn check(item: &mut syn::ItemFn, elem: &mut ElemType, errors: &mut Errors) -> Sig {
    for a in &item.attrs {
        if a.path().is_ident("input") {
            errors.spanned(
                a,
                "`#[input]` marks a data argument, not the function: put it before the argument, as in `fn net(#[input] x: [f32; 4], w: [f32; 4]) -> f32`",
            );
        }
    }
    item.attrs.retain(|a| !a.path().is_ident("input"));
    let sig = &mut item.sig;
    let plain = "a network is a plain `fn NAME(args) -> f32 { ... }`";
    if let Some(t) = &sig.constness {
        errors.spanned(t, format!("`const fn` is not supported; {plain}"));
    }
    if let Some(t) = &sig.asyncness {
        errors.spanned(t, format!("`async fn` is not supported; {plain}"));
    }
    if let Some(t) = &sig.unsafety {
        errors.spanned(t, format!("`unsafe fn` is not supported; {plain}"));
    }
    if let Some(abi) = &sig.abi {
        errors.spanned(
            abi,
            format!("`extern` functions are not supported; {plain}"),
        );
    }
    if !sig.generics.params.is_empty() {
        errors.spanned(
            &sig.generics,
            format!("generic parameters are not supported yet: array lengths must be integer literals; {plain}"),
        );
    }
    if let Some(w) = &sig.generics.where_clause {
        errors.spanned(w, format!("`where` clauses are not supported; {plain}"));
    }
    if let Some(v) = &sig.variadic {
        errors.spanned(v, format!("variadic arguments are not supported; {plain}"));
    }

    let mut args = Vec::new();
    let mut names = BTreeSet::new();
    for arg in sig.inputs.iter_mut() {
        let pt = match arg {
            FnArg::Receiver(r) => {
                errors.spanned(
                    &*r,
                    "`self` is not supported: a network is a free function of its arguments",
                );
                continue;
            }
            FnArg::Typed(pt) => pt,
        };
        let is_input = input_attr(&pt.attrs, errors);
        pt.attrs.retain(|a| !a.path().is_ident("input"));
        let shape = type_shape(&pt.ty, elem, errors);
        let ident = match &*pt.pat {
            Pat::Ident(pi) => {
                if pi.by_ref.is_some() || pi.mutability.is_some() || pi.subpat.is_some() {
                    errors.spanned(
                        pi,
                        "unsupported argument pattern: each argument must be a plain identifier, as in `x: [f32; 4]` (no `mut`, `ref` or `@`)",
                    );
                    // The name is known: keep it, unusable, so its uses stay silent.
                    args.push(SigArg {
                        ident: pi.ident.clone(),
                        ty: (*pt.ty).clone(),
                        shape: None,
                        is_input,
                    });
                    continue;
                }
                pi.ident.clone()
            }
            other => {
                errors.spanned(
                    other,
                    "unsupported argument pattern: each argument must be a plain identifier, as in `x: [f32; 4]`",
                );
                continue;
            }
        };
        if !names.insert(ident.to_string()) {
            errors.spanned(&ident, format!("duplicate argument `{ident}`"));
            continue;
        }
        args.push(SigArg {
            ident,
            ty: (*pt.ty).clone(),
            shape,
            is_input,
        });
    }

    let ret = match &sig.output {
        ReturnType::Default => {
            errors.spanned(
                &sig.ident,
                "missing return type: a network returns its loss (`-> f32` or `-> f64`) or, without parameters, its output",
            );
            None
        }
        ReturnType::Type(_, ty) => {
            let shape = type_shape(ty, elem, errors);
            if let Some(s) = &shape {
                if !s.is_scalar() && args.iter().any(|a| !a.is_input) {
                    errors.spanned(
                        ty,
                        format!(
                            "the loss must be a scalar (`f32`/`f64`) when the network has parameters; this return type has shape {s}. Reduce the result (e.g. `mse(..)`, `sum(..)`, `mean(..)`), or mark every argument `#[input]` for a forward-only network"
                        ),
                    );
                }
            }
            Some(((**ty).clone(), shape))
        }
    };
    Sig { args, ret }
}

/// Whether the argument's attributes mark it `#[input]`; reports any other attribute.
fn input_attr(attrs: &[syn::Attribute], errors: &mut Errors) -> bool {
    let mut is_input = false;
    for a in attrs {
        if a.path().is_ident("input") {
            if !matches!(a.meta, syn::Meta::Path(_)) {
                errors.spanned(a, "`#[input]` takes no arguments; write `#[input]`");
            } else if is_input {
                errors.spanned(a, "duplicate `#[input]`");
            }
            is_input = true;
        } else {
            errors.spanned(
                a,
                "unsupported attribute on an argument; only `#[input]` is supported (it marks data that gets no gradient)",
            );
        }
    }
    is_input
}

/// The shape a Rust type denotes, reporting every problem in it.
pub(crate) fn type_shape(ty: &Type, elem: &mut ElemType, errors: &mut Errors) -> Option<Shape> {
    let mut dims = Vec::new();
    let mut ok = true;
    let mut t = ty;
    loop {
        match t {
            // Invisible groups come from `macro_rules!` substitution.
            Type::Group(g) => t = &g.elem,
            Type::Paren(p) => t = &p.elem,
            Type::Array(a) => {
                match array_len(&a.len) {
                    Ok(n) => dims.push(n),
                    Err(e) => {
                        errors.push(e);
                        ok = false;
                    }
                }
                t = &a.elem;
            }
            Type::Path(p) => {
                let name = match (&p.qself, p.path.get_ident()) {
                    (None, Some(id)) => id.to_string(),
                    _ => {
                        let text = p.to_token_stream().to_string().replace(' ', "");
                        errors.spanned(p, format!("unsupported type `{text}`; {TYPES}"));
                        return None;
                    }
                };
                let dt = match name.as_str() {
                    "f32" => DType::F32,
                    "f64" => DType::F64,
                    _ => {
                        errors.spanned(p, format!("unsupported element type `{name}`; {TYPES}"));
                        return None;
                    }
                };
                ok &= elem.see(dt, p, errors);
                return ok.then(|| Shape::new(dims));
            }
            Type::Reference(r) => {
                errors.spanned(r, format!("references are not supported; {TYPES}"));
                return None;
            }
            Type::Slice(s) => {
                errors.spanned(s, format!("slices have no static length; {TYPES}"));
                return None;
            }
            other => {
                errors.spanned(other, format!("unsupported type; {TYPES}"));
                return None;
            }
        }
    }
}

fn array_len(e: &syn::Expr) -> Result<usize, syn::Error> {
    match e {
        syn::Expr::Group(g) => array_len(&g.expr),
        syn::Expr::Paren(p) => array_len(&p.expr),
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(i),
            ..
        }) => {
            let n: usize = i.base10_parse()?;
            if n == 0 {
                Err(syn::Error::new_spanned(
                    i,
                    "array lengths must be at least 1",
                ))
            } else {
                Ok(n)
            }
        }
        other => Err(syn::Error::new_spanned(
            other,
            "array lengths must be integer literals, such as `[f32; 4]`",
        )),
    }
}
