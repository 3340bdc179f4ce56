//! Chain-rule terms as text, for provenance: `dL/dh = dL/dyhat · w2ᵀ`. One arm per
//! op, mirroring the vector-Jacobian products in `lib.rs`; the text is only
//! documentation of the generated code and never affects what it computes.

use gradc_ir::{Graph, Names, NodeId, Op};

/// How deep an unnamed forward subexpression is spelled out before `…`.
const DEPTH: usize = 3;

/// A forward node as a reader knows it: its source name, a constant, or a short
/// expression over named nodes (`x·w1 + c`).
pub(crate) fn describe(f: &Graph, id: NodeId) -> String {
    expr(f, id, DEPTH)
}

fn expr(f: &Graph, id: NodeId, depth: usize) -> String {
    if let Some(n) = f.name(id) {
        return n.to_string();
    }
    if depth == 0 {
        return "…".into();
    }
    let args = f.args(id);
    let a = |k: usize| operand(f, args[k], depth - 1);
    let names = || Names {
        x: [0, 1].map(|k| if k < args.len() { a(k) } else { String::new() }),
        bare: [0, 1].map(|k| {
            if k < args.len() {
                expr(f, args[k], depth - 1)
            } else {
                String::new()
            }
        }),
        ..Names::default()
    };
    match f.op(id) {
        Op::Const(c) => number(c.value()),
        Op::Count(n) => gradc_ir::Extent::of(*n).to_string(),
        Op::Input(i) => format!("input{i}"),
        Op::Param(i) => format!("param{i}"),
        Op::Unary(u) => u.describe(&names()),
        Op::Binary(b) => b.describe(&names()),
        Op::MatMul { ta, tb } => format!("{}{}·{}{}", a(0), t(*ta), a(1), t(*tb)),
        Op::Transpose => format!("{}ᵀ", a(0)),
        // Shape plumbing is invisible to a reader of the source.
        Op::Reshape(_) | Op::BroadcastTo(_) | Op::SumTo(_) => expr(f, args[0], depth),
        Op::Index(i) => format!("{}[{i}]", a(0)),
        Op::Stack { at, .. } => {
            let parts: Vec<String> = at
                .iter()
                .enumerate()
                .map(|(k, j)| format!("{j}: {}", expr(f, args[k], depth - 1)))
                .collect();
            format!("stack({})", parts.join(", "))
        }
        Op::Concat => format!("concat({}, {})", names().bare[0], names().bare[1]),
        Op::SliceLast { start, len } => format!("{}[.., {start}..{}]", a(0), start + len),
        op @ (Op::Sum | Op::Row(_) | Op::OneHot(_)) => {
            format!("{}({})", op.name(), names().bare[0])
        }
    }
}

/// An operand, parenthesised when it is spelled as a sum or quotient.
fn operand(f: &Graph, id: NodeId, depth: usize) -> String {
    let mut n = id;
    while f.name(n).is_none()
        && matches!(f.op(n), Op::Reshape(_) | Op::BroadcastTo(_) | Op::SumTo(_))
    {
        n = f.args(n)[0];
    }
    let s = expr(f, n, depth);
    if f.name(n).is_none() && depth > 0 && matches!(f.op(n), Op::Binary(b) if b.is_loose()) {
        format!("({s})")
    } else {
        s
    }
}

fn t(transposed: bool) -> &'static str {
    if transposed {
        "ᵀ"
    } else {
        ""
    }
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// `dL/dh` or `dL/d(x·w1 + c)`.
pub(crate) fn adjoint(f: &Graph, id: NodeId) -> String {
    let d = describe(f, id);
    if d.chars().all(|c| c.is_alphanumeric() || c == '_') {
        format!("dL/d{d}")
    } else {
        format!("dL/d({d})")
    }
}

/// The term node `y`'s operand `k` receives: `dL/dx = dL/dy · (y > 0)`; `+=`
/// when the operand has other uses whose terms are added to it.
pub(crate) fn chain_rule(f: &Graph, y: NodeId, k: usize) -> String {
    let args = f.args(y);
    let x = args[k];
    let g = adjoint(f, y);
    let yn = operand(f, y, DEPTH);
    let a = |i: usize| operand(f, args[i], DEPTH);
    let reduced = |s: String| {
        if f.shape(x) == f.shape(y) {
            s
        } else {
            format!("sum_to({s})")
        }
    };
    let names = Names {
        g: g.clone(),
        y: yn,
        x: [0, 1].map(|i| if i < args.len() { a(i) } else { String::new() }),
        bare: [0, 1].map(|i| {
            if i < args.len() {
                describe(f, args[i])
            } else {
                String::new()
            }
        }),
    };
    let rhs = match f.op(y) {
        op if !op.has_gradient() => String::from("0"),
        Op::Unary(u) => u.chain_rule(&names),
        Op::Binary(b) => reduced(b.chain_rule(k, &names)),
        Op::Row(r) => r.chain_rule(&names),
        Op::MatMul { ta, tb } => {
            let (a0, b0) = (a(0), a(1));
            let gt = format!("({g})ᵀ");
            match (ta, tb, k) {
                (false, false, 0) => format!("{g} · {b0}ᵀ"),
                (false, false, _) => format!("{a0}ᵀ · {g}"),
                (true, false, 0) => format!("{b0} · {gt}"),
                (true, false, _) => format!("{a0} · {g}"),
                (false, true, 0) => format!("{g} · {b0}"),
                (false, true, _) => format!("{gt} · {a0}"),
                (true, true, 0) => format!("{b0}ᵀ · {gt}"),
                (true, true, _) => format!("{gt} · {a0}ᵀ"),
            }
        }
        Op::Transpose => format!("({g})ᵀ"),
        Op::Reshape(_) => format!("reshape({g})"),
        Op::BroadcastTo(_) => format!("sum_to({g})"),
        Op::SumTo(_) | Op::Sum => format!("broadcast({g})"),
        Op::Index(i) => format!("{g} into slice {i}"),
        Op::Stack { at, .. } => format!("{g}[{}]", at[k]),
        Op::Concat => {
            let na = f.shape(args[0]).last().unwrap_or(1);
            let (from, to) = if k == 0 {
                (0, na)
            } else {
                (na, f.shape(y).last().unwrap_or(1))
            };
            format!("{g}[.., {from}..{to}]")
        }
        Op::SliceLast { start, len } => {
            format!("{g} into [.., {start}..{}]", start + len)
        }
        Op::Input(_) | Op::Param(_) | Op::Const(_) | Op::Count(_) | Op::OneHot(_) => {
            String::from("0")
        }
    };
    let shared = f.users(x).len() > 1 || args.iter().filter(|a| **a == x).count() > 1;
    let eq = if shared { "+=" } else { "=" };
    format!("{} {eq} {rhs}", adjoint(f, x))
}
