//! The function signature: the batch size `B`, arguments, `#[input]` markers,
//! and Rust types → shapes.

use crate::Errors;
use gradc_ir::{DType, Shape, BATCH};
use quote::ToTokens;
use std::collections::BTreeSet;
use syn::{FnArg, GenericParam, Pat, ReturnType, Type};

/// What a type may be, for error messages.
const TYPES: &str = "types are `f32`, `f64` or (nested) arrays of them with integer literal lengths, such as `[f32; 4]` or `[[f32; 2]; 4]`";

/// What generics may be, for error messages.
const GENERICS: &str = "the only generic parameter supported is the batch size `const B: usize`, as in `fn net<const B: usize>(#[input] x: [[f32; 64]; B], ..)`";

/// What the types of the network share: the one element type of every
/// argument, the return type and `let` annotations (the first one seen
/// decides), and the batch size `B` if the network declares it.
#[derive(Default)]
pub(crate) struct TypeCx {
    first: Option<DType>,
    /// The function declares `const B: usize`, so `B` may be an array length.
    pub batch: bool,
    /// Some `#[input]` type has the length `B`.
    batch_used: bool,
}

/// Where a type appears: decides whether `B` may be one of its lengths.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Input,
    /// Parameters never depend on the batch size, so one trained set of
    /// parameters serves every batch.
    Param,
    /// The return type or a `let` annotation.
    Other,
}

impl TypeCx {
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
pub(crate) fn check(item: &mut syn::ItemFn, elem: &mut TypeCx, errors: &mut Errors) -> Sig {
    let errors_before = errors.0.len();
    for a in &item.attrs {
        if a.path().is_ident("input") {
            errors.spanned(
                a,
                "`#[input]` marks a data argument, not the function: put it before the argument, as in `fn net(#[input] x: [f32; 4], w: [f32; 4]) -> f32`",
            );
        }
    }
    item.attrs.retain(|a| !a.path().is_ident("input"));
    // The first `#[network]` is being expanded; a second would expand the
    // generated function again.
    for a in &item.attrs {
        if a.path()
            .segments
            .last()
            .is_some_and(|s| s.ident == "network")
        {
            errors.spanned(
                a,
                "`#[network]` is applied more than once to this function; remove this one (options go in one attribute: `#[network(fast_math)]`)",
            );
        }
    }
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
    let batch = generics(&sig.generics, errors);
    elem.batch = batch.is_some();
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
        let role = if is_input { Role::Input } else { Role::Param };
        let shape = type_shape(&pt.ty, role, elem, errors);
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
        if !names.insert(crate::lower::unraw(&ident.to_string()).to_string()) {
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
            let shape = type_shape(ty, Role::Other, elem, errors);
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
    if let Some(b) = batch {
        // Only on an otherwise clean signature: an input whose type was
        // rejected early may have been meant to use `B`.
        if !elem.batch_used && errors.0.len() == errors_before {
            errors.spanned(
                b,
                "the batch size `B` is declared but no `#[input]` type uses it; use it as the batch length of the inputs, as in `#[input] x: [[f32; 64]; B]`, or remove it",
            );
        }
    }
    Sig { args, ret }
}

/// Checks the generic parameters: at most `const B: usize`. Returns the `B`
/// if one is declared, even with a reported mistake in its type or default.
fn generics(g: &syn::Generics, errors: &mut Errors) -> Option<syn::Ident> {
    let mut batch: Option<syn::Ident> = None;
    // With a `B` present, another const parameter is an extra one, not a misnamed `B`.
    let declares_b = g
        .params
        .iter()
        .any(|p| matches!(p, GenericParam::Const(c) if c.ident == "B"));
    for p in &g.params {
        let c = match p {
            GenericParam::Lifetime(l) => {
                errors.spanned(
                    l,
                    format!("lifetime parameters are not supported; {GENERICS}"),
                );
                continue;
            }
            GenericParam::Type(t) => {
                errors.spanned(t, format!("type parameters are not supported; {GENERICS}"));
                continue;
            }
            GenericParam::Const(c) => c,
        };
        if let Some(a) = c.attrs.first() {
            errors.spanned(
                a,
                format!("attributes on generic parameters are not supported; {GENERICS}"),
            );
        }
        if c.ident != "B" {
            let msg = if declares_b {
                format!("only one generic parameter is supported; {GENERICS}")
            } else {
                format!("the batch size must be named `B` (the only name array lengths may use); {GENERICS}")
            };
            errors.spanned(&c.ident, msg);
            continue;
        }
        if batch.is_some() {
            errors.spanned(
                p,
                format!("only one generic parameter is supported; {GENERICS}"),
            );
            continue;
        }
        let is_usize =
            matches!(&c.ty, Type::Path(tp) if tp.qself.is_none() && tp.path.is_ident("usize"));
        if !is_usize {
            errors.spanned(
                &c.ty,
                format!("the batch size must have type `usize`; {GENERICS}"),
            );
        }
        if let Some(d) = &c.default {
            let mut eq_default = c.eq_token.to_token_stream();
            d.to_tokens(&mut eq_default);
            errors.spanned(
                eq_default,
                format!(
                    "a default batch size is not supported: the caller chooses `B`; {GENERICS}"
                ),
            );
        }
        // A malformed `B` still counts as declared, so its uses as a length
        // do not report the same mistake again.
        batch = Some(c.ident.clone());
    }
    batch
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

/// The shape a Rust type denotes, reporting every problem in it. The length
/// `B` (if declared) becomes the dimension [`BATCH`].
pub(crate) fn type_shape(
    ty: &Type,
    role: Role,
    elem: &mut TypeCx,
    errors: &mut Errors,
) -> Option<Shape> {
    let mut dims = Vec::new();
    let mut ok = true;
    let mut has_batch = false;
    let mut t = ty;
    loop {
        match t {
            // Invisible groups come from `macro_rules!` substitution.
            Type::Group(g) => t = &g.elem,
            Type::Paren(p) => t = &p.elem,
            Type::Array(a) => {
                match array_len(&a.len, elem.batch) {
                    Ok(Len::Fixed(n)) => dims.push(n),
                    Ok(Len::Batch(b)) => {
                        if role == Role::Param {
                            errors.spanned(
                                b,
                                "parameters do not depend on the batch size: `B` may only be a length of `#[input]` types, the return type and `let` annotations, so that one set of trained parameters serves every batch size; mark this argument `#[input]` if it is data",
                            );
                            ok = false;
                        } else if has_batch {
                            errors.spanned(
                                b,
                                "at most one length of a type may be the batch size `B`",
                            );
                            ok = false;
                        } else {
                            has_batch = true;
                            elem.batch_used |= role == Role::Input;
                            dims.push(BATCH);
                        }
                    }
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
                let shape = Shape::new(dims);
                // With `B` the count is that of a batch of `BATCH` (a million)
                // rows: no smaller type can overflow a count later.
                if ok && shape.bytes(dt.size()).is_none() {
                    errors.spanned(
                        ty,
                        format!(
                            "values of this type would take more than {} bytes, the most any Rust value may take{}",
                            gradc_ir::MAX_BYTES,
                            if has_batch {
                                " (at a batch size `B` of a million, which gradc must allow)"
                            } else {
                                ""
                            }
                        ),
                    );
                    return None;
                }
                return ok.then_some(shape);
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

/// An array length: a literal, or the batch size `B` (its token).
enum Len<'a> {
    Fixed(usize),
    Batch(&'a syn::Ident),
}

fn array_len(e: &syn::Expr, batch: bool) -> Result<Len<'_>, syn::Error> {
    match e {
        syn::Expr::Group(g) => array_len(&g.expr, batch),
        syn::Expr::Paren(p) => array_len(&p.expr, batch),
        syn::Expr::Path(p) if batch && p.qself.is_none() && p.path.is_ident("B") => {
            Ok(Len::Batch(&p.path.segments[0].ident))
        }
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(i),
            ..
        }) => {
            if !matches!(i.suffix(), "" | "usize") {
                return Err(syn::Error::new_spanned(
                    i,
                    format!(
                        "array lengths are `usize`, not `{}`: write `{}` or `{}usize`",
                        i.suffix(),
                        i.base10_digits(),
                        i.base10_digits()
                    ),
                ));
            }
            let n: usize = i.base10_parse().map_err(|_| {
                syn::Error::new_spanned(
                    i,
                    format!("the array length {} does not fit in `usize`", i.base10_digits()),
                )
            })?;
            if n == 0 {
                Err(syn::Error::new_spanned(
                    i,
                    "array lengths must be at least 1",
                ))
            } else if n.is_multiple_of(BATCH) {
                // They would read back as the symbolic batch size.
                Err(syn::Error::new_spanned(
                    i,
                    format!("array lengths that are multiples of {BATCH} are not supported (gradc reserves them for the batch size `B`)"),
                ))
            } else {
                Ok(Len::Fixed(n))
            }
        }
        other => Err(syn::Error::new_spanned(
            other,
            "array lengths must be integer literals, such as `[f32; 4]`, or the batch size `B` of a network declared as `fn net<const B: usize>(..)`",
        )),
    }
}
