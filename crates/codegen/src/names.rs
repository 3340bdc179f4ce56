//! Local-variable naming for generated code: the one place that decides what a
//! node is called, so the readable-code work can change it without touching the
//! emitters.

use gradc_ir::{Graph, NodeId};
use proc_macro2::{Ident, Span};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Node index → the local that holds its value (first local if several).
pub(crate) type Locals = BTreeMap<usize, String>;

/// Rust keywords (strict, reserved and edition-dependent) that cannot name a local.
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "self", "Self", "static", "struct", "super", "trait", "true", "try", "type",
    "typeof", "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// Names the generated functions use themselves: the arguments and the loop
/// indices / row temporaries of the op blocks (which shadow outer locals inside
/// their blocks, so no node may be called that).
const INTERNAL: &[&str] = &[
    "params", "inputs", "grads", "_params", "_inputs", "_grads", "i", "j", "k", "l", "mx", "se",
    "lse",
];

/// Whether `s` is a plain (non-raw, ASCII) identifier that is not a keyword.
pub(crate) fn is_plain_ident(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    s != "_" && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') && !KEYWORDS.contains(&s)
}

/// The identifier an argument or output named `s` is a struct field under: any
/// identifier rustc lexes, raw (`r#type`) and non-ASCII (`ω`) ones included,
/// since the name is the user's own. `None` for anything else, so an odd name
/// in a graph from the text form is an error rather than a panic in `Ident::new`.
pub(crate) fn field_ident(s: &str) -> Option<Ident> {
    let ts: proc_macro2::TokenStream = s.parse().ok()?;
    let mut tokens = ts.into_iter();
    match (tokens.next(), tokens.next()) {
        (Some(proc_macro2::TokenTree::Ident(i)), None) if i != "_" && i == s => Some(i),
        _ => None,
    }
}

/// Loop index `n` (0-based, outermost first): `i`, `j`, `k`, `l`, then `i4`, `i5`, ...
pub(crate) fn loop_var(n: usize) -> Ident {
    let s = match n {
        0 => "i".to_string(),
        1 => "j".to_string(),
        2 => "k".to_string(),
        3 => "l".to_string(),
        _ => format!("i{n}"),
    };
    Ident::new(&s, Span::call_site())
}

fn is_internal(s: &str) -> bool {
    INTERNAL.contains(&s)
        || (s.len() > 1 && s.starts_with('i') && s[1..].bytes().all(|b| b.is_ascii_digit()))
}

/// A source name made into a snake_case local: lowercase, no doubled or trailing
/// underscores (both would trip `non_snake_case`). `None` if nothing usable is left.
fn sanitize(name: &str) -> Option<String> {
    // `r#type` is a local `type_2`: the keyword itself is never free.
    let name = name.strip_prefix("r#").unwrap_or(name);
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    let lower = name.to_ascii_lowercase();
    let trimmed = lower.trim_end_matches('_');
    let lead = trimmed.len() - trimmed.trim_start_matches('_').len();
    let mut out = trimmed[..lead].to_string();
    let mut prev_us = false;
    for c in trimmed[lead..].chars() {
        if c == '_' && prev_us {
            continue;
        }
        prev_us = c == '_';
        out.push(c);
    }
    if out.trim_start_matches('_').is_empty() || out.as_bytes()[0].is_ascii_digit() {
        return None;
    }
    Some(out)
}

/// What each node's local is called before uniqueness suffixes, in order of
/// preference: its source name (`h`, `d_h`); the root it is (`loss`, `d_w2`,
/// when `roots`); for an adjoint, `d_` and the source name of the value it is
/// the adjoint of, or of the statement that value comes from with a word for
/// its outermost operation (`d_h_add` for `dL/d(x·w1 + c)` in `let h = ..`),
/// and for a node that only feeds its own chain-rule term, that name and its
/// op (`d_y_sub`);
/// for a forward value, its statement's name and its op (`h_matmul`), `ret`
/// standing for the returned expression; else the op alone.
pub(crate) fn hints(g: &Graph, roots: bool, ret: &str) -> Vec<Option<String>> {
    let mut out: Vec<Option<String>> = g
        .node_ids()
        .map(|id| g.name(id).and_then(sanitize))
        .collect();
    if roots {
        for r in g.roots() {
            let slot = &mut out[r.node.index()];
            if slot.is_none() {
                *slot = sanitize(&r.name);
            }
        }
    }
    // The first node of each source name, for `product_word`.
    let mut named: HashMap<&str, NodeId> = HashMap::new();
    for id in g.node_ids() {
        if let Some(n) = g.name(id) {
            named.entry(n).or_insert(id);
        }
    }
    for id in g.node_ids() {
        if out[id.index()].is_some() {
            continue;
        }
        // `matmul.tn` → `matmul_tn`.
        let op = g.op(id).name().replace('.', "_");
        let op = op.as_str();
        let derived = g.origin(id).and_then(|o| {
            let stmt = statement_name(&o.source).unwrap_or(ret);
            match &o.term {
                Some(term) => {
                    let x = adjoint_of(term)?;
                    let d = sanitize(&format!("d_{x}"))
                        .or_else(|| sanitize(&format!("d_{stmt}_{}", op_word(g, &named, x))))?;
                    // A node the term's value is computed from, not the value:
                    // named after it with its own op (`d_y_sub`).
                    let whole = g.roots().iter().any(|r| r.node == id)
                        || g.users(id).iter().any(|u| g.origin(*u) != Some(o));
                    if whole {
                        Some(d)
                    } else {
                        sanitize(&format!("{d}_{op}"))
                    }
                }
                None => sanitize(&format!("{stmt}_{op}")),
            }
        });
        out[id.index()] = derived.or_else(|| sanitize(op));
    }
    out
}

/// `h` for `let h = ...;` or `let mut h: T = ...;`.
fn statement_name(source: &str) -> Option<&str> {
    let rest = source.strip_prefix("let ")?;
    let rest = rest.strip_prefix("mut ").unwrap_or(rest);
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    (end > 0).then(|| &rest[..end])
}

/// `x·w1 + c` for the chain-rule term `dL/d(x·w1 + c) = ...`.
fn adjoint_of(term: &str) -> Option<&str> {
    let rest = term.strip_prefix("dL/d")?;
    let end = rest.find(" = ").or_else(|| rest.find(" += "))?;
    let x = &rest[..end];
    Some(
        match x.strip_prefix('(').and_then(|x| x.strip_suffix(')')) {
            Some(inner) if wraps(inner) => inner,
            _ => x,
        },
    )
}

/// Whether the parentheses of `s` balance (so `(s)` is one group).
fn wraps(s: &str) -> bool {
    let mut depth = 0i32;
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        if depth < 0 {
            return false;
        }
    }
    depth == 0
}

/// A word for the outermost operation of a term's expression (as the
/// chain-rule text spells it): `add` for `x·w1 + c`, `matmul` for `x·w1`.
fn op_word<'a>(g: &Graph, named: &HashMap<&str, NodeId>, x: &'a str) -> &'a str {
    let mut depth = 0i32;
    let (mut sum, mut prod) = (None, None);
    let mut prev = ' ';
    for (i, c) in x.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            '+' | '−' if depth == 0 && prev == ' ' => {
                sum = Some(if c == '+' { "add" } else { "sub" })
            }
            '/' if depth == 0 && prev == ' ' => prod = Some("div"),
            '·' if depth == 0 && i > 0 => prod = Some(product_word(g, named, x, i)),
            _ => {}
        }
        prev = c;
    }
    if let Some(w) = sum.or(prod) {
        return w;
    }
    if x.starts_with('−') {
        "neg"
    } else if x.ends_with('²') || x.contains('^') {
        "pow"
    } else if x.ends_with('ᵀ') {
        "t"
    } else {
        match x.find('(') {
            Some(i)
                if i > 0
                    && x[..i]
                        .bytes()
                        .all(|c| c.is_ascii_alphanumeric() || c == b'_') =>
            {
                &x[..i]
            }
            _ => "term",
        }
    }
}

/// `a·b` is spelled the same for `mul` and `matmul`: a product of two named
/// values of different shapes, one of them a matrix, is a `matmul`.
fn product_word(g: &Graph, named: &HashMap<&str, NodeId>, x: &str, at: usize) -> &'static str {
    let (a, b) = (&x[..at], &x[at + '·'.len_utf8()..]);
    let shape = |n: &str| named.get(n).map(|id| g.shape(*id).clone());
    match (shape(a), shape(b)) {
        (Some(sa), Some(sb)) if sa != sb && (sa.rank() == 2 || sb.rank() == 2) => "matmul",
        _ => "mul",
    }
}

/// Hands out unique local names in the order asked for, so the same graph always
/// gets the same names.
pub(crate) struct Names {
    used: BTreeSet<String>,
    /// Base name → the next suffix to try: every smaller one is taken, so a
    /// name used L times costs O(L) in all, not O(L²).
    next: HashMap<String, usize>,
    locals: Locals,
}

impl Names {
    pub(crate) fn new() -> Self {
        Names {
            used: BTreeSet::new(),
            next: HashMap::new(),
            locals: Locals::new(),
        }
    }

    fn free(&self, s: &str) -> bool {
        is_plain_ident(s) && !is_internal(s) && !self.used.contains(s)
    }

    /// A fresh local for a node with source name `name` (or `t<id>` if it has none
    /// usable); a taken name gets a suffix: `h`, `h_2`, `h_3`.
    pub(crate) fn fresh(&mut self, name: Option<&str>, id: usize) -> Ident {
        let base = name.and_then(sanitize).unwrap_or_else(|| format!("t{id}"));
        let ident = self.take(&base);
        self.locals.entry(id).or_insert_with(|| ident.to_string());
        ident
    }

    /// Which node got which local, for comments in the readable code.
    pub(crate) fn locals(&self) -> Locals {
        self.locals.clone()
    }

    /// A fresh local with the given base name (already snake_case).
    pub(crate) fn take(&mut self, base: &str) -> Ident {
        // A base no suffix can make an identifier (`ω_out`) would never be free.
        let base = if is_plain_ident(base) || is_plain_ident(&format!("{base}_2")) {
            base
        } else {
            "t"
        };
        // Suffix 1 stands for `base` itself.
        let mut n = self.next.get(base).copied().unwrap_or(1);
        let mut cand = base.to_string();
        loop {
            if n > 1 {
                cand = format!("{base}_{n}");
            }
            n += 1;
            if self.free(&cand) {
                break;
            }
        }
        self.next.insert(base.to_string(), n);
        self.used.insert(cand.clone());
        Ident::new(&cand, Span::call_site())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_clean() {
        let mut n = Names::new();
        assert_eq!(n.fresh(Some("h"), 3).to_string(), "h");
        assert_eq!(n.fresh(Some("h"), 4).to_string(), "h_2");
        assert_eq!(n.fresh(Some("h_2"), 5).to_string(), "h_2_2");
        assert_eq!(n.fresh(None, 6).to_string(), "t6");
        assert_eq!(n.fresh(Some("t6"), 7).to_string(), "t6_2");
        assert_eq!(n.fresh(Some("params"), 8).to_string(), "params_2");
        assert_eq!(n.fresh(Some("type"), 9).to_string(), "type_2");
        assert_eq!(n.fresh(Some("i"), 10).to_string(), "i_2");
        assert_eq!(n.fresh(Some("i4"), 11).to_string(), "i4_2");
        assert_eq!(n.fresh(Some("W1"), 12).to_string(), "w1");
        assert_eq!(n.fresh(Some("a__b_"), 13).to_string(), "a_b");
        assert_eq!(n.fresh(Some("_"), 14).to_string(), "t14");
        assert_eq!(n.fresh(Some("1x"), 15).to_string(), "t15");
        assert_eq!(n.fresh(Some("naïve"), 16).to_string(), "t16");
        assert_eq!(n.fresh(Some("r#type"), 17).to_string(), "type_3");
        assert_eq!(n.take("ω_out").to_string(), "t");
        assert!(is_plain_ident("w1") && !is_plain_ident("fn") && !is_plain_ident("_"));
    }

    #[test]
    fn suffixes_skip_names_taken_out_of_order() {
        let mut n = Names::new();
        let taken: Vec<String> = ["h", "h_3", "h", "h", "h", "h_2"]
            .iter()
            .map(|b| n.take(b).to_string())
            .collect();
        assert_eq!(taken, ["h", "h_3", "h_2", "h_4", "h_5", "h_2_2"]);
    }

    #[test]
    fn any_lexed_identifier_is_a_field() {
        for ok in ["w1", "ω", "ŷ", "r#type", "gen", "r#gen", "Params", "_x"] {
            assert_eq!(field_ident(ok).map(|i| i.to_string()).as_deref(), Some(ok));
        }
        for bad in ["_", "1x", "a b", "a-b", "", "r#", "(x)", "x;"] {
            assert!(field_ident(bad).is_none(), "{bad}");
        }
    }
}
