//! Precedence-aware expression building: operands get parentheses exactly where
//! Rust needs them, so the output never trips `unused_parens` or
//! `double_negations` and never changes meaning.

use gradc_ir::{DType, IrError};
use proc_macro2::{Literal, TokenStream};
use quote::quote;
use std::str::FromStr;

/// Binding strength of an expression's outermost operator, weakest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Prec {
    /// `if c { a } else { b }`
    If,
    /// `a > b`, `a >= b`, `a == b` (non-associative)
    Cmp,
    /// `a + b`, `a - b`
    Add,
    /// `a * b`, `a / b`
    Mul,
    /// `-a`
    Unary,
    /// names, literals, calls, `x[i]`, `x.exp()`
    Postfix,
}

/// An expression with the precedence of its outermost operator.
#[derive(Clone, Debug)]
pub(crate) struct E {
    pub(crate) ts: TokenStream,
    pub(crate) prec: Prec,
}

impl E {
    pub(crate) fn atom(ts: TokenStream) -> E {
        E {
            ts,
            prec: Prec::Postfix,
        }
    }

    /// The tokens for use where an expression binding at least `min` is needed.
    pub(crate) fn at(&self, min: Prec) -> TokenStream {
        let ts = &self.ts;
        if self.prec >= min {
            ts.clone()
        } else {
            quote!((#ts))
        }
    }
}

fn binop(a: &E, op: TokenStream, b: &E, p: Prec) -> E {
    // Left-associative, so the right operand must bind strictly tighter; the
    // comparisons do not chain at all.
    let (lmin, rmin) = match p {
        Prec::Cmp => (Prec::Add, Prec::Add),
        Prec::Add => (Prec::Add, Prec::Mul),
        Prec::Mul => (Prec::Mul, Prec::Unary),
        Prec::If | Prec::Unary | Prec::Postfix => (Prec::Postfix, Prec::Postfix),
    };
    let (l, r) = (a.at(lmin), b.at(rmin));
    E {
        ts: quote!(#l #op #r),
        prec: p,
    }
}

pub(crate) fn add(a: &E, b: &E) -> E {
    binop(a, quote!(+), b, Prec::Add)
}
pub(crate) fn sub(a: &E, b: &E) -> E {
    binop(a, quote!(-), b, Prec::Add)
}
pub(crate) fn mul(a: &E, b: &E) -> E {
    binop(a, quote!(*), b, Prec::Mul)
}
pub(crate) fn div(a: &E, b: &E) -> E {
    binop(a, quote!(/), b, Prec::Mul)
}
pub(crate) fn gt(a: &E, b: &E) -> E {
    binop(a, quote!(>), b, Prec::Cmp)
}
pub(crate) fn ge(a: &E, b: &E) -> E {
    binop(a, quote!(>=), b, Prec::Cmp)
}
pub(crate) fn eq(a: &E, b: &E) -> E {
    binop(a, quote!(==), b, Prec::Cmp)
}

/// `-a`; a unary operand is parenthesised so `- -x` never appears.
pub(crate) fn neg(a: &E) -> E {
    let x = a.at(Prec::Postfix);
    E {
        ts: quote!(-#x),
        prec: Prec::Unary,
    }
}

pub(crate) fn if_else(cond: &E, then: &E, other: &E) -> E {
    let (c, t, o) = (&cond.ts, &then.ts, &other.ts);
    E {
        ts: quote!(if #c { #t } else { #o }),
        prec: Prec::If,
    }
}

/// `recv.name(args)`.
pub(crate) fn method(recv: &E, name: TokenStream, args: TokenStream) -> E {
    let r = recv.at(Prec::Postfix);
    E::atom(quote!(#r.#name(#args)))
}

/// A call of a free function path with one argument.
pub(crate) fn call(path: TokenStream, arg: &E) -> E {
    let a = &arg.ts;
    E::atom(quote!(#path(#a)))
}

/// An integer literal, with a separate minus sign if negative.
pub(crate) fn int(n: i64) -> TokenStream {
    let lit = Literal::u64_unsuffixed(n.unsigned_abs());
    if n < 0 {
        quote!(-#lit)
    } else {
        quote!(#lit)
    }
}

/// The element type's name as tokens.
pub(crate) fn elem(dtype: DType) -> TokenStream {
    match dtype {
        DType::F32 => quote!(f32),
        DType::F64 => quote!(f64),
    }
}

/// A float constant of the element type, e.g. `0.5f32`, formatted so it reads
/// back as exactly the same value of that type; non-finite values use the
/// type's associated constants.
pub(crate) fn float(v: f64, dtype: DType) -> Result<E, IrError> {
    let t = elem(dtype);
    let (finite, negative, text) = match dtype {
        DType::F32 => {
            let x = v as f32;
            (
                x.is_finite(),
                x.is_sign_negative() && x != 0.0,
                format!("{:?}f32", x.abs()),
            )
        }
        DType::F64 => (
            v.is_finite(),
            v.is_sign_negative() && v != 0.0,
            format!("{:?}f64", v.abs()),
        ),
    };
    if !finite {
        let c = if v.is_nan() {
            quote!(NAN)
        } else if v > 0.0 {
            quote!(INFINITY)
        } else {
            quote!(NEG_INFINITY)
        };
        return Ok(E::atom(quote!(#t::#c)));
    }
    let lit = Literal::from_str(&text)
        .map_err(|e| IrError::new(format!("codegen: constant {v} gives no literal: {e:?}")))?;
    Ok(if negative {
        E {
            ts: quote!(-#lit),
            prec: Prec::Unary,
        }
    } else {
        E::atom(quote!(#lit))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(e: &E) -> String {
        e.ts.to_string()
    }

    #[test]
    fn parentheses_only_where_needed() {
        let a = E::atom(quote!(a));
        let b = E::atom(quote!(b));
        let c = E::atom(quote!(c));
        assert_eq!(s(&sub(&a, &sub(&b, &c))), "a - (b - c)");
        assert_eq!(s(&sub(&sub(&a, &b), &c)), "a - b - c");
        assert_eq!(s(&mul(&add(&a, &b), &c)), "(a + b) * c");
        let m = float(-1.5, DType::F32).unwrap();
        assert_eq!(s(&mul(&a, &m)), "a * - 1.5f32");
        assert_eq!(s(&neg(&m)), "- (- 1.5f32)");
        assert_eq!(s(&method(&m, quote!(exp), quote!())), "(- 1.5f32) . exp ()");
        assert_eq!(s(&float(0.1, DType::F32).unwrap()), "0.1f32");
        assert_eq!(s(&float(0.1, DType::F64).unwrap()), "0.1f64");
        assert_eq!(s(&float(2.0, DType::F64).unwrap()), "2.0f64");
        assert_eq!(s(&float(1e-30, DType::F64).unwrap()), "1e-30f64");
        assert_eq!(
            s(&float(f64::NEG_INFINITY, DType::F32).unwrap()),
            "f32 :: NEG_INFINITY"
        );
        assert_eq!(s(&float(-0.0, DType::F32).unwrap()), "0.0f32");
    }
}
