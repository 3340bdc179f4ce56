//! The body → forward graph: `let` bindings and expressions, with the surface
//! sugar desugared into primitive ops as ARCHITECTURE.md's "Surface language"
//! table says.

use crate::signature::{type_shape, Role, TypeCx};
use crate::Errors;
use gradc_ir::{
    broadcast_shapes, BinaryOp, Const, Extent, Graph, NodeId, Op, RowOp, Shape, UnaryOp,
};
use quote::ToTokens;
use std::collections::BTreeMap;
use syn::punctuated::Punctuated;
use syn::{Expr, Lit, Pat, Stmt};

/// The body's shape, repeated in errors about syntax outside the language.
const STRAIGHT_LINE: &str = "a network body is straight-line `let` bindings and expressions";

/// Variables in scope. `None` marks a name whose definition failed: its uses
/// stay silent so one mistake is reported once.
#[derive(Default)]
pub(crate) struct Env {
    vars: BTreeMap<String, Option<NodeId>>,
    /// Names in the order they were first bound, for "in scope: ..." hints.
    order: Vec<String>,
}

impl Env {
    /// Binds (or shadows) `name`.
    pub(crate) fn bind(&mut self, name: &str, node: Option<NodeId>) {
        if self.vars.insert(name.to_string(), node).is_none() {
            self.order.push(name.to_string());
        }
    }
}

/// What a function argument must be.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Tensor,
    /// An integer literal (the exponent of `powi`).
    IntLit,
    /// A number literal, possibly negative (`leaky_relu`'s slope, `clamp`'s bounds).
    FloatLit,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Func {
    MatMul,
    Transpose,
    Sum,
    Mean,
    /// An elementwise op called by its name ([`UnaryOp::is_function`]).
    Unary(UnaryOp),
    /// `softmax`, `log_softmax`.
    Row(RowOp),
    Powi,
    /// `max`, `min`.
    Binary(BinaryOp),
    LeakyRelu,
    Clamp,
    /// `clamp(x, -1, 1)`.
    HardTanh,
    /// `powi(x, 2)`.
    Square,
    Mse,
    CrossEntropy,
    Bce,
}

const T: Kind = Kind::Tensor;

/// A parameter of a surface function: its name (for messages) and kind.
type Param = (&'static str, Kind);

/// The supported functions besides the elementwise ones the op table names:
/// name, meaning, and parameter names with kinds. The method form `x.f(..)`
/// passes the receiver as the first parameter.
const FUNCS: &[(&str, Func, &[Param])] = &[
    ("matmul", Func::MatMul, &[("a", T), ("b", T)]),
    ("dot", Func::MatMul, &[("a", T), ("b", T)]),
    ("t", Func::Transpose, &[("x", T)]),
    ("transpose", Func::Transpose, &[("x", T)]),
    ("sum", Func::Sum, &[("x", T)]),
    ("mean", Func::Mean, &[("x", T)]),
    (
        RowOp::Softmax.name(),
        Func::Row(RowOp::Softmax),
        &[("x", T)],
    ),
    (
        RowOp::LogSoftmax.name(),
        Func::Row(RowOp::LogSoftmax),
        &[("x", T)],
    ),
    ("powi", Func::Powi, &[("x", T), ("n", Kind::IntLit)]),
    ("max", Func::Binary(BinaryOp::Max), &[("a", T), ("b", T)]),
    ("min", Func::Binary(BinaryOp::Min), &[("a", T), ("b", T)]),
    (
        "leaky_relu",
        Func::LeakyRelu,
        &[("x", T), ("slope", Kind::FloatLit)],
    ),
    (
        "clamp",
        Func::Clamp,
        &[("x", T), ("lo", Kind::FloatLit), ("hi", Kind::FloatLit)],
    ),
    ("hardtanh", Func::HardTanh, &[("x", T)]),
    ("square", Func::Square, &[("x", T)]),
    ("mse", Func::Mse, &[("pred", T), ("target", T)]),
    (
        "cross_entropy",
        Func::CrossEntropy,
        &[("logits", T), ("targets", T)],
    ),
    (
        "binary_cross_entropy_with_logits",
        Func::Bce,
        &[("logits", T), ("targets", T)],
    ),
];

/// The elementwise functions: every unary op called by name.
fn elementwise_functions() -> impl Iterator<Item = UnaryOp> {
    UnaryOp::PLAIN.into_iter().filter(|u| u.is_function())
}

/// The function called `name`, with its parameters.
fn lookup(name: &str) -> Option<(Func, &'static [Param])> {
    if let Some(u) = elementwise_functions().find(|u| u.name() == name) {
        return Some((Func::Unary(u), &[("x", T)]));
    }
    FUNCS
        .iter()
        .find(|f| f.0 == name)
        .map(|&(_, func, params)| (func, params))
}

fn supported_functions() -> String {
    let named: Vec<&str> = FUNCS.iter().map(|f| f.0).collect();
    let elementwise: Vec<&str> = elementwise_functions().map(UnaryOp::name).collect();
    format!(
        "{}, and elementwise {}",
        named.join(", "),
        elementwise.join(", ")
    )
}

/// Lowers the body into `g`. Returns the result node and the expression that
/// produced it, or `None` if some error was recorded.
pub(crate) fn lower_body<'b>(
    block: &'b syn::Block,
    g: &mut Graph,
    env: &mut Env,
    elem: &mut TypeCx,
    errors: &mut Errors,
) -> Option<(NodeId, &'b Expr)> {
    let mut cx = Lowerer {
        g,
        env,
        elem,
        errors,
        marks: Vec::new(),
    };
    let result = cx.block(block);
    let ends = cx.marks.iter().skip(1).copied().chain([cx.g.len()]);
    for (i, (start, end)) in cx.marks.iter().copied().zip(ends).enumerate() {
        let origin = gradc_ir::Origin::forward(i, source_text(&block.stmts[i]));
        for id in start..end {
            cx.g.set_origin(NodeId::from_index(id), origin.clone());
        }
    }
    result
}

struct Lowerer<'a> {
    g: &'a mut Graph,
    env: &'a mut Env,
    elem: &'a mut TypeCx,
    errors: &'a mut Errors,
    /// Graph length when each body statement started, in statement order.
    marks: Vec<usize>,
}

impl Lowerer<'_> {
    fn block<'b>(&mut self, block: &'b syn::Block) -> Option<(NodeId, &'b Expr)> {
        let n = block.stmts.len();
        for (i, stmt) in block.stmts.iter().enumerate() {
            let last = i + 1 == n;
            // Nodes from here on come from this statement (provenance).
            self.marks.push(self.g.len());
            match stmt {
                Stmt::Local(local) => self.local(local),
                Stmt::Expr(Expr::Return(r), _) if last => {
                    let Some(e) = &r.expr else {
                        self.errors.spanned(r, "`return` needs a value: `return EXPR;`");
                        return None;
                    };
                    return self.expr(e).map(|id| (id, &**e));
                }
                Stmt::Expr(e, None) if last => return self.expr(e).map(|id| (id, e)),
                Stmt::Expr(e, semi) => {
                    // Syntax outside the language reports itself while lowering.
                    if self.expr(e).is_none() {
                        continue;
                    }
                    match semi {
                        Some(semi) if last => self.errors.spanned(
                            semi,
                            "the body must end with its result, an expression without `;`: remove this `;` (or write `return EXPR;`)",
                        ),
                        _ => self.errors.spanned(
                            stmt,
                            format!("this statement has no effect; {STRAIGHT_LINE}, ending with the result"),
                        ),
                    }
                    if last {
                        return None;
                    }
                }
                Stmt::Item(item) => self.errors.spanned(
                    item,
                    format!("items (`fn`, `struct`, `use`, ...) are not allowed in a network body; {STRAIGHT_LINE}"),
                ),
                Stmt::Macro(m) => self.errors.spanned(
                    m,
                    format!("unsupported syntax: macros; {STRAIGHT_LINE}"),
                ),
            }
        }
        self.errors.at(
            block.brace_token.span.close(),
            "missing final expression: the body must end with the network's result, such as `mse(yhat, y)`, or `return EXPR;`",
        );
        None
    }

    fn local(&mut self, local: &syn::Local) {
        if let Some(a) = local.attrs.first() {
            self.errors.spanned(
                a,
                "attributes on `let` are not supported (`#[input]` goes on a function argument)",
            );
        }
        let (pat, annotation) = match &local.pat {
            Pat::Type(pt) => (&*pt.pat, Some(&*pt.ty)),
            p => (p, None),
        };
        let ident = match pat {
            Pat::Ident(pi) if pi.mutability.is_some() => {
                self.errors.spanned(
                    pi.mutability,
                    "`let mut` is not supported: bindings are immutable; shadow the name with a new `let` instead",
                );
                Some(&pi.ident)
            }
            Pat::Ident(pi) if pi.by_ref.is_none() && pi.subpat.is_none() => Some(&pi.ident),
            other => {
                self.errors.spanned(
                    other,
                    "unsupported `let` pattern: bind one plain identifier, as in `let h = relu(x);`",
                );
                None
            }
        };
        let value = match &local.init {
            None => {
                self.errors
                    .spanned(local, "`let` needs a value: `let h = EXPR;`");
                None
            }
            Some(init) => {
                if let Some((else_token, _)) = &init.diverge {
                    self.errors.spanned(
                        else_token,
                        format!("`let ... else` is not supported; {STRAIGHT_LINE}"),
                    );
                }
                self.expr(&init.expr)
            }
        };
        if let Some(ty) = annotation {
            let declared = type_shape(ty, Role::Other, self.elem, self.errors);
            if let (Some(declared), Some(v)) = (declared, value) {
                let got = self.g.shape(v);
                if *got != declared {
                    self.errors.spanned(
                        ty,
                        format!("the type annotation declares shape {declared}, but the value has shape {got}"),
                    );
                }
            }
        }
        if let Some(ident) = ident {
            let name = ident.to_string();
            if let Some(v) = value {
                // `let a = x;` keeps the name `x`: the first name wins.
                if self.g.name(v).is_none() {
                    self.g.set_name(v, name.clone());
                }
            }
            self.env.bind(&name, value);
        }
    }

    /// Lowers an expression; `None` means an error was recorded (or the
    /// expression uses a variable whose definition failed).
    fn expr(&mut self, e: &Expr) -> Option<NodeId> {
        match e {
            Expr::Paren(p) => self.expr(&p.expr),
            // Invisible groups come from `macro_rules!` substitution.
            Expr::Group(g) => self.expr(&g.expr),
            Expr::Path(p) => {
                let ident = match (&p.qself, p.path.get_ident()) {
                    (None, Some(id)) => id,
                    _ => {
                        self.errors
                            .spanned(p, "unsupported path: expected a variable name");
                        return None;
                    }
                };
                self.var(ident)
            }
            Expr::Lit(l) => {
                let v = self.number(&l.lit)?;
                Some(self.g.constant(v))
            }
            Expr::Unary(u) => match u.op {
                syn::UnOp::Neg(_) => {
                    // `-2.0` is one constant, not a negation of one.
                    if let Expr::Lit(l) = &*u.expr {
                        let v = self.number(&l.lit)?;
                        return Some(self.g.constant(-v));
                    }
                    let x = self.expr(&u.expr)?;
                    self.add(Op::Unary(UnaryOp::Neg), &[x], u)
                }
                op => {
                    self.expr(&u.expr);
                    self.errors.spanned(
                        op,
                        "unsupported operator; supported operators are `+`, `-`, `*`, `/` and unary `-`",
                    );
                    None
                }
            },
            Expr::Binary(b) => {
                use syn::BinOp as B;
                let (op, sym) = match b.op {
                    B::Add(_) => (Op::Binary(BinaryOp::Add), "`+`"),
                    B::Sub(_) => (Op::Binary(BinaryOp::Sub), "`-`"),
                    B::Mul(_) => (Op::Binary(BinaryOp::Mul), "`*`"),
                    B::Div(_) => (Op::Binary(BinaryOp::Div), "`/`"),
                    B::AddAssign(_)
                    | B::SubAssign(_)
                    | B::MulAssign(_)
                    | B::DivAssign(_)
                    | B::RemAssign(_)
                    | B::BitXorAssign(_)
                    | B::BitAndAssign(_)
                    | B::BitOrAssign(_)
                    | B::ShlAssign(_)
                    | B::ShrAssign(_) => {
                        self.errors.spanned(
                            b,
                            "unsupported syntax: compound assignment; bindings are immutable, shadow the name with a new `let` instead",
                        );
                        return None;
                    }
                    op => {
                        self.expr(&b.left);
                        self.expr(&b.right);
                        self.errors.spanned(
                            op,
                            "unsupported operator; supported operators are `+`, `-`, `*`, `/` and unary `-`",
                        );
                        return None;
                    }
                };
                let l = self.expr(&b.left);
                let r = self.expr(&b.right);
                self.binary(op, sym, l?, r?, b)
            }
            Expr::Call(c) => {
                let name = match &*c.func {
                    Expr::Path(p) if p.qself.is_none() && p.path.get_ident().is_some() => {
                        p.path.get_ident()
                    }
                    _ => None,
                };
                let Some(name) = name else {
                    for a in &c.args {
                        self.expr(a);
                    }
                    self.errors.spanned(
                        &c.func,
                        format!("unsupported call: call a supported function by its plain name; supported: {}", supported_functions()),
                    );
                    return None;
                };
                self.call(name, None, &c.args, c)
            }
            Expr::MethodCall(m) => {
                if let Some(tf) = &m.turbofish {
                    self.errors.spanned(
                        tf,
                        "type arguments (`::<..>`) are not supported on network methods",
                    );
                    return None;
                }
                // Span arity errors at `method(args)`, not at the whole receiver chain.
                let mut call = m.method.to_token_stream();
                m.paren_token.surround(&mut call, |ts| m.args.to_tokens(ts));
                self.call(&m.method, Some(&m.receiver), &m.args, &call)
            }
            Expr::Return(r) => {
                self.errors.spanned(
                    r,
                    "`return` is only allowed as the last statement, as `return EXPR;`",
                );
                None
            }
            other => {
                let what = unsupported_syntax(other);
                self.errors.spanned(
                    other,
                    format!("unsupported syntax: {what}; {STRAIGHT_LINE}"),
                );
                None
            }
        }
    }

    fn var(&mut self, ident: &syn::Ident) -> Option<NodeId> {
        let name = ident.to_string();
        match self.env.vars.get(&name) {
            Some(v) => *v,
            None if name == "B" && self.elem.batch => {
                self.errors.spanned(
                    ident,
                    "`B` is the batch size, an array length in types, not a value; `mean`, `mse` and the cross-entropy losses already divide by the counts that depend on it",
                );
                None
            }
            None => {
                let msg = if self.env.order.is_empty() {
                    format!("unknown variable `{name}`")
                } else {
                    format!(
                        "unknown variable `{name}`; in scope: {}",
                        self.env.order.join(", ")
                    )
                };
                self.errors.spanned(ident, msg);
                None
            }
        }
    }

    /// The value of a number literal; other literals are errors.
    fn number(&mut self, lit: &Lit) -> Option<f64> {
        let (digits, suffix) = match lit {
            Lit::Int(i) => (i.base10_digits(), i.suffix()),
            Lit::Float(f) => (f.base10_digits(), f.suffix()),
            other => {
                self.errors.spanned(
                    other,
                    "unsupported literal: only number literals such as `2` or `0.5` are allowed",
                );
                return None;
            }
        };
        match (suffix, self.elem.dtype()) {
            ("", _) | (_, None) => {}
            (s, Some(dt)) if s == dt.name() => {}
            (s @ ("f32" | "f64"), Some(dt)) => {
                self.errors.spanned(
                    lit,
                    format!(
                        "literal suffix `{s}` does not match the network's element type `{}`",
                        dt.name()
                    ),
                );
                return None;
            }
            (s, Some(_)) => {
                self.errors.spanned(
                    lit,
                    format!("unsupported literal suffix `{s}`; number literals take the element type, write `2` or `2.0`"),
                );
                return None;
            }
        }
        match digits.parse::<f64>() {
            Ok(v) => Some(v),
            Err(_) => {
                self.errors
                    .spanned(lit, "this number literal cannot be read as a float");
                None
            }
        }
    }

    /// The exponent of `powi`: an integer literal, possibly negative.
    fn int_lit(&mut self, e: &Expr) -> Option<i32> {
        let mut neg = false;
        let mut cur = e;
        loop {
            match cur {
                Expr::Paren(p) => cur = &p.expr,
                Expr::Group(g) => cur = &g.expr,
                Expr::Unary(syn::ExprUnary {
                    op: syn::UnOp::Neg(_),
                    expr,
                    ..
                }) if !neg => {
                    neg = true;
                    cur = expr;
                }
                Expr::Lit(syn::ExprLit {
                    lit: Lit::Int(i), ..
                }) if matches!(i.suffix(), "" | "i32") => {
                    let v = i
                        .base10_parse::<i64>()
                        .ok()
                        .map(|v| if neg { -v } else { v });
                    return match v.and_then(|v| i32::try_from(v).ok()) {
                        Some(v) => Some(v),
                        None => {
                            self.errors
                                .spanned(e, "the exponent of `powi` does not fit in an `i32`");
                            None
                        }
                    };
                }
                _ => {
                    self.errors.spanned(
                        e,
                        "the exponent of `powi` must be an integer literal, such as `2` or `-1`",
                    );
                    return None;
                }
            }
        }
    }

    /// A number literal argument `param` of `f`, possibly negated (`-0.5`).
    fn float_lit(&mut self, e: &Expr, f: &str, param: &str) -> Option<f64> {
        let mut neg = false;
        let mut cur = e;
        loop {
            match cur {
                Expr::Paren(p) => cur = &p.expr,
                Expr::Group(g) => cur = &g.expr,
                Expr::Unary(syn::ExprUnary {
                    op: syn::UnOp::Neg(_),
                    expr,
                    ..
                }) if !neg => {
                    neg = true;
                    cur = expr;
                }
                Expr::Lit(syn::ExprLit {
                    lit: lit @ (Lit::Int(_) | Lit::Float(_)),
                    ..
                }) => {
                    let v = self.number(lit)?;
                    if !v.is_finite() {
                        self.errors
                            .spanned(e, format!("`{f}`: `{param}` must be a finite number"));
                        return None;
                    }
                    return Some(if neg { -v } else { v });
                }
                _ => {
                    self.errors.spanned(
                        e,
                        format!(
                            "`{f}`: `{param}` must be a number literal, such as `0.01` or `-1.0`"
                        ),
                    );
                    return None;
                }
            }
        }
    }

    /// A call `name(args)` or a method call `recv.name(args)`.
    fn call(
        &mut self,
        name: &syn::Ident,
        recv: Option<&Expr>,
        args: &Punctuated<Expr, syn::Token![,]>,
        at: &dyn ToTokens,
    ) -> Option<NodeId> {
        let all: Vec<&Expr> = recv.into_iter().chain(args.iter()).collect();
        let fname = name.to_string();
        let Some((func, params)) = lookup(&fname) else {
            // Still look inside, so independent mistakes show up too.
            for a in &all {
                self.expr(a);
            }
            let what = if recv.is_some() {
                format!("method `.{fname}()`")
            } else {
                format!("function `{fname}`")
            };
            self.errors.spanned(
                name,
                format!("unknown {what}; supported: {}", supported_functions()),
            );
            return None;
        };
        if all.len() != params.len() {
            let msg = if recv.is_some() {
                let rest: Vec<&str> = params[1..].iter().map(|p| p.0).collect();
                match rest.len() {
                    0 => format!("`.{fname}()` takes no arguments, got {}", all.len() - 1),
                    n => format!(
                        "`.{fname}(..)` takes {n} argument{} ({}) after the receiver, got {}",
                        plural(n),
                        rest.join(", "),
                        all.len() - 1
                    ),
                }
            } else {
                let names: Vec<&str> = params.iter().map(|p| p.0).collect();
                format!(
                    "`{fname}` takes {} argument{} ({}), got {}",
                    params.len(),
                    plural(params.len()),
                    names.join(", "),
                    all.len()
                )
            };
            self.errors.spanned(at, msg);
            return None;
        }
        // Lower every argument before giving up, to report all their errors.
        let mut tensors = Vec::new();
        let mut ints = Vec::new();
        let mut floats = Vec::new();
        let mut ok = true;
        for (a, (pname, kind)) in all.iter().zip(params) {
            match kind {
                Kind::Tensor => match self.expr(a) {
                    Some(id) => tensors.push(id),
                    None => ok = false,
                },
                Kind::IntLit => match self.int_lit(a) {
                    Some(n) => ints.push(n),
                    None => ok = false,
                },
                Kind::FloatLit => match self.float_lit(a, &fname, pname) {
                    Some(v) => floats.push(Const::new(v)),
                    None => ok = false,
                },
            }
        }
        if !ok {
            return None;
        }
        let x = tensors[0];
        match func {
            Func::MatMul => self.matmul(&fname, x, tensors[1], at),
            Func::Transpose => match self.g.shape(x).rank() {
                0 | 1 => Some(x),
                2 => self.add(Op::Transpose, &[x], at),
                _ => {
                    let s = self.g.shape(x).clone();
                    self.errors.spanned(
                        at,
                        format!("`{fname}`: transpose needs a 1-D or 2-D tensor, got shape {s}"),
                    );
                    None
                }
            },
            Func::Sum => self.add(Op::Sum, &[x], at),
            Func::Mean => {
                let n = self.g.shape(x).numel();
                self.mean_of(x, n, at)
            }
            Func::Unary(u) => self.add(Op::Unary(u), &[x], at),
            Func::Row(r) => {
                if self.g.shape(x).is_scalar() {
                    self.errors.spanned(
                        at,
                        format!("`{fname}` normalises over the last axis and needs a 1-D or larger tensor, got a scalar"),
                    );
                    return None;
                }
                self.add(Op::Row(r), &[x], at)
            }
            Func::Powi => self.add(Op::Unary(UnaryOp::Powi(ints[0])), &[x], at),
            Func::Binary(b) => {
                let sym = format!("`{fname}`");
                self.binary(Op::Binary(b), &sym, x, tensors[1], at)
            }
            Func::LeakyRelu => self.add(Op::Unary(UnaryOp::LeakyRelu(floats[0])), &[x], at),
            Func::Clamp => self.add(Op::Unary(UnaryOp::Clamp(floats[0], floats[1])), &[x], at),
            Func::HardTanh => {
                let (lo, hi) = (Const::new(-1.0), Const::new(1.0));
                self.add(Op::Unary(UnaryOp::Clamp(lo, hi)), &[x], at)
            }
            Func::Square => self.add(Op::Unary(UnaryOp::Powi(2)), &[x], at),
            Func::Mse => {
                let (pred, target) = (x, tensors[1]);
                self.check_target("mse", "prediction", pred, target, at)?;
                let d = self.add(Op::Binary(BinaryOp::Sub), &[pred, target], at)?;
                let sq = self.add(Op::Unary(UnaryOp::Powi(2)), &[d], at)?;
                let n = self.g.shape(pred).numel();
                self.mean_of(sq, n, at)
            }
            Func::CrossEntropy => {
                let (z, t) = (x, tensors[1]);
                let zs = self.g.shape(z).clone();
                let batch = match zs.dims() {
                    [_] => 1,
                    [b, _] => *b,
                    _ => {
                        self.errors.spanned(
                            at,
                            format!("cross_entropy: logits must be 1-D [classes] or 2-D [batch classes], got shape {zs}"),
                        );
                        return None;
                    }
                };
                let ts = self.g.shape(t).clone();
                let classes = zs.last().unwrap_or(1);
                let labels = Shape(zs.dims()[..zs.rank() - 1].to_vec());
                let t = if ts == zs {
                    t
                } else if ts == labels {
                    // Class indices: the same loss with their one-hot rows as targets.
                    self.add(Op::OneHot(classes), &[t], at)?
                } else {
                    let indices = if labels.is_scalar() {
                        "be a scalar (a class index)".to_string()
                    } else {
                        format!("have shape {labels} (class indices)")
                    };
                    self.errors.spanned(
                        at,
                        format!("cross_entropy: targets must have the logits' shape {zs} (one-hot or probabilities) or {indices}, got {ts}"),
                    );
                    return None;
                };
                let lse = self.add(Op::Row(RowOp::LogSumExp), &[z], at)?;
                let s_lse = self.add(Op::Sum, &[lse], at)?;
                let tz = self.add(Op::Binary(BinaryOp::Mul), &[t, z], at)?;
                let s_tz = self.add(Op::Sum, &[tz], at)?;
                let diff = self.add(Op::Binary(BinaryOp::Sub), &[s_lse, s_tz], at)?;
                let b = self.count(batch);
                self.add(Op::Binary(BinaryOp::Div), &[diff, b], at)
            }
            Func::Bce => {
                let (z, y) = (x, tensors[1]);
                self.check_target("binary_cross_entropy_with_logits", "logits", z, y, at)?;
                let sp = self.add(Op::Unary(UnaryOp::Softplus), &[z], at)?;
                let yz = self.add(Op::Binary(BinaryOp::Mul), &[y, z], at)?;
                let d = self.add(Op::Binary(BinaryOp::Sub), &[sp, yz], at)?;
                let n = self.g.shape(z).numel();
                self.mean_of(d, n, at)
            }
        }
    }

    /// `div (sum x) n`.
    fn mean_of(&mut self, x: NodeId, n: usize, at: &dyn ToTokens) -> Option<NodeId> {
        let s = self.add(Op::Sum, &[x], at)?;
        let c = self.count(n);
        self.add(Op::Binary(BinaryOp::Div), &[s, c], at)
    }

    /// The scalar `n`, an element or row count: a constant when it is a
    /// literal, a `count` leaf when it depends on the batch size `B`.
    fn count(&mut self, n: usize) -> NodeId {
        match Extent::of(n) {
            Extent::Fixed(_) => self.g.constant(n as f64),
            Extent::Batch(_) => self.g.push(Op::Count(n), Vec::new(), Shape::scalar(), None),
        }
    }

    /// A loss's target must have the first operand's shape (or broadcast to it),
    /// so that a shape slip cannot silently broadcast into a larger loss.
    fn check_target(
        &mut self,
        f: &str,
        what: &str,
        a: NodeId,
        t: NodeId,
        at: &dyn ToTokens,
    ) -> Option<()> {
        let (sa, st) = (self.g.shape(a), self.g.shape(t));
        if st.broadcasts_to(sa) {
            Some(())
        } else {
            let msg = format!("{f}: target shape {st} does not match the {what} shape {sa}; they must be equal (or the target must broadcast to it)");
            self.errors.spanned(at, msg);
            None
        }
    }

    /// NumPy `matmul` for 1-D and 2-D operands through the 2-D op and reshapes.
    fn matmul(&mut self, f: &str, a: NodeId, b: NodeId, at: &dyn ToTokens) -> Option<NodeId> {
        let (sa, sb) = (self.g.shape(a).clone(), self.g.shape(b).clone());
        let bad = |msg: String, errors: &mut Errors| {
            errors.spanned(at, msg);
            None
        };
        if sa.is_scalar() || sb.is_scalar() {
            return bad(
                format!(
                    "{f}: scalar operands are not allowed (shapes {sa} and {sb}); use `*` to scale"
                ),
                self.errors,
            );
        }
        if sa.rank() > 2 || sb.rank() > 2 {
            return bad(
                format!("{f}: operands must be 1-D or 2-D, got shapes {sa} and {sb}"),
                self.errors,
            );
        }
        let ka = sa.dims()[sa.rank() - 1];
        let kb = sb.dims()[0];
        if ka != kb {
            return bad(
                format!("{f}: shapes {sa} and {sb} are not aligned ({ka} != {kb})"),
                self.errors,
            );
        }
        // A 1-D left operand is a row, a 1-D right operand a column.
        let a2 = if sa.rank() == 1 {
            self.add(Op::Reshape(Shape::new([1, ka])), &[a], at)?
        } else {
            a
        };
        let b2 = if sb.rank() == 1 {
            self.add(Op::Reshape(Shape::new([kb, 1])), &[b], at)?
        } else {
            b
        };
        let m = self.add(
            Op::MatMul {
                ta: false,
                tb: false,
            },
            &[a2, b2],
            at,
        )?;
        // Remove the added axes again.
        let out = match (sa.rank(), sb.rank()) {
            (1, 1) => Shape::scalar(),
            (1, _) => Shape::new([sb.dims()[1]]),
            (_, 1) => Shape::new([sa.dims()[0]]),
            _ => return Some(m),
        };
        self.add(Op::Reshape(out), &[m], at)
    }

    /// An elementwise binary op with NumPy broadcasting.
    fn binary(
        &mut self,
        op: Op,
        sym: &str,
        a: NodeId,
        b: NodeId,
        at: &dyn ToTokens,
    ) -> Option<NodeId> {
        let (sa, sb) = (self.g.shape(a), self.g.shape(b));
        if broadcast_shapes(sa, sb).is_none() {
            let msg = format!(
                "{sym}: shapes {sa} and {sb} do not broadcast (NumPy rules: trailing dimensions must be equal or 1)"
            );
            self.errors.spanned(at, msg);
            return None;
        }
        self.add(op, &[a, b], at)
    }

    /// Appends an op; an `IrError` becomes an error at `at`, and so does a
    /// shape that later stages cannot represent. Nothing downstream sees a
    /// rejected node: its users are never lowered.
    fn add(&mut self, op: Op, args: &[NodeId], at: &dyn ToTokens) -> Option<NodeId> {
        let id = match self.g.add(op, args) {
            Ok(id) => id,
            Err(e) => {
                self.errors.spanned(at, e.message);
                return None;
            }
        };
        // `Graph::add` has rejected two batch factors (they could overflow
        // the element count below).
        let s = self.g.shape(id);
        if s.dims()
            .iter()
            .try_fold(1usize, |n, d| n.checked_mul(*d))
            .is_none()
        {
            let msg = format!("this would have shape {s}, whose element count overflows `usize`");
            self.errors.spanned(at, msg);
            return None;
        }
        Some(id)
    }
}

/// A body statement as one line of formatted Rust, for provenance comments:
/// `let h = relu(x.matmul(w1) + c);`. Deterministic: it depends on the tokens
/// only, not on spans or the original whitespace.
fn source_text(stmt: &syn::Stmt) -> String {
    let file = syn::File {
        shebang: None,
        attrs: Vec::new(),
        items: vec![syn::parse_quote!(fn f() { #stmt })],
    };
    let text = prettyplease::unparse(&file);
    let mut lines: Vec<&str> = text.lines().map(str::trim).collect();
    // Drop `fn f() {` and `}`; join a statement prettyplease wrapped.
    lines.retain(|l| !l.is_empty());
    let body = lines.get(1..lines.len().saturating_sub(1)).unwrap_or(&[]);
    let mut out = String::new();
    for l in body {
        if !out.is_empty() && !out.ends_with(['(', '[']) && !l.starts_with([')', ']', '.']) {
            out.push(' ');
        }
        out.push_str(l);
    }
    out.replace(", )", ")").replace(",)", ")")
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Names a construct outside the body language, for "unsupported syntax: ...".
fn unsupported_syntax(e: &Expr) -> &'static str {
    match e {
        Expr::Array(_) => "array literals",
        Expr::Assign(_) => "assignments",
        Expr::Async(_) => "`async` blocks",
        Expr::Await(_) => "`.await`",
        Expr::Block(_) => "blocks",
        Expr::Break(_) => "`break`",
        Expr::Cast(_) => "`as` casts",
        Expr::Closure(_) => "closures",
        Expr::Const(_) => "`const` blocks",
        Expr::Continue(_) => "`continue`",
        Expr::Field(_) => "field access",
        Expr::ForLoop(_) => "`for` loops",
        Expr::If(_) => "`if` expressions",
        Expr::Index(_) => "indexing",
        Expr::Infer(_) => "`_`",
        Expr::Let(_) => "`let` expressions",
        Expr::Loop(_) => "`loop`",
        Expr::Macro(_) => "macros",
        Expr::Match(_) => "`match`",
        Expr::Range(_) => "ranges",
        Expr::RawAddr(_) | Expr::Reference(_) => "references",
        Expr::Repeat(_) => "array repeat expressions",
        Expr::Struct(_) => "struct literals",
        Expr::Try(_) => "the `?` operator",
        Expr::TryBlock(_) => "`try` blocks",
        Expr::Tuple(_) => "tuples",
        Expr::Unsafe(_) => "`unsafe` blocks",
        Expr::While(_) => "`while` loops",
        Expr::Yield(_) => "`yield`",
        _ => "this expression",
    }
}
