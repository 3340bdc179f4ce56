//! Running an expansion on a thread with a large stack. Parsing, lowering,
//! the passes and quoting recurse on the depth of the user's expressions;
//! rustc parses bodies far deeper than a proc macro's share of its own
//! stack allows (850 nested parentheses), so the work runs on a thread of
//! [`STACK_BYTES`] and joins it.
//!
//! Proc-macro tokens belong to the macro's thread, so they cross as text:
//! the caller renders the tokens with each token's byte offset, the worker
//! lexes that text (proc-macro2's own lexer, whose spans know their offsets)
//! and expands it, and its output tokens come back as a tree keyed by those
//! offsets, rebuilt with the caller's spans: an error at a user's token stays
//! at that token, and generated tokens keep the call site.

use proc_macro2::{Delimiter, Group, Ident, Literal, Punct, Spacing, Span, TokenStream, TokenTree};
use std::collections::HashMap;

/// The worker thread's stack: room for ~10 000 levels of nesting in every
/// stage, and only address space until touched.
pub const STACK_BYTES: usize = 256 << 20;

/// A token tree that can cross threads: spans become byte offsets into the
/// rendered input (`None` for tokens the expansion made).
enum Tok {
    Group(Delimiter, Vec<Tok>, Option<usize>),
    Ident(String, Option<usize>),
    Punct(char, Spacing, Option<usize>),
    Literal(String, Option<usize>),
}

/// The input rendered as text, each token's span by its offset, and the
/// offsets of the invisible groups (written as parentheses).
struct Rendered {
    text: String,
    spans: HashMap<usize, Span>,
    invisible: Vec<usize>,
    /// The last token was a joint punct: the next goes right after it (`::`,
    /// `'a`), else a space separates tokens.
    glue: bool,
}

impl Rendered {
    fn sep(&mut self) {
        if !std::mem::take(&mut self.glue) {
            self.text.push(' ');
        }
    }

    fn push(&mut self, ts: TokenStream) {
        for t in ts {
            self.sep();
            let at = self.text.len();
            self.spans.insert(at, t.span());
            match t {
                TokenTree::Group(g) => {
                    let (open, close) = match g.delimiter() {
                        Delimiter::Parenthesis => ('(', ')'),
                        Delimiter::Brace => ('{', '}'),
                        Delimiter::Bracket => ('[', ']'),
                        Delimiter::None => {
                            self.invisible.push(at);
                            ('(', ')')
                        }
                    };
                    self.text.push(open);
                    self.push(g.stream());
                    self.sep();
                    self.text.push(close);
                }
                TokenTree::Ident(i) => self.text.push_str(&i.to_string()),
                TokenTree::Punct(p) => {
                    self.text.push(p.as_char());
                    self.glue = p.spacing() == Spacing::Joint;
                }
                TokenTree::Literal(l) => self.text.push_str(&l.to_string()),
            }
        }
    }
}

/// Lexes the rendered text on the worker, restoring the invisible groups.
fn relex(text: &str, invisible: &[usize]) -> Option<TokenStream> {
    let ts: TokenStream = text.parse().ok()?;
    Some(restore(ts, invisible))
}

fn restore(ts: TokenStream, invisible: &[usize]) -> TokenStream {
    ts.into_iter()
        .map(|t| match t {
            TokenTree::Group(g) => {
                let inner = restore(g.stream(), invisible);
                let at = g.span().byte_range().start;
                let d = if g.delimiter() == Delimiter::Parenthesis && invisible.contains(&at) {
                    Delimiter::None
                } else {
                    g.delimiter()
                };
                let mut n = Group::new(d, inner);
                n.set_span(g.span());
                TokenTree::Group(n)
            }
            other => other,
        })
        .collect()
}

fn offset(s: Span) -> Option<usize> {
    let r = s.byte_range();
    (r.start > 0).then_some(r.start)
}

/// The worker's output as a sendable tree.
fn freeze(ts: TokenStream) -> Vec<Tok> {
    ts.into_iter()
        .map(|t| match t {
            TokenTree::Group(g) => Tok::Group(g.delimiter(), freeze(g.stream()), offset(g.span())),
            TokenTree::Ident(i) => Tok::Ident(i.to_string(), offset(i.span())),
            TokenTree::Punct(p) => Tok::Punct(p.as_char(), p.spacing(), offset(p.span())),
            TokenTree::Literal(l) => Tok::Literal(l.to_string(), offset(l.span())),
        })
        .collect()
}

/// Rebuilds the output on the caller's thread with the caller's spans.
fn thaw(toks: Vec<Tok>, spans: &HashMap<usize, Span>) -> TokenStream {
    let span = |o: Option<usize>| {
        o.and_then(|o| spans.get(&o).copied())
            .unwrap_or_else(Span::call_site)
    };
    toks.into_iter()
        .map(|t| match t {
            Tok::Group(d, inner, o) => {
                let mut g = Group::new(d, thaw(inner, spans));
                g.set_span(span(o));
                TokenTree::Group(g)
            }
            Tok::Ident(s, o) => TokenTree::Ident(match s.strip_prefix("r#") {
                Some(raw) => Ident::new_raw(raw, span(o)),
                None => Ident::new(&s, span(o)),
            }),
            Tok::Punct(c, sp, o) => {
                let mut p = Punct::new(c, sp);
                p.set_span(span(o));
                TokenTree::Punct(p)
            }
            Tok::Literal(s, o) => match s.parse::<Literal>() {
                Ok(mut l) => {
                    l.set_span(span(o));
                    TokenTree::Literal(l)
                }
                // A negative number literal lexes as `-` and the number.
                Err(_) => {
                    TokenTree::Group(Group::new(Delimiter::None, s.parse().unwrap_or_default()))
                }
            },
        })
        .collect()
}

/// `f(attr, item)` on a thread with a [`STACK_BYTES`] stack, as if called
/// here. If the thread cannot be started, `f` runs here; if it panics (a
/// gradc bug), the result is a `compile_error!` saying so.
pub fn on_big_stack(
    f: fn(TokenStream, TokenStream) -> TokenStream,
    attr: TokenStream,
    item: TokenStream,
) -> TokenStream {
    let mut r = Rendered {
        // Offset 0 is the call site's: no token starts there.
        text: String::from(" "),
        spans: HashMap::new(),
        invisible: Vec::new(),
        glue: false,
    };
    // One text, so every offset is unique: `[attr] {item}`.
    r.text.push('[');
    r.push(attr.clone());
    r.text.push_str(" ] {");
    r.push(item.clone());
    r.text.push_str(" }");
    let Rendered {
        text,
        spans,
        invisible,
        ..
    } = r;
    let work = move || -> Option<Vec<Tok>> {
        let ts = relex(&text, &invisible)?;
        let mut it = ts.into_iter();
        let (Some(TokenTree::Group(a)), Some(TokenTree::Group(i)), None) =
            (it.next(), it.next(), it.next())
        else {
            return None;
        };
        Some(freeze(f(a.stream(), i.stream())))
    };
    // proc-macro2 decides once per process whether the compiler's tokens are
    // there; on the worker they are not, so it must use its own until the
    // worker is done. This thread only waits meanwhile, and re-detects after
    // (on this thread, where the compiler's tokens work again).
    proc_macro2::fallback::force();
    let spawned = std::thread::Builder::new()
        .name("gradc-expand".into())
        .stack_size(STACK_BYTES)
        .spawn(work);
    let joined = spawned.map(|h| h.join());
    proc_macro2::fallback::unforce();
    match joined {
        Ok(Ok(Some(toks))) => thaw(toks, &spans),
        // The text did not lex back (it always should): expand here.
        Ok(Ok(None)) | Err(_) => f(attr, item),
        Ok(Err(_)) => syn::Error::new(
            Span::call_site(),
            "gradc internal error: the expansion panicked (please report this network)",
        )
        .to_compile_error(),
    }
}
