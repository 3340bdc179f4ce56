//! A source file: its `#[network]` functions and diagnostics in rustc's style.

use crate::Failure;
use gradc_driver::Compiled;
use proc_macro2::TokenStream;
use std::path::{Path, PathBuf};

/// A parsed source file.
pub(crate) struct Source {
    pub path: PathBuf,
    pub text: String,
    file: syn::File,
}

/// A `#[network]` function found in a file.
#[derive(Clone)]
pub(crate) struct Found {
    pub name: String,
    /// The function without its `#[network]` attribute, as the macro receives it.
    pub item: syn::ItemFn,
    /// The attribute's arguments (`fast_math`).
    pub attr: TokenStream,
    /// The layer `fn`s of the `#[gradc::layers]` module it is in, if any.
    pub layers: Vec<syn::ItemFn>,
}

/// `#[network]` or `#[gradc::network]`.
fn is_network_attr(a: &syn::Attribute) -> bool {
    let segs: Vec<String> = a
        .path()
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    matches!(segs.as_slice(), [n] if n == "network")
        || matches!(segs.as_slice(), [g, n] if g == "gradc" && n == "network")
}

/// `#[layers]` or `#[gradc::layers]`.
fn is_layers_attr(a: &syn::Attribute) -> bool {
    let segs: Vec<String> = a
        .path()
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    matches!(segs.as_slice(), [n] if n == "layers")
        || matches!(segs.as_slice(), [g, n] if g == "gradc" && n == "layers")
}

/// The networks among `items`, which may call `layers` (as the macro sees them).
fn collect(items: &[syn::Item], layers: &[syn::ItemFn], out: &mut Vec<Found>) {
    for item in items {
        match item {
            syn::Item::Fn(f) => {
                if let Some(pos) = f.attrs.iter().position(is_network_attr) {
                    let mut item = f.clone();
                    let attr = item.attrs.remove(pos);
                    let attr = match attr.meta {
                        syn::Meta::List(l) => l.tokens,
                        _ => TokenStream::new(),
                    };
                    out.push(Found {
                        name: f.sig.ident.to_string(),
                        item,
                        attr,
                        layers: layers.to_vec(),
                    });
                }
            }
            syn::Item::Mod(m) => {
                if let Some((_, items)) = &m.content {
                    // As `#[gradc::layers]` expands: its plain `fn`s are the
                    // layers of the networks directly inside it.
                    let inner: Vec<syn::ItemFn> = if m.attrs.iter().any(is_layers_attr) {
                        items
                            .iter()
                            .filter_map(|i| match i {
                                syn::Item::Fn(f) if !f.attrs.iter().any(is_network_attr) => {
                                    Some(f.clone())
                                }
                                _ => None,
                            })
                            .collect()
                    } else {
                        Vec::new()
                    };
                    collect(items, &inner, out);
                }
            }
            _ => {}
        }
    }
}

impl Source {
    /// Reads and parses `path`; a syntax error is printed as a diagnostic.
    pub fn load(path: &Path) -> Result<Source, Failure> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let mut src = Source {
            path: path.to_path_buf(),
            text,
            file: syn::File {
                shebang: None,
                attrs: Vec::new(),
                items: Vec::new(),
            },
        };
        match syn::parse_file(&src.text) {
            Ok(f) => src.file = f,
            Err(e) => {
                src.report(&e);
                return Err(Failure::Reported);
            }
        }
        Ok(src)
    }

    /// Every `#[network]` function, in file order.
    pub fn networks(&self) -> Result<Vec<Found>, Failure> {
        let mut out = Vec::new();
        collect(&self.file.items, &[], &mut out);
        if out.is_empty() {
            return Err(format!("no #[network] functions in {}", self.path.display()).into());
        }
        Ok(out)
    }

    /// The network called `name`, or the only one when no name is given.
    pub fn select(&self, name: Option<&str>) -> Result<Found, Failure> {
        let all = self.networks()?;
        let names = || {
            all.iter()
                .map(|f| f.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match name {
            Some(n) => all.iter().find(|f| f.name == n).cloned().ok_or_else(|| {
                format!(
                    "no network `{n}` in {}; it has: {}",
                    self.path.display(),
                    names()
                )
                .into()
            }),
            None if all.len() == 1 => Ok(all[0].clone()),
            None => Err(format!(
                "{} has {} networks ({}); choose one with --network NAME",
                self.path.display(),
                all.len(),
                names()
            )
            .into()),
        }
    }

    /// Runs the macro's pipeline; errors are printed as diagnostics.
    pub fn compile(&self, found: &Found) -> Result<Compiled, Failure> {
        let result = gradc_frontend::lower_with_layers(
            found.attr.clone(),
            found.item.clone(),
            &found.layers,
        )
        .and_then(gradc_driver::compile);
        result.map_err(|e| {
            self.report(&e);
            Failure::Reported
        })
    }

    /// 1-based line of a body statement of `found`, if it exists.
    pub fn stmt_line(&self, found: &Found, stmt: usize) -> Option<usize> {
        use syn::spanned::Spanned;
        found
            .item
            .block
            .stmts
            .get(stmt)
            .map(|s| s.span().start().line)
    }

    /// Line `n` (1-based) of the file.
    pub fn line(&self, n: usize) -> &str {
        self.text.lines().nth(n.saturating_sub(1)).unwrap_or("")
    }

    /// Prints every error of `e` to stderr as rustc does: the message, the
    /// location, the source line and a caret under the span.
    pub fn report(&self, e: &syn::Error) {
        for err in e.clone() {
            eprintln!("{}", self.diagnostic(&err));
        }
    }

    fn diagnostic(&self, e: &syn::Error) -> String {
        let span = e.span();
        let (start, end) = (span.start(), span.end());
        let line = self.line(start.line);
        // Columns count chars; the caret runs to the span's end on the same line.
        let width = if end.line == start.line {
            end.column.saturating_sub(start.column)
        } else {
            line.chars().count().saturating_sub(start.column)
        }
        .max(1);
        let num = start.line.to_string();
        let pad = " ".repeat(num.len());
        let lead: String = line
            .chars()
            .take(start.column)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        format!(
            "error: {msg}\n{pad}--> {path}:{l}:{c}\n{pad} |\n{num} | {line}\n{pad} | {lead}{carets}\n",
            msg = e,
            path = self.path.display(),
            l = start.line,
            c = start.column + 1,
            carets = "^".repeat(width),
        )
    }
}
