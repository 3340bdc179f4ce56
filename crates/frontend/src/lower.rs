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
use std::rc::Rc;
use syn::punctuated::Punctuated;
use syn::{Expr, Lit, Pat, Stmt};

/// The body's shape, repeated in errors about syntax outside the language.
const STRAIGHT_LINE: &str = "a network body is straight-line `let` bindings and expressions";

/// What a name in the body stands for.
#[derive(Clone)]
enum Binding {
    /// A tensor; `None` marks a value whose definition failed: its uses stay
    /// silent so one mistake is reported once.
    Value(Option<NodeId>),
    /// A loop variable, with its value in the iteration being lowered.
    LoopIndex(usize),
    /// A closure, inlined with the shapes of each call.
    Closure(Rc<Closure>),
}

/// A closure bound with `let`: its parameters, body, and the names in scope
/// where it was written (what its body may use).
struct Closure {
    name: String,
    params: Vec<(syn::Ident, Option<syn::Type>)>,
    body: Expr,
    scope: BTreeMap<String, usize>,
}

/// One `let` (or argument): its binding now, and whether `=` may replace it.
struct Slot {
    binding: Binding,
    mutable: bool,
}

/// Variables in scope. Every `let` makes a new slot; `names` maps each name
/// to its latest slot. A loop body or closure call saves `names` and puts it
/// back afterwards, so its own `let`s end with it, while an assignment to an
/// outer `let mut` changes the outer slot and lasts.
#[derive(Default)]
pub(crate) struct Env {
    names: BTreeMap<String, usize>,
    slots: Vec<Slot>,
    /// Names in the order they were first bound, for "in scope: ..." hints.
    order: Vec<String>,
}

impl Env {
    /// Binds (or shadows) `name` as an immutable tensor.
    pub(crate) fn bind(&mut self, name: &str, node: Option<NodeId>) {
        self.bind_as(name, Binding::Value(node), false);
    }

    fn bind_as(&mut self, name: &str, binding: Binding, mutable: bool) {
        let name = unraw(name);
        self.slots.push(Slot { binding, mutable });
        if self
            .names
            .insert(name.to_string(), self.slots.len() - 1)
            .is_none()
        {
            self.order.push(name.to_string());
        }
    }

    fn get(&self, name: &str) -> Option<&Slot> {
        self.names.get(unraw(name)).map(|&s| &self.slots[s])
    }
}

/// `r#type` and `type` are one name to rustc, so to the environment too.
pub(crate) fn unraw(name: &str) -> &str {
    name.strip_prefix("r#").unwrap_or(name)
}

/// What a function argument must be.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Tensor,
    /// An integer literal (the exponent of `powi`).
    IntLit,
    /// A number literal, possibly negative (`leaky_relu`'s slope, `clamp`'s bounds).
    FloatLit,
    /// A non-negative integer literal naming an axis (`sum_axis(x, 1)`).
    AxisLit,
}

/// A reduction along one axis, which it removes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum AxisReduce {
    Sum,
    Mean,
    Max,
    LogSumExp,
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
    Axis(AxisReduce),
    LayerNorm,
    Concat,
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
    (
        "sum_axis",
        Func::Axis(AxisReduce::Sum),
        &[("x", T), ("axis", Kind::AxisLit)],
    ),
    (
        "mean_axis",
        Func::Axis(AxisReduce::Mean),
        &[("x", T), ("axis", Kind::AxisLit)],
    ),
    (
        "max_axis",
        Func::Axis(AxisReduce::Max),
        &[("x", T), ("axis", Kind::AxisLit)],
    ),
    (
        "logsumexp_axis",
        Func::Axis(AxisReduce::LogSumExp),
        &[("x", T), ("axis", Kind::AxisLit)],
    ),
    (
        "layer_norm",
        Func::LayerNorm,
        &[("x", T), ("gamma", T), ("beta", T)],
    ),
    ("concat", Func::Concat, &[("a", T), ("b", T)]),
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

/// Binds the layer functions of a `#[gradc::layers]` module as closures that
/// see each other (and nothing of a network's own variables).
pub(crate) fn bind_layers(env: &mut Env, layers: &[syn::ItemFn], errors: &mut Errors) {
    let first = env.slots.len();
    let scope: BTreeMap<String, usize> = layers
        .iter()
        .enumerate()
        .map(|(i, f)| (f.sig.ident.to_string(), first + i))
        .collect();
    for f in layers {
        let mut params = Vec::new();
        for input in &f.sig.inputs {
            match input {
                syn::FnArg::Typed(pt) => match &*pt.pat {
                    Pat::Ident(pi) if pi.by_ref.is_none() && pi.subpat.is_none() => {
                        // `_` means any shape; an array type is checked per call.
                        let ty = (!matches!(&*pt.ty, syn::Type::Infer(_))).then(|| (*pt.ty).clone());
                        params.push((pi.ident.clone(), ty));
                    }
                    other => errors.spanned(
                        other,
                        "unsupported layer parameter: name each parameter, as in `fn dense(x: _, w: _, b: _) -> _`",
                    ),
                },
                syn::FnArg::Receiver(r) => errors.spanned(r, "a layer function takes no `self`"),
            }
        }
        if !f.sig.generics.params.is_empty() {
            errors.spanned(
                &f.sig.generics,
                "a layer function takes no generic parameters: shapes come from each call",
            );
        }
        let closure = Closure {
            name: f.sig.ident.to_string(),
            params,
            body: Expr::Block(syn::ExprBlock {
                attrs: Vec::new(),
                label: None,
                block: (*f.block).clone(),
            }),
            scope: scope.clone(),
        };
        env.bind_as(
            &f.sig.ident.to_string(),
            Binding::Closure(Rc::new(closure)),
            false,
        );
    }
}

/// How deeply closure and layer calls may nest: deeper is a layer that calls
/// itself, directly or through another.
const MAX_CALL_DEPTH: usize = 64;

/// At most this many loop iterations are unrolled in one network: a bound far
/// beyond the lecture's depth range is more likely a typo than a network.
const MAX_ITERATIONS: usize = 100_000;

/// What the body lowered to: its result (and the expression that produced
/// it) and the values marked `#[output]`.
pub(crate) struct Body<'b> {
    pub(crate) result: Option<(NodeId, &'b Expr)>,
    pub(crate) outputs: Vec<(syn::Ident, NodeId)>,
}

/// Lowers the body into `g`. The result is `None` if some error was recorded.
pub(crate) fn lower_body<'b>(
    block: &'b syn::Block,
    g: &mut Graph,
    env: &mut Env,
    elem: &mut TypeCx,
    errors: &mut Errors,
) -> Body<'b> {
    let mut cx = Lowerer {
        g,
        env,
        elem,
        errors,
        marks: Vec::new(),
        context: Vec::new(),
        top: 0,
        iterations: 0,
        calls: Vec::new(),
        outputs: Vec::new(),
    };
    let result = cx.block(block);
    let ends: Vec<usize> = cx
        .marks
        .iter()
        .skip(1)
        .map(|m| m.0)
        .chain([cx.g.len()])
        .collect();
    for ((start, stmt, source), end) in cx.marks.iter().zip(ends) {
        let origin = gradc_ir::Origin::forward(*stmt, source.clone());
        for id in *start..end {
            cx.g.set_origin(NodeId::from_index(id), origin.clone());
        }
    }
    Body {
        result,
        outputs: cx.outputs,
    }
}

struct Lowerer<'a> {
    g: &'a mut Graph,
    env: &'a mut Env,
    elem: &'a mut TypeCx,
    errors: &'a mut Errors,
    /// Provenance: from graph length `.0` on, nodes come from body statement
    /// `.1`, as the source text `.2` says (with the loop iteration or layer
    /// call it was lowered in).
    marks: Vec<(usize, usize, String)>,
    /// The statement being lowered, innermost last, with where it runs:
    /// `h = tanh(..); [k = 3]`.
    context: Vec<String>,
    /// The top-level statement being lowered.
    top: usize,
    /// Loop iterations unrolled so far.
    iterations: usize,
    /// Closure and layer calls being lowered, innermost last: `name` at `call`.
    calls: Vec<String>,
    outputs: Vec<(syn::Ident, NodeId)>,
}

/// Where statements are being lowered: what they may contain.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// The function body.
    Top,
    /// A `for` loop body: statements only, no value.
    Loop,
    /// A closure's block body.
    Closure,
}

impl Lowerer<'_> {
    /// Nodes from here on come from the innermost statement in `context`.
    fn mark(&mut self) {
        let text = self.context.last().cloned().unwrap_or_default();
        self.marks.push((self.g.len(), self.top, text));
    }

    /// Lowers `f` with `text` as the provenance of its nodes.
    fn within<T>(&mut self, text: String, f: impl FnOnce(&mut Self) -> T) -> T {
        self.context.push(text);
        self.mark();
        let out = f(self);
        self.context.pop();
        self.mark();
        out
    }

    fn block<'b>(&mut self, block: &'b syn::Block) -> Option<(NodeId, &'b Expr)> {
        let n = block.stmts.len();
        for (i, stmt) in block.stmts.iter().enumerate() {
            let last = i + 1 == n;
            self.top = i;
            self.context = vec![source_text(stmt)];
            self.mark();
            match stmt {
                Stmt::Expr(Expr::Return(r), _) if last => {
                    let Some(e) = &r.expr else {
                        self.errors
                            .spanned(r, "`return` needs a value: `return EXPR;`");
                        return None;
                    };
                    return self.expr(e).map(|id| (id, &**e));
                }
                Stmt::Expr(e, None) if last && !is_statement(e) => {
                    return self.expr(e).map(|id| (id, e))
                }
                stmt => {
                    self.stmt(stmt, Scope::Top, last);
                    // `result;` at the end: reported as a stray `;`, once.
                    if last && matches!(stmt, Stmt::Expr(e, Some(_)) if !is_statement(e)) {
                        return None;
                    }
                }
            }
        }
        self.errors.at(
            block.brace_token.span.close(),
            "missing final expression: the body must end with the network's result, such as `mse(yhat, y)`, or `return EXPR;`",
        );
        None
    }

    /// One statement that is not the body's result.
    fn stmt(&mut self, stmt: &Stmt, scope: Scope, last: bool) {
        match stmt {
            Stmt::Local(local) => self.local(local, scope),
            Stmt::Expr(Expr::Assign(a), _) => self.assign(a),
            Stmt::Expr(Expr::ForLoop(f), _) => self.for_loop(f),
            // syn's empty statement: its expression has no tokens to point at.
            Stmt::Expr(Expr::Verbatim(v), Some(semi)) if v.is_empty() => {
                self.errors.spanned(semi, "empty statement: remove this `;`")
            }
            Stmt::Expr(e, semi) => {
                // Syntax outside the language reports itself while lowering.
                if self.expr(e).is_none() {
                    return;
                }
                match (semi, scope) {
                    (Some(semi), Scope::Top) if last => self.errors.spanned(
                        semi,
                        "the body must end with its result, an expression without `;`: remove this `;` (or write `return EXPR;`)",
                    ),
                    (_, Scope::Loop) => self.errors.spanned(
                        stmt,
                        "this statement has no effect: a loop body has no value; assign the result to a `let mut` variable declared before the loop, as in `h = tanh(h.matmul(ws[k]));`",
                    ),
                    _ => self.errors.spanned(
                        stmt,
                        format!("this statement has no effect; {STRAIGHT_LINE}, ending with the result"),
                    ),
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

    fn local(&mut self, local: &syn::Local, scope: Scope) {
        let mut output = None;
        for a in &local.attrs {
            if a.path().is_ident("output") && matches!(a.meta, syn::Meta::Path(_)) {
                if scope == Scope::Top {
                    output = Some(a);
                } else {
                    self.errors.spanned(
                        a,
                        "`#[output]` marks a value of the function body itself, not one inside a loop or closure: bind the value with `let` after the loop",
                    );
                }
            } else {
                self.errors.spanned(
                    a,
                    "unsupported attribute on `let`: only `#[output]` (a prediction of the network) is allowed here; `#[input]` goes on a function argument",
                );
            }
        }
        let (pat, annotation) = match &local.pat {
            Pat::Type(pt) => (&*pt.pat, Some(&*pt.ty)),
            p => (p, None),
        };
        let (ident, mutable) = match pat {
            Pat::Ident(pi) if pi.by_ref.is_none() && pi.subpat.is_none() => {
                (Some(&pi.ident), pi.mutability.is_some())
            }
            other => {
                self.errors.spanned(
                    other,
                    "unsupported `let` pattern: bind one plain identifier, as in `let h = relu(x);` or `let mut h = x;`",
                );
                (None, false)
            }
        };
        let init = match &local.init {
            None => {
                self.errors.spanned(
                    local,
                    "`let` needs a value: `let h = EXPR;` (declare a variable and assign it in a loop with `let mut h = EXPR;`)",
                );
                None
            }
            Some(init) => {
                if let Some((else_token, _)) = &init.diverge {
                    self.errors.spanned(
                        else_token,
                        format!("`let ... else` is not supported; {STRAIGHT_LINE}"),
                    );
                }
                Some(&*init.expr)
            }
        };
        if let Some(Expr::Closure(c)) = init.map(strip_parens) {
            if let Some(a) = output {
                self.errors
                    .spanned(a, "`#[output]` marks a value, not a closure");
            }
            if let Some(ty) = annotation {
                self.errors
                    .spanned(ty, "a closure binding takes no type annotation");
            }
            let closure = self.closure(c, ident);
            if let (Some(ident), Some(closure)) = (ident, closure) {
                self.env.bind_as(
                    &ident.to_string(),
                    Binding::Closure(Rc::new(closure)),
                    false,
                );
            } else if let Some(ident) = ident {
                self.env.bind(&ident.to_string(), None);
            }
            return;
        }
        let value = init.and_then(|e| self.expr(e));
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
                if output.is_some() {
                    if self.outputs.iter().any(|(o, _)| *o == *ident) {
                        self.errors.spanned(
                            ident,
                            format!("`{name}` is already an output; each `#[output]` needs its own name"),
                        );
                    } else {
                        self.outputs.push((ident.clone(), v));
                    }
                }
            }
            self.env.bind_as(&name, Binding::Value(value), mutable);
        }
    }

    /// `name = EXPR;` to a `let mut` variable in scope, with a value of its shape.
    fn assign(&mut self, a: &syn::ExprAssign) {
        let value = self.expr(&a.right);
        let ident = match strip_parens(&a.left) {
            Expr::Path(p) if p.qself.is_none() => p.path.get_ident(),
            _ => None,
        };
        let Some(ident) = ident else {
            self.errors.spanned(
                &a.left,
                "unsupported assignment: assign to a variable declared with `let mut`, as in `h = tanh(h.matmul(ws[k]));`",
            );
            return;
        };
        let name = ident.to_string();
        let Some(&slot) = self.env.names.get(unraw(&name)) else {
            self.errors.spanned(
                ident,
                format!("cannot assign to `{name}`: no such variable; declare it first with `let mut {name} = EXPR;`"),
            );
            return;
        };
        let (mutable, old) = match &self.env.slots[slot] {
            Slot {
                binding: Binding::Value(old),
                mutable,
            } => (*mutable, *old),
            Slot { .. } => (false, None),
        };
        if !mutable {
            self.errors.spanned(
                ident,
                format!("cannot assign twice to immutable variable `{name}`; declare it with `let mut {name} = ...` to assign it again"),
            );
            return;
        }
        if let (Some(old), Some(v)) = (old, value) {
            let (was, now) = (self.g.shape(old), self.g.shape(v));
            if was != now {
                self.errors.spanned(
                    &a.right,
                    format!("`{name}` has shape {was}, but the assigned value has shape {now}; an assignment keeps the variable's type"),
                );
                return;
            }
            if self.g.name(v).is_none() {
                self.g.set_name(v, name.clone());
            }
        }
        self.env.slots[slot].binding = Binding::Value(value);
    }

    /// `for k in A..B { .. }`: the body is lowered once per iteration with `k`
    /// bound to that iteration's value (unrolled).
    fn for_loop(&mut self, f: &syn::ExprForLoop) {
        if let Some(l) = &f.label {
            self.errors.spanned(l, "loop labels are not supported");
        }
        for a in &f.attrs {
            self.errors
                .spanned(a, "attributes on loops are not supported");
        }
        let var = match &*f.pat {
            Pat::Ident(pi)
                if pi.by_ref.is_none() && pi.subpat.is_none() && pi.mutability.is_none() =>
            {
                Some(pi.ident.to_string())
            }
            Pat::Wild(_) => None,
            other => {
                self.errors.spanned(
                    other,
                    "unsupported loop pattern: name the loop variable, as in `for k in 0..10`",
                );
                return;
            }
        };
        let bounds_msg = "a `for` loop runs over a range with integer bounds known at compile time: literals or outer loop variables, as in `for k in 0..10` or `for k in 1..=L`";
        let Expr::Range(r) = strip_parens(&f.expr) else {
            self.errors.spanned(&f.expr, bounds_msg);
            return;
        };
        let (Some(start), Some(end)) = (&r.start, &r.end) else {
            self.errors.spanned(r, bounds_msg);
            return;
        };
        let (Some(start), Some(end)) = (
            self.int_value(start, bounds_msg),
            self.int_value(end, bounds_msg),
        ) else {
            return;
        };
        let end = match r.limits {
            syn::RangeLimits::HalfOpen(_) => end,
            syn::RangeLimits::Closed(_) => end.saturating_add(1),
        };
        let count = usize::try_from(end.saturating_sub(start)).unwrap_or(0);
        if count > MAX_ITERATIONS - self.iterations.min(MAX_ITERATIONS) {
            self.errors.spanned(
                r,
                format!("this loop runs {count} times; gradc unrolls loops, at most {MAX_ITERATIONS} iterations in a network"),
            );
            return;
        }
        self.iterations += count;
        let name = var.as_deref().unwrap_or("_");
        let stmts = &f.body.stmts;
        for k in start..end {
            let saved = self.env.names.clone();
            if let Some(var) = &var {
                let value = usize::try_from(k).unwrap_or(usize::MAX);
                self.env.bind_as(var, Binding::LoopIndex(value), false);
            }
            for (i, stmt) in stmts.iter().enumerate() {
                let text = format!("{} [{name} = {k}]", source_text(stmt));
                let last = i + 1 == stmts.len();
                self.within(text, |cx| cx.stmt(stmt, Scope::Loop, last));
            }
            self.env.names = saved;
            // Errors in the body are the same in every iteration: report once.
            if !self.errors.0.is_empty() {
                break;
            }
        }
    }

    /// A closure bound with `let`: checked now, lowered at each call.
    fn closure(&mut self, c: &syn::ExprClosure, ident: Option<&syn::Ident>) -> Option<Closure> {
        let mut ok = true;
        if let Some(t) = &c.asyncness {
            self.errors.spanned(t, "`async` closures are not supported");
            ok = false;
        }
        if let syn::ReturnType::Type(arrow, ty) = &c.output {
            self.errors.spanned(
                quote::quote!(#arrow #ty),
                "a layer closure takes no return type: the shape of its result comes from each call",
            );
            ok = false;
        }
        let mut params = Vec::new();
        for p in &c.inputs {
            let (pat, ty) = match p {
                Pat::Type(pt) => (&*pt.pat, Some((*pt.ty).clone())),
                p => (p, None),
            };
            match pat {
                Pat::Ident(pi) if pi.by_ref.is_none() && pi.subpat.is_none() => {
                    params.push((pi.ident.clone(), ty));
                }
                other => {
                    self.errors.spanned(
                        other,
                        "unsupported closure parameter: name each parameter, as in `|x, w, b| relu(x.matmul(w) + b)`",
                    );
                    ok = false;
                }
            }
        }
        ok.then(|| Closure {
            name: ident.map_or_else(|| "closure".into(), ToString::to_string),
            params,
            body: (*c.body).clone(),
            scope: self.env.names.clone(),
        })
    }

    /// A call of a closure: its body lowered with the parameters bound to the
    /// argument values, in the scope where it was written.
    fn call_closure(
        &mut self,
        c: &Closure,
        args: &Punctuated<Expr, syn::Token![,]>,
        at: &dyn ToTokens,
        call: &str,
    ) -> Option<NodeId> {
        let vals: Vec<Option<NodeId>> = args.iter().map(|a| self.expr(a)).collect();
        if vals.len() != c.params.len() {
            let names: Vec<String> = c.params.iter().map(|p| p.0.to_string()).collect();
            self.errors.spanned(
                at,
                format!(
                    "closure `{}` takes {} argument{} ({}), got {}",
                    c.name,
                    names.len(),
                    plural(names.len()),
                    names.join(", "),
                    vals.len()
                ),
            );
            return None;
        }
        let vals: Vec<NodeId> = vals.into_iter().collect::<Option<_>>()?;
        if self.calls.len() >= MAX_CALL_DEPTH {
            self.errors.spanned(
                at,
                format!("calls of `{}` nest more than {MAX_CALL_DEPTH} deep: a layer or closure cannot call itself", c.name),
            );
            return None;
        }
        // A block body of one expression reads as that expression; a call
        // inside a layer names the enclosing calls too, outermost last.
        let site = format!("`{}` at `{call}`", c.name);
        let text = match strip_parens(&c.body) {
            Expr::Block(b) if b.label.is_none() && b.block.stmts.len() == 1 => {
                match &b.block.stmts[0] {
                    Stmt::Expr(e, None) => expr_text(e),
                    _ => expr_text(&c.body),
                }
            }
            body => expr_text(body),
        };
        let site = match self.calls.last() {
            Some(outer) => format!("{site} in {outer}"),
            None => site,
        };
        let text = format!("{text} [layer {site}]");
        self.calls.push(site);
        let saved = std::mem::replace(&mut self.env.names, c.scope.clone());
        let mut ok = true;
        for ((p, ty), v) in c.params.iter().zip(&vals) {
            if let Some(ty) = ty {
                let declared = type_shape(ty, Role::Other, self.elem, self.errors);
                let got = self.g.shape(*v).clone();
                if declared.as_ref().is_some_and(|d| *d != got) {
                    self.errors.spanned(
                        at,
                        format!(
                            "closure `{}`: parameter `{p}` is declared {} but this call passes shape {got}",
                            c.name,
                            ty.to_token_stream()
                        ),
                    );
                    ok = false;
                }
            }
            self.env.bind(&p.to_string(), Some(*v));
        }
        let out = if ok {
            self.within(text, |cx| match strip_parens(&c.body) {
                Expr::Block(b) if b.label.is_none() => cx.value_block(&b.block),
                body => cx.expr(body),
            })
        } else {
            None
        };
        self.env.names = saved;
        self.calls.pop();
        out
    }

    /// A closure's block body: statements, then its value.
    fn value_block(&mut self, block: &syn::Block) -> Option<NodeId> {
        let n = block.stmts.len();
        for (i, stmt) in block.stmts.iter().enumerate() {
            if i + 1 == n {
                if let Stmt::Expr(e, None) = stmt {
                    if !is_statement(e) {
                        return self.expr(e);
                    }
                }
            }
            self.stmt(stmt, Scope::Closure, false);
        }
        self.errors.at(
            block.brace_token.span.close(),
            "missing final expression: a closure body ends with its value",
        );
        None
    }

    /// An integer known at compile time: a literal, a loop variable, or `+`,
    /// `-`, `*` of those (loop bounds and indices).
    fn int_value(&mut self, e: &Expr, what: &str) -> Option<i64> {
        match strip_parens(e) {
            Expr::Lit(syn::ExprLit {
                lit: Lit::Int(i), ..
            }) if matches!(i.suffix(), "" | "usize" | "i32" | "i64" | "u32" | "u64") => {
                match i.base10_parse::<i64>() {
                    Ok(v) if v <= 1 << 40 => Some(v),
                    _ => {
                        self.errors.spanned(i, "this integer is too large");
                        None
                    }
                }
            }
            Expr::Path(p) if p.qself.is_none() && p.path.get_ident().is_some() => {
                let name = p
                    .path
                    .get_ident()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                match self.env.get(&name).map(|s| &s.binding) {
                    Some(Binding::LoopIndex(k)) => i64::try_from(*k).ok(),
                    _ => {
                        self.errors.spanned(p, what);
                        None
                    }
                }
            }
            Expr::Unary(u) if matches!(u.op, syn::UnOp::Neg(_)) => {
                self.int_value(&u.expr, what).map(|v| -v)
            }
            Expr::Binary(b)
                if matches!(
                    b.op,
                    syn::BinOp::Add(_) | syn::BinOp::Sub(_) | syn::BinOp::Mul(_)
                ) =>
            {
                let l = self.int_value(&b.left, what)?;
                let r = self.int_value(&b.right, what)?;
                let v = match b.op {
                    syn::BinOp::Add(_) => l.checked_add(r),
                    syn::BinOp::Sub(_) => l.checked_sub(r),
                    _ => l.checked_mul(r),
                };
                if v.is_none() {
                    self.errors.spanned(b, "this integer expression overflows");
                }
                v
            }
            other => {
                self.errors.spanned(other, what);
                None
            }
        }
    }

    /// `x[i]`: slice `i` along the first axis.
    fn index(&mut self, ix: &syn::ExprIndex) -> Option<NodeId> {
        let x = self.expr(&ix.expr);
        let i = self.int_value(
            &ix.index,
            "an index is an integer known at compile time: a literal or a loop variable, as in `ws[k]` or `ws[0]`",
        );
        let (x, i) = (x?, i?);
        let shape = self.g.shape(x).clone();
        let Some(&len) = shape.dims().first() else {
            self.errors.spanned(
                &ix.expr,
                "cannot index a scalar: indexing selects along the first axis of a stacked tensor, as in `ws[k]`",
            );
            return None;
        };
        if Extent::of(len) != Extent::Fixed(len) {
            self.errors.spanned(
                &ix.index,
                format!("cannot index the batch axis: the first axis of this value (shape {shape}) has length `B`"),
            );
            return None;
        }
        let Some(i) = usize::try_from(i).ok().filter(|&i| i < len) else {
            self.errors.spanned(
                &ix.index,
                format!(
                    "index {i} is out of range: the first axis has length {len} (shape {shape})"
                ),
            );
            return None;
        };
        let id = self.add(Op::Index(i), &[x], ix)?;
        if let Some(base) = self.g.name(x) {
            let name = format!("{base}_{i}");
            self.g.set_name(id, name);
        }
        Some(id)
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
                match name
                    .and_then(|n| self.env.get(&n.to_string()))
                    .map(|s| &s.binding)
                {
                    Some(Binding::Closure(closure)) => {
                        let closure = Rc::clone(closure);
                        let text = expr_text(e);
                        return self.call_closure(&closure, &c.args, c, &text);
                    }
                    // A closure whose definition failed: already reported.
                    Some(Binding::Value(None)) => {
                        for a in &c.args {
                            self.expr(a);
                        }
                        return None;
                    }
                    Some(Binding::Value(Some(_)) | Binding::LoopIndex(_)) => {
                        for a in &c.args {
                            self.expr(a);
                        }
                        self.errors.spanned(
                            &c.func,
                            format!("`{}` is a variable, not a function; call a closure bound with `let` or a supported function", name.map(ToString::to_string).unwrap_or_default()),
                        );
                        return None;
                    }
                    None => {}
                }
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
            Expr::Index(ix) => self.index(ix),
            Expr::Assign(a) => {
                self.errors.spanned(
                    a,
                    "an assignment is a statement of its own: `h = EXPR;`, not part of an expression",
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
        match self.env.get(&name).map(|s| &s.binding) {
            Some(Binding::Value(v)) => *v,
            Some(Binding::LoopIndex(_)) => {
                self.errors.spanned(
                    ident,
                    format!("`{name}` is a loop variable: it indexes stacked tensors, as in `ws[{name}]`, and is not a tensor itself"),
                );
                None
            }
            Some(Binding::Closure(_)) => {
                self.errors.spanned(
                    ident,
                    format!("`{name}` is a closure: call it, as in `{name}(h, w, b)`"),
                );
                None
            }
            None if name == "B" && self.elem.batch => {
                self.errors.spanned(
                    ident,
                    "`B` is the batch size, an array length in types, not a value; `mean`, `mse` and the cross-entropy losses already divide by the counts that depend on it",
                );
                None
            }
            None => {
                let in_scope: Vec<&str> = self
                    .env
                    .order
                    .iter()
                    .filter(|n| self.env.names.contains_key(*n))
                    .map(String::as_str)
                    .collect();
                let msg = if in_scope.is_empty() {
                    format!("unknown variable `{name}`")
                } else {
                    format!(
                        "unknown variable `{name}`; in scope: {}",
                        in_scope.join(", ")
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
            // rustc's `overflowing_literals`: a literal that rounds to infinity.
            Ok(v)
                if v.is_infinite()
                    || (self.elem.dtype() == Some(gradc_ir::DType::F32)
                        && (v as f32).is_infinite()) =>
            {
                let ty = self.elem.dtype().map_or("f64", |d| d.name());
                self.errors.spanned(
                    lit,
                    format!("this literal is out of range for `{ty}`: it would be infinity (the largest `{ty}` is about {})", if ty == "f32" { "3.4e38" } else { "1.8e308" }),
                );
                None
            }
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
        let (neg, core) = signed_literal(e);
        match core {
            Expr::Lit(syn::ExprLit {
                lit: Lit::Int(i), ..
            }) if matches!(i.suffix(), "" | "i32") => {
                let v = i
                    .base10_parse::<i64>()
                    .ok()
                    .map(|v| if neg { -v } else { v });
                match v.and_then(|v| i32::try_from(v).ok()) {
                    Some(v) => Some(v),
                    None => {
                        self.errors
                            .spanned(e, "the exponent of `powi` does not fit in an `i32`");
                        None
                    }
                }
            }
            _ => {
                self.errors.spanned(
                    e,
                    "the exponent of `powi` must be an integer literal, such as `2` or `-1`",
                );
                None
            }
        }
    }

    /// A number literal argument `param` of `f`, possibly negated (`-0.5`).
    fn float_lit(&mut self, e: &Expr, f: &str, param: &str) -> Option<f64> {
        let (neg, core) = signed_literal(e);
        match core {
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
                Some(if neg { -v } else { v })
            }
            _ => {
                self.errors.spanned(
                    e,
                    format!("`{f}`: `{param}` must be a number literal, such as `0.01` or `-1.0`"),
                );
                None
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
        let mut axes = Vec::new();
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
                Kind::AxisLit => match self.axis_lit(a, &fname) {
                    Some(v) => axes.push((v, *a)),
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
            Func::Axis(r) => {
                let (axis, axis_expr) = axes[0];
                self.reduce_axis(&fname, r, x, axis, axis_expr, at)
            }
            Func::LayerNorm => self.layer_norm(x, tensors[1], tensors[2], at),
            Func::Concat => {
                let (sa, sb) = (self.g.shape(x).clone(), self.g.shape(tensors[1]).clone());
                let fixed = |d: usize| Extent::of(d) == Extent::Fixed(d);
                match (sa.dims().split_last(), sb.dims().split_last()) {
                    (Some((&na, ra)), Some((&nb, rb))) if ra == rb && fixed(na) && fixed(nb) => {
                        self.add(Op::Concat, &[x, tensors[1]], at)
                    }
                    (Some((_, ra)), Some((_, rb))) if ra == rb => {
                        self.errors.spanned(
                            at,
                            format!("`concat` of {sa} and {sb}: the last axis, along which it joins, must not be the batch size `B`"),
                        );
                        None
                    }
                    _ => {
                        self.errors.spanned(
                            at,
                            format!("`concat` joins along the last axis: shapes must be equal except in the last axis, got {sa} and {sb}"),
                        );
                        None
                    }
                }
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

    /// An axis: a non-negative integer literal.
    fn axis_lit(&mut self, e: &Expr, f: &str) -> Option<usize> {
        let mut cur = e;
        loop {
            match cur {
                Expr::Paren(p) => cur = &p.expr,
                Expr::Group(g) => cur = &g.expr,
                Expr::Lit(syn::ExprLit {
                    lit: Lit::Int(i), ..
                }) if matches!(i.suffix(), "" | "usize") => {
                    return match i.base10_parse::<usize>() {
                        Ok(v) => Some(v),
                        Err(_) => {
                            self.errors
                                .spanned(e, format!("`{f}`: this axis does not fit in a `usize`"));
                            None
                        }
                    };
                }
                _ => {
                    self.errors.spanned(
                        e,
                        format!("`{f}`: the axis must be a non-negative integer literal, such as `0` or `1`"),
                    );
                    return None;
                }
            }
        }
    }

    /// `reshape s x`, omitted where `x` already has shape `s`.
    fn reshape_to(&mut self, x: NodeId, s: Shape, at: &dyn ToTokens) -> Option<NodeId> {
        if *self.g.shape(x) == s {
            Some(x)
        } else {
            self.add(Op::Reshape(s), &[x], at)
        }
    }

    /// A reduction along `axis`, which is removed. Sums go through `sum_to`
    /// (no copy); the maximum and logsumexp are row ops, so the axis is first
    /// moved last with reshapes and 2-D transposes.
    fn reduce_axis(
        &mut self,
        f: &str,
        r: AxisReduce,
        x: NodeId,
        axis: usize,
        axis_expr: &Expr,
        at: &dyn ToTokens,
    ) -> Option<NodeId> {
        let xs = self.g.shape(x).clone();
        let rank = xs.rank();
        if axis >= rank {
            let valid = match rank {
                0 => "a scalar has no axes".to_string(),
                1 => "the only axis is 0".to_string(),
                2 => "valid axes are 0 and 1".to_string(),
                n => format!("valid axes are 0 to {}", n - 1),
            };
            self.errors.spanned(
                axis_expr,
                format!("`{f}`: axis {axis} is out of range for shape {xs}; {valid}"),
            );
            return None;
        }
        let d = xs.dims();
        let out = Shape(
            d.iter()
                .enumerate()
                .filter(|&(k, _)| k != axis)
                .map(|(_, &v)| v)
                .collect(),
        );
        match r {
            AxisReduce::Sum | AxisReduce::Mean => {
                let mut keep = d.to_vec();
                keep[axis] = 1;
                let s = if d[axis] == 1 {
                    x
                } else if rank == 1 {
                    self.add(Op::Sum, &[x], at)?
                } else {
                    self.add(Op::SumTo(Shape(keep)), &[x], at)?
                };
                let s = self.reshape_to(s, out, at)?;
                if r == AxisReduce::Mean {
                    let c = self.count(d[axis]);
                    self.add(Op::Binary(BinaryOp::Div), &[s, c], at)
                } else {
                    Some(s)
                }
            }
            AxisReduce::Max | AxisReduce::LogSumExp => {
                let row = match r {
                    AxisReduce::Max => RowOp::MaxLast,
                    _ => RowOp::LogSumExp,
                };
                let p: usize = d[..axis].iter().product();
                let n = d[axis];
                let q: usize = d[axis + 1..].iter().product();
                // Rows of `n` along the last axis; `back` turns the row
                // results (one per row, in row order) into `out`.
                let (rows, back_transpose) = if q == 1 {
                    (self.reshape_to(x, Shape(vec![p, n]), at)?, None)
                } else if p == 1 {
                    let m = self.reshape_to(x, Shape(vec![n, q]), at)?;
                    (self.add(Op::Transpose, &[m], at)?, None)
                } else {
                    // [p, n·q]ᵀ = [n·q, p] = [n, q·p]; its transpose has rows
                    // (q, p) of `n`.
                    let m = self.reshape_to(x, Shape(vec![p, n * q]), at)?;
                    let t = self.add(Op::Transpose, &[m], at)?;
                    let t = self.reshape_to(t, Shape(vec![n, q * p]), at)?;
                    (self.add(Op::Transpose, &[t], at)?, Some((q, p)))
                };
                let y = self.add(Op::Row(row), &[rows], at)?;
                let y = match back_transpose {
                    Some((q, p)) => {
                        let y = self.reshape_to(y, Shape(vec![q, p]), at)?;
                        self.add(Op::Transpose, &[y], at)?
                    }
                    None => y,
                };
                self.reshape_to(y, out, at)
            }
        }
    }

    /// `(x − μ) / √(σ² + 1e-5) · gamma + beta` over the last axis, with μ and
    /// the biased σ² in two passes (no E[x²] − E[x]² cancellation).
    fn layer_norm(
        &mut self,
        x: NodeId,
        gamma: NodeId,
        beta: NodeId,
        at: &dyn ToTokens,
    ) -> Option<NodeId> {
        let xs = self.g.shape(x).clone();
        let Some(&n) = xs.dims().last() else {
            self.errors.spanned(
                at,
                "`layer_norm` normalises over the last axis and needs a 1-D or larger tensor, got a scalar",
            );
            return None;
        };
        for (what, p) in [("gamma", gamma), ("beta", beta)] {
            let ps = self.g.shape(p);
            if ps.dims() != [n] {
                let msg = format!(
                    "`layer_norm`: `{what}` must have shape [{}] (the last axis of {xs}), got {ps}",
                    Extent::of(n)
                );
                self.errors.spanned(at, msg);
                return None;
            }
        }
        let c = self.count(n);
        let s = self.add(Op::Row(RowOp::SumLast), &[x], at)?;
        let mean = self.add(Op::Binary(BinaryOp::Div), &[s, c], at)?;
        let d = self.add(Op::Binary(BinaryOp::Sub), &[x, mean], at)?;
        let sq = self.add(Op::Unary(UnaryOp::Powi(2)), &[d], at)?;
        let ss = self.add(Op::Row(RowOp::SumLast), &[sq], at)?;
        let var = self.add(Op::Binary(BinaryOp::Div), &[ss, c], at)?;
        let eps = self.g.constant(1e-5);
        let ve = self.add(Op::Binary(BinaryOp::Add), &[var, eps], at)?;
        let sd = self.add(Op::Unary(UnaryOp::Sqrt), &[ve], at)?;
        let xhat = self.add(Op::Binary(BinaryOp::Div), &[d, sd], at)?;
        let scaled = self.add(Op::Binary(BinaryOp::Mul), &[xhat, gamma], at)?;
        self.add(Op::Binary(BinaryOp::Add), &[scaled, beta], at)
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

    /// Appends an op; an `IrError` becomes an error at `at` (among them a
    /// shape too large for memory, so no count downstream overflows). Nothing
    /// downstream sees a rejected node: its users are never lowered.
    fn add(&mut self, op: Op, args: &[NodeId], at: &dyn ToTokens) -> Option<NodeId> {
        let id = match self.g.add(op, args) {
            Ok(id) => id,
            Err(e) => {
                self.errors.spanned(at, e.message);
                return None;
            }
        };
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

/// Statements that can end a block without being its value.
fn is_statement(e: &Expr) -> bool {
    matches!(e, Expr::ForLoop(_) | Expr::Assign(_))
}

fn strip_parens(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(p) => strip_parens(&p.expr),
        Expr::Group(g) => strip_parens(&g.expr),
        e => e,
    }
}

/// An expression as one line of text, for provenance.
fn expr_text(e: &Expr) -> String {
    let stmt = Stmt::Expr(e.clone(), None);
    source_text(&stmt)
}

/// `e` without parentheses, invisible groups and at most one leading `-`:
/// whether it was negated, and what is left (a literal, if `e` is a signed one).
fn signed_literal(e: &Expr) -> (bool, &Expr) {
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
            _ => return (neg, cur),
        }
    }
}
