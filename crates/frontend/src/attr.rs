//! The attribute's own arguments: `#[network]`, `#[network(fast_math)]`.

use proc_macro2::TokenStream;
use syn::parse::Parser;

/// Options from the attribute: `#[network]`, `#[network(fast_math)]`.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Allow rewrites that are not exact under IEEE-754 (the optimizer's inexact tier).
    pub fast_math: bool,
}

/// Names accepted inside `#[network(...)]`, for error messages.
const SUPPORTED: &str = "supported options: `fast_math`";

/// Parses the attribute arguments. The meta parser stops at the first problem, so
/// this reports one error at most.
pub(crate) fn parse_options(attr: TokenStream) -> Result<Options, syn::Error> {
    let mut options = Options::default();
    let mut seen_fast_math = false;
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("fast_math") {
            if seen_fast_math {
                return Err(meta.error("duplicate option `fast_math`"));
            }
            seen_fast_math = true;
            // A bare flag: `fast_math = true` or `fast_math(..)` would be guesswork.
            if !(meta.input.is_empty() || meta.input.peek(syn::Token![,])) {
                return Err(meta.error(
                    "`fast_math` is a flag and takes no value; write `#[network(fast_math)]`",
                ));
            }
            options.fast_math = true;
            Ok(())
        } else {
            let name = path_text(&meta.path);
            Err(meta.error(format!("unknown option `{name}`; {SUPPORTED}")))
        }
    });
    // A string (`"fast_math"`) or other non-name: syn's message alone does
    // not say what an option looks like.
    if let Some(t) = attr.clone().into_iter().find(|t| {
        !matches!(
            t,
            proc_macro2::TokenTree::Ident(_) | proc_macro2::TokenTree::Punct(_)
        )
    }) {
        if let proc_macro2::TokenTree::Literal(l) = &t {
            let text = l.to_string();
            let bare = text.trim_matches('"');
            if text.starts_with('"') && bare == "fast_math" {
                return Err(syn::Error::new_spanned(
                    t,
                    "options are names, not strings: write `#[network(fast_math)]`",
                ));
            }
        }
    }
    parser.parse2(attr).map_err(|e| {
        if e.to_string().contains(SUPPORTED) || e.to_string().contains("`fast_math`") {
            e
        } else {
            syn::Error::new(
                e.span(),
                format!("{e}; options are bare names, as in `#[network(fast_math)]`; {SUPPORTED}"),
            )
        }
    })?;
    Ok(options)
}

fn path_text(p: &syn::Path) -> String {
    p.segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect::<Vec<_>>()
        .join("::")
}
