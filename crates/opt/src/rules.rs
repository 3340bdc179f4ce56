//! The rewrite rules, as data: one table grouped by theme (algebra, tensor
//! identities, derivative identities and op recognition, numerical stability,
//! specialisation, fast math), each rule with a stable kebab-case name, a
//! [`Tier`], a [`Phase`] and a one-line statement of its identity.
//!
//! Every rule is shape-guarded: it only fires when the rewritten term has the
//! matched e-class's shape (`x*1 → x` must not fire when the scalar `1`
//! broadcasts `x` to a larger shape).
//!
//! There is no blanket commutativity or associativity in the default tiers:
//! a rule whose left-hand side has an operand order that autodiff or a user may
//! write either way lists each order as a variant (see [`RuleKind`]), which
//! keeps the e-graph small and the extracted operand order the one written.

use crate::analysis::{ShapeAnalysis, EG};
use crate::lang::ENode;
use egg::{
    Applier, ENodeOrVar, Id, Pattern, PatternAst, Rewrite, SearchMatches, Searcher, Subst, Symbol,
    Var,
};
use gradc_ir::{BinaryOp, Const, DType, Op, Shape, UnaryOp};

/// How much a rule may change results. See the crate documentation for the policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tier {
    /// Bit-exact under IEEE 754 for every input, signed zeros included (NaN
    /// payloads and the sign of a NaN aside). Always applied.
    Exact,
    /// Replaces a form by one that is never further from the real result: an
    /// overflow- or cancellation-prone form by a stable primitive, or two
    /// roundings by one. Always applied.
    Stabilizing,
    /// Real-number identities that IEEE arithmetic breaks (signed zero, NaN,
    /// infinity, rounding order). Applied only with `OptConfig::fast_math`.
    FastMath,
}

/// When a rule runs. Saturation runs one phase after the other on the same
/// e-graph, each with its own rules plus those of the earlier phases, so a
/// later phase sees every form the earlier ones found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Identities, signs, transposes, shape ops: a canonical, smaller graph.
    Canonicalise,
    /// Derivative identities and op recognition.
    Derive,
    /// Stable forms of unstable expressions.
    Stabilise,
    /// Cheaper forms for the real shapes and constants; fast-math rules.
    Specialise,
}

impl Phase {
    /// Every phase, in the order they run.
    pub const ALL: [Phase; 4] = [
        Phase::Canonicalise,
        Phase::Derive,
        Phase::Stabilise,
        Phase::Specialise,
    ];

    /// Lower-case name, for reports.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Canonicalise => "canonicalise",
            Phase::Derive => "derive",
            Phase::Stabilise => "stabilise",
            Phase::Specialise => "specialise",
        }
    }
}

/// A side condition on a pattern match, over the e-class facts.
pub type Guard = fn(&EG, &Subst) -> bool;

/// A right-hand side computed from the match (constants, shapes); `None` when
/// it does not apply after all.
pub type Compute = fn(&mut EG, Id, &Subst) -> Option<Id>;

/// What a rule matches and builds.
#[derive(Clone, Copy, Debug)]
pub enum RuleKind {
    /// Left-hand side variants (operand orders) → right-hand side, as
    /// s-expression patterns in the syntax of [`crate::lang`].
    Pattern(&'static [&'static str], &'static str),
    /// The same, applied only where the guard holds.
    Guarded(&'static [&'static str], &'static str, Guard),
    /// Left-hand side variants → a computed right-hand side.
    Computed(&'static [&'static str], Compute),
    /// A rule on data-carrying shape ops that a pattern cannot express.
    Shape(ShapeRule),
}

/// Rules over `reshape`, `broadcast_to` and `sum_to`, whose target shape is data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShapeRule {
    /// `reshape`/`broadcast_to`/`sum_to` to the operand's own shape → the operand.
    Noop,
    /// `reshape s (reshape t x)` → `reshape s x`.
    ReshapeChain,
    /// `broadcast_to s (broadcast_to t x)` → `broadcast_to s x`.
    BroadcastChain,
    /// `op (broadcast_to s x) y` → `op x y` for an elementwise binary `op`, when
    /// the result keeps its shape (the op broadcasts anyway).
    BroadcastOperand,
    /// `sum_to [m n] (mul (reshape [B m 1] a) (reshape [B 1 n] b))` →
    /// `matmul.tn a b`: a batch sum of per-row outer products is one product.
    OuterProductSum,
    /// `sum (broadcast_to s x)` → `x · numel(s)` for a scalar `x`, and
    /// `sum_to s (broadcast_to t x)` with `x` of shape `s` → `x · (numel t / numel s)`.
    SumBroadcast,
}

/// One entry of the rule table.
#[derive(Clone, Copy, Debug)]
pub struct RuleSpec {
    /// The stable kebab-case name reports use.
    pub name: &'static str,
    /// Exact, stabilising, or fast-math only.
    pub tier: Tier,
    /// The phase the rule runs in.
    pub phase: Phase,
    /// What the rule does.
    pub kind: RuleKind,
}

const fn p(
    name: &'static str,
    tier: Tier,
    phase: Phase,
    lhs: &'static [&'static str],
    rhs: &'static str,
) -> RuleSpec {
    RuleSpec {
        name,
        tier,
        phase,
        kind: RuleKind::Pattern(lhs, rhs),
    }
}

const fn g(
    name: &'static str,
    tier: Tier,
    phase: Phase,
    lhs: &'static [&'static str],
    rhs: &'static str,
    guard: Guard,
) -> RuleSpec {
    RuleSpec {
        name,
        tier,
        phase,
        kind: RuleKind::Guarded(lhs, rhs, guard),
    }
}

const fn c(
    name: &'static str,
    tier: Tier,
    phase: Phase,
    lhs: &'static [&'static str],
    compute: Compute,
) -> RuleSpec {
    RuleSpec {
        name,
        tier,
        phase,
        kind: RuleKind::Computed(lhs, compute),
    }
}

const fn s(name: &'static str, tier: Tier, phase: Phase, rule: ShapeRule) -> RuleSpec {
    RuleSpec {
        name,
        tier,
        phase,
        kind: RuleKind::Shape(rule),
    }
}

use Phase::{Canonicalise as Canon, Derive, Specialise as Spec, Stabilise as Stab};
use Tier::{Exact, FastMath, Stabilizing as Stable};

/// The rule table. Order matters only for determinism (egg runs rules in order).
#[rustfmt::skip]
pub const RULES: &[RuleSpec] = &[
    // ===== algebra: identities of 1, −1 and +0 (exact) =====
    p("mul-one", Exact, Canon, &["(mul ?x 1.0)", "(mul 1.0 ?x)"], "?x"),       // x·1 = 1·x = x
    p("div-one", Exact, Canon, &["(div ?x 1.0)"], "?x"),                       // x/1 = x
    p("sub-zero", Exact, Canon, &["(sub ?x 0.0)"], "?x"),                      // x − (+0) = x, also for x = −0
    p("mul-neg-one", Exact, Canon, &["(mul ?x -1.0)", "(mul -1.0 ?x)"], "(neg ?x)"), // x·(−1) = −x
    p("div-neg-one", Exact, Canon, &["(div ?x -1.0)"], "(neg ?x)"),            // x/(−1) = −x
    p("powi-one", Exact, Canon, &["(powi:1 ?x)"], "?x"),                       // x¹ = x
    // x/2ᵏ = x·2⁻ᵏ: both are the one correctly rounded value of the same real.
    c("div-pow2", Exact, Canon, &["(div ?x ?k)"], div_pow2),

    // ===== algebra: signs (exact: IEEE rounding is symmetric, a − b is a + (−b)) =====
    p("neg-neg", Exact, Canon, &["(neg (neg ?x))"], "?x"),                     // −(−x) = x
    p("sub-neg", Exact, Canon, &["(sub ?a (neg ?b))"], "(add ?a ?b)"),         // a − (−b) = a + b
    p("add-neg", Exact, Canon, &["(add ?a (neg ?b))"], "(sub ?a ?b)"),         // a + (−b) = a − b
    p("neg-add", Exact, Canon, &["(add (neg ?a) ?b)"], "(sub ?b ?a)"),         // (−a) + b = b − a
    p("mul-neg-left", Exact, Canon, &["(mul (neg ?a) ?b)"], "(neg (mul ?a ?b))"),  // (−a)·b = −(a·b)
    p("mul-neg-right", Exact, Canon, &["(mul ?a (neg ?b))"], "(neg (mul ?a ?b))"), // a·(−b) = −(a·b)
    p("div-neg-left", Exact, Canon, &["(div (neg ?a) ?b)"], "(neg (div ?a ?b))"),  // (−a)/b = −(a/b)
    p("div-neg-right", Exact, Canon, &["(div ?a (neg ?b))"], "(neg (div ?a ?b))"), // a/(−b) = −(a/b)
    // (−k)·x = −(k·x) with the constant folded: keeps negated scales as one multiply.
    c("neg-scale", Exact, Canon, &["(neg (mul ?k ?x))", "(neg (mul ?x ?k))"], neg_scale),

    // ===== tensor identities (exact: the same products, summed in the same order) =====
    p("transpose-transpose", Exact, Canon, &["(transpose (transpose ?x))"], "?x"),               // (xᵀ)ᵀ = x
    p("matmul-nn-transpose-a", Exact, Canon, &["(matmul (transpose ?a) ?b)"], "(matmul.tn ?a ?b)"),    // (aᵀ)·b
    p("matmul-tn-transpose-a", Exact, Canon, &["(matmul.tn (transpose ?a) ?b)"], "(matmul ?a ?b)"),    // (aᵀ)ᵀ·b = a·b
    p("matmul-nt-transpose-a", Exact, Canon, &["(matmul.nt (transpose ?a) ?b)"], "(matmul.tt ?a ?b)"), // (aᵀ)·bᵀ
    p("matmul-tt-transpose-a", Exact, Canon, &["(matmul.tt (transpose ?a) ?b)"], "(matmul.nt ?a ?b)"), // a·bᵀ
    p("matmul-nn-transpose-b", Exact, Canon, &["(matmul ?a (transpose ?b))"], "(matmul.nt ?a ?b)"),    // a·(bᵀ)
    p("matmul-nt-transpose-b", Exact, Canon, &["(matmul.nt ?a (transpose ?b))"], "(matmul ?a ?b)"),    // a·(bᵀ)ᵀ = a·b
    p("matmul-tn-transpose-b", Exact, Canon, &["(matmul.tn ?a (transpose ?b))"], "(matmul.tt ?a ?b)"), // aᵀ·(bᵀ)
    p("matmul-tt-transpose-b", Exact, Canon, &["(matmul.tt ?a (transpose ?b))"], "(matmul.tn ?a ?b)"), // aᵀ·b
    p("transpose-matmul-nn", Exact, Canon, &["(transpose (matmul ?a ?b))"], "(matmul.tt ?b ?a)"),      // (a·b)ᵀ = bᵀ·aᵀ
    p("transpose-matmul-tn", Exact, Canon, &["(transpose (matmul.tn ?a ?b))"], "(matmul.tn ?b ?a)"),   // (aᵀ·b)ᵀ = bᵀ·a
    p("transpose-matmul-nt", Exact, Canon, &["(transpose (matmul.nt ?a ?b))"], "(matmul.nt ?b ?a)"),   // (a·bᵀ)ᵀ = b·aᵀ
    p("transpose-matmul-tt", Exact, Canon, &["(transpose (matmul.tt ?a ?b))"], "(matmul ?b ?a)"),      // (aᵀ·bᵀ)ᵀ = b·a
    s("shape-op-noop", Exact, Canon, ShapeRule::Noop),                 // reshape/broadcast_to/sum_to to x's shape = x
    s("reshape-reshape", Exact, Canon, ShapeRule::ReshapeChain),       // reshape s (reshape t x) = reshape s x
    s("broadcast-broadcast", Exact, Canon, ShapeRule::BroadcastChain), // broadcast_to s (broadcast_to t x) = broadcast_to s x
    s("broadcast-operand", Exact, Canon, ShapeRule::BroadcastOperand), // (broadcast_to s x) ⊙ y = x ⊙ y, the op broadcasts
    s("outer-product-sum", Exact, Spec, ShapeRule::OuterProductSum),   // Σ_b a_b ⊗ g_b = aᵀ·g

    // ===== derivative identities that reuse forward values =====
    // (relu' is already the mask gt(relu(x), 0) of the forward output, as
    // autodiff emits it; the equivalent gt(x, 0) is deliberately not added,
    // since a per-class cost set would prefer it and keep x alive instead.)
    // x² as x·x, the form tanh' = 1 − tanh² shares with its forward value.
    p("powi-two", Exact, Derive, &["(powi:2 ?x)"], "(mul ?x ?x)"),
    // g·(1/x) = g/x: ln' without the reciprocal, one rounding instead of two.
    p("mul-recip", Stable, Derive, &["(mul ?g (div 1.0 ?x))", "(mul (div 1.0 ?x) ?g)"], "(div ?g ?x)"),
    // 1/(1 + e⁻ˣ) = σ(x): a hand-rolled sigmoid becomes the stable primitive.
    p("sigmoid-recognize", Stable, Derive,
      &["(div 1.0 (add 1.0 (exp (neg ?x))))", "(div 1.0 (add (exp (neg ?x)) 1.0))"], "(sigmoid ?x)"),
    // e⁻ˣ/(1 + e⁻ˣ) = 1 − σ(x).
    p("sigmoid-complement", Stable, Derive,
      &["(div (exp (neg ?x)) (add 1.0 (exp (neg ?x))))", "(div (exp (neg ?x)) (add (exp (neg ?x)) 1.0))"],
      "(sub 1.0 (sigmoid ?x))"),
    // (h/(1 + e⁻ˣ))·e⁻ˣ = h·(1 − σ(x)): the chain rule through a hand-rolled
    // sigmoid is σ' = σ(1 − σ) on the forward value (h is g·σ(x)).
    p("sigmoid-grad", Stable, Derive,
      &["(mul (div ?h (add 1.0 (exp (neg ?x)))) (exp (neg ?x)))",
        "(mul (exp (neg ?x)) (div ?h (add 1.0 (exp (neg ?x)))))",
        "(mul (div ?h (add (exp (neg ?x)) 1.0)) (exp (neg ?x)))",
        "(mul (exp (neg ?x)) (div ?h (add (exp (neg ?x)) 1.0)))"],
      "(mul ?h (sub 1.0 (sigmoid ?x)))"),
    // ln(1 + eˣ) = softplus(x), which never overflows.
    p("softplus-recognize", Stable, Derive,
      &["(ln (add 1.0 (exp ?x)))", "(ln (add (exp ?x) 1.0))"], "(softplus ?x)"),
    // (g/(1 + eˣ))·eˣ = g·σ(x): softplus' = σ.
    p("softplus-grad", Stable, Derive,
      &["(mul (div ?g (add 1.0 (exp ?x))) (exp ?x))", "(mul (exp ?x) (div ?g (add 1.0 (exp ?x))))",
        "(mul (div ?g (add (exp ?x) 1.0)) (exp ?x))", "(mul (exp ?x) (div ?g (add (exp ?x) 1.0)))"],
      "(mul ?g (sigmoid ?x))"),
    // eˣ / Σ_last eˣ = softmax(x), max-shifted.
    p("softmax-recognize", Stable, Derive, &["(div (exp ?x) (sum_last (exp ?x)))"], "(softmax ?x)"),
    // For a vector x: eˣ / Σ eˣ = softmax(x).
    g("softmax-recognize-1d", Stable, Derive, &["(div (exp ?x) (sum (exp ?x)))"], "(softmax ?x)", x_is_vector),
    // ln softmax(x) = log_softmax(x), without ln of an underflowed 0.
    p("log-softmax-recognize", Stable, Derive, &["(ln (softmax ?x))"], "(log_softmax ?x)"),
    // ln Σ_last eˣ = logsumexp(x), max-shifted.
    p("logsumexp-recognize", Stable, Derive, &["(ln (sum_last (exp ?x)))"], "(logsumexp ?x)"),
    // x·σ(x) = silu(x). Exact: silu is computed as x·σ(x) with the same σ
    // (`gradc_ir::silu`), and IEEE multiplication commutes.
    p("silu-recognize", Exact, Derive, &["(mul ?x (sigmoid ?x))", "(mul (sigmoid ?x) ?x)"], "(silu ?x)"),
    // max(x, s·x) = leaky_relu(x, s) for a constant 0 < s < 1. Exact: for
    // x > 0, s·x rounds to at most x; for x ≤ 0 to at least x; a tie means
    // s·x = x; signs of zero agree (s > 0), NaN and ±∞ pass through alike,
    // and leaky_relu computes the same s·x.
    c("leaky-relu-recognize", Exact, Derive,
      &["(max ?x (mul ?s ?x))", "(max ?x (mul ?x ?s))", "(max (mul ?s ?x) ?x)", "(max (mul ?x ?s) ?x)"],
      leaky_relu_recognize),
    // No layer-norm rule: the frontend lowers `layer_norm` to the primitives a
    // hand-written one uses (mean, centred squares, sqrt(v + 1e-5)), so both
    // are the same graph (tests/axis.rs). Rewriting E[x²] − E[x]² into the
    // two-pass form would need the whole pattern across broadcasts; not done.

    // ===== numerical stability =====
    // ln σ(x) = −softplus(−x): no ln of an underflowed 0 for very negative x.
    p("log-sigmoid", Stable, Stab, &["(ln (sigmoid ?x))"], "(neg (softplus (neg ?x)))"),
    // x − logsumexp(x) = log_softmax(x) (broadcast over the last axis).
    p("log-softmax-from-lse", Stable, Stab, &["(sub ?x (logsumexp ?x))"], "(log_softmax ?x)"),

    // ===== specialisation: power-of-two scales =====
    // a·(b·x) = (ab)·x for constants a, b, one a power of two: scaling by 2ᵏ
    // is exact in the normal range, so both sides are round(ab·x); only when
    // b·x over- or underflows does the left side round twice.
    c("scale-fold", Stable, Spec,
      &["(mul ?a (mul ?b ?x))", "(mul ?a (mul ?x ?b))", "(mul (mul ?b ?x) ?a)", "(mul (mul ?x ?b) ?a)"],
      scale_fold),
    // k·a ± k·b = k·(a ± b), (−k)·a + k·b = k·(b − a) for k = 2ᵏ: the products
    // are exact in the normal range and scaling commutes with rounding. The
    // one exception: |a ± b| overflows while k·a ± k·b (k < 1) does not.
    c("factor-scale", Stable, Spec,
      &["(add (mul ?k ?a) (mul ?m ?b))", "(add (mul ?a ?k) (mul ?m ?b))",
        "(add (mul ?k ?a) (mul ?b ?m))", "(add (mul ?a ?k) (mul ?b ?m))"],
      factor_scale_add),
    // The same for a difference: k·a − k·b = k·(a − b), k·a − (−k)·b = k·(a + b).
    c("factor-scale-sub", Stable, Spec,
      &["(sub (mul ?k ?a) (mul ?m ?b))", "(sub (mul ?a ?k) (mul ?m ?b))",
        "(sub (mul ?k ?a) (mul ?b ?m))", "(sub (mul ?a ?k) (mul ?b ?m))"],
      factor_scale_sub),

    // ===== fast math: true for reals, not for IEEE floats =====
    p("add-zero", FastMath, Spec, &["(add ?x 0.0)", "(add 0.0 ?x)"], "?x"),    // x + 0 = x (gives −0 + 0 = −0, IEEE says +0)
    p("zero-sub", FastMath, Spec, &["(sub 0.0 ?x)"], "(neg ?x)"),              // 0 − x = −x (wrong sign for x = +0)
    p("neg-sub", FastMath, Spec, &["(neg (sub ?a ?b))"], "(sub ?b ?a)"),       // −(a − b) = b − a (wrong sign for a = b)
    p("mul-zero", FastMath, Spec, &["(mul ?x 0.0)", "(mul 0.0 ?x)"], "0.0"),   // x·0 = 0 (false for NaN, ±∞, −0)
    p("sub-self", FastMath, Spec, &["(sub ?x ?x)"], "0.0"),                    // x − x = 0 (false for NaN, ±∞)
    p("div-self", FastMath, Spec, &["(div ?x ?x)"], "1.0"),                    // x/x = 1 (false for 0, NaN, ±∞)
    p("add-comm", FastMath, Spec, &["(add ?a ?b)"], "(add ?b ?a)"),            // a + b = b + a (exact, but blanket: e-graph growth)
    p("mul-comm", FastMath, Spec, &["(mul ?a ?b)"], "(mul ?b ?a)"),            // a·b = b·a (exact, but blanket: e-graph growth)
    p("add-assoc", FastMath, Spec, &["(add (add ?a ?b) ?c)"], "(add ?a (add ?b ?c))"), // (a + b) + c = a + (b + c)
    p("mul-assoc", FastMath, Spec, &["(mul (mul ?a ?b) ?c)"], "(mul ?a (mul ?b ?c))"), // (a·b)·c = a·(b·c)
    p("mul-distribute", FastMath, Spec,
      &["(add (mul ?a ?b) (mul ?a ?c))", "(add (mul ?b ?a) (mul ?c ?a))"], "(mul ?a (add ?b ?c))"), // ab + ac = a(b + c)
    p("ln-exp", FastMath, Spec, &["(ln (exp ?x))"], "?x"),                     // ln eˣ = x (false when eˣ overflows)
    p("exp-ln", FastMath, Spec, &["(exp (ln ?x))"], "?x"),                     // e^(ln x) = x (false for x < 0)
    s("sum-broadcast", FastMath, Spec, ShapeRule::SumBroadcast),       // Σ of n copies of x = n·x (rounding differs)
];

/// The egg rewrites of one phase for a configuration: the rules of that phase
/// and every earlier one; Exact and Stabilizing always, FastMath only when
/// asked for. A rule with several left-hand sides becomes one rewrite per
/// variant, named `name#i` after the first; [`base_name`] undoes that.
pub fn rewrites_for(phase: Phase, fast_math: bool) -> Vec<Rewrite<ENode, ShapeAnalysis>> {
    RULES
        .iter()
        .filter(|r| r.phase <= phase && (fast_math || r.tier != Tier::FastMath))
        .flat_map(build)
        .collect()
}

/// The table name of an egg rewrite name (`factor-scale#3` → `factor-scale`).
pub fn base_name(rewrite_name: &str) -> &str {
    rewrite_name.split('#').next().unwrap_or(rewrite_name)
}

fn variant_name(name: &str, i: usize) -> String {
    if i == 0 {
        name.to_string()
    } else {
        format!("{name}#{i}")
    }
}

fn pattern(text: &str) -> Pattern<ENode> {
    // The table is a compile-time constant checked by the tests, so a failure
    // here is a bug in the table, not bad input.
    text.parse().expect("rule table: bad pattern")
}

/// The rewrites of one table entry, one per left-hand side variant.
fn build(spec: &RuleSpec) -> Vec<Rewrite<ENode, ShapeAnalysis>> {
    let made: Vec<Result<Rewrite<ENode, ShapeAnalysis>, String>> = match spec.kind {
        RuleKind::Pattern(lhs, rhs) => lhs
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let applier = ShapeGuarded {
                    rhs: pattern(rhs),
                    guard: None,
                };
                Rewrite::new(variant_name(spec.name, i), pattern(l), applier)
            })
            .collect(),
        RuleKind::Guarded(lhs, rhs, guard) => lhs
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let applier = ShapeGuarded {
                    rhs: pattern(rhs),
                    guard: Some(guard),
                };
                Rewrite::new(variant_name(spec.name, i), pattern(l), applier)
            })
            .collect(),
        RuleKind::Computed(lhs, compute) => lhs
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let lhs = pattern(l);
                let vars = <Pattern<ENode> as Searcher<ENode, ShapeAnalysis>>::vars(&lhs);
                Rewrite::new(variant_name(spec.name, i), lhs, Computed { compute, vars })
            })
            .collect(),
        RuleKind::Shape(rule) => vec![Rewrite::new(spec.name, ShapeSearch(rule), ShapeApply(rule))],
    };
    made.into_iter()
        .map(|r| r.expect("rule table: bad rule"))
        .collect()
}

// ---------- facts about constants ----------

fn var(name: &str) -> Var {
    name.parse().expect("rule table: bad variable")
}

fn dtype(eg: &EG) -> DType {
    eg.analysis.dtype.unwrap_or(DType::F64)
}

/// The scalar constant of a matched variable, if its class is one.
fn constant(eg: &EG, subst: &Subst, v: &str) -> Option<f64> {
    let id = *subst.get(var(v))?;
    eg[id].data.constant.map(Const::value)
}

/// `v` rounded to the element type.
fn in_dtype(dt: DType, v: f64) -> f64 {
    match dt {
        DType::F32 => v as f32 as f64,
        DType::F64 => v,
    }
}

/// Whether `v` is ±2ᵏ and a normal number of the element type, so that
/// multiplying by it is exact in the normal range.
fn is_pow2(dt: DType, v: f64) -> bool {
    if !v.is_normal() || in_dtype(dt, v) != v {
        return false;
    }
    let mantissa = v.to_bits() & ((1u64 << 52) - 1);
    mantissa == 0
        && match dt {
            DType::F32 => (v as f32).is_normal(),
            DType::F64 => true,
        }
}

/// The product `a·b` in the element type if it is finite, normal and exact.
fn exact_product(dt: DType, a: f64, b: f64) -> Option<f64> {
    let r = match dt {
        DType::F32 => ((a as f32) * (b as f32)) as f64,
        DType::F64 => a * b,
    };
    let normal = match dt {
        DType::F32 => (r as f32).is_normal(),
        DType::F64 => r.is_normal(),
    };
    (normal && (is_pow2(dt, a) || is_pow2(dt, b))).then_some(r)
}

/// Adds `op(children)` if it is well shaped; the analysis would otherwise
/// record a fault.
fn add_checked(eg: &mut EG, op: Op, children: Vec<Id>) -> Option<Id> {
    let shapes: Vec<&Shape> = children.iter().map(|c| &eg[*c].data.shape).collect();
    op.infer_shape(&shapes).ok()?;
    Some(eg.add(ENode::new(op, children)))
}

fn add_const(eg: &mut EG, v: f64) -> Id {
    eg.add(ENode::leaf(Op::Const(Const::new(v))))
}

// ---------- guards and computed right-hand sides ----------

fn x_is_vector(eg: &EG, subst: &Subst) -> bool {
    subst
        .get(var("?x"))
        .is_some_and(|x| eg[*x].data.shape.rank() == 1)
}

fn leaky_relu_recognize(eg: &mut EG, _: Id, subst: &Subst) -> Option<Id> {
    let s = constant(eg, subst, "?s")?;
    let r = in_dtype(dtype(eg), s);
    if !(r > 0.0 && r < 1.0) {
        return None;
    }
    let op = Op::Unary(UnaryOp::LeakyRelu(Const::new(s)));
    add_checked(eg, op, vec![subst[var("?x")]])
}

fn div_pow2(eg: &mut EG, _: Id, subst: &Subst) -> Option<Id> {
    let dt = dtype(eg);
    let k = constant(eg, subst, "?k")?;
    let inv = 1.0 / k;
    if !is_pow2(dt, k) || !is_pow2(dt, inv) {
        return None;
    }
    let c = add_const(eg, inv);
    add_checked(eg, Op::Binary(BinaryOp::Mul), vec![subst[var("?x")], c])
}

fn neg_scale(eg: &mut EG, _: Id, subst: &Subst) -> Option<Id> {
    let k = constant(eg, subst, "?k")?;
    let c = add_const(eg, -k);
    add_checked(eg, Op::Binary(BinaryOp::Mul), vec![c, subst[var("?x")]])
}

fn scale_fold(eg: &mut EG, _: Id, subst: &Subst) -> Option<Id> {
    let (a, b) = (constant(eg, subst, "?a")?, constant(eg, subst, "?b")?);
    let ab = exact_product(dtype(eg), a, b)?;
    let c = add_const(eg, ab);
    add_checked(eg, Op::Binary(BinaryOp::Mul), vec![c, subst[var("?x")]])
}

fn factor_scale_add(eg: &mut EG, _: Id, subst: &Subst) -> Option<Id> {
    factor_scale(eg, subst, true)
}

fn factor_scale_sub(eg: &mut EG, _: Id, subst: &Subst) -> Option<Id> {
    factor_scale(eg, subst, false)
}

/// `k·a + m·b` (or `−` when not `is_add`) with `m = ±k`, `k` a power of two.
fn factor_scale(eg: &mut EG, subst: &Subst, is_add: bool) -> Option<Id> {
    let (k, m) = (constant(eg, subst, "?k")?, constant(eg, subst, "?m")?);
    if !is_pow2(dtype(eg), k) {
        return None;
    }
    let (a, b) = (subst[var("?a")], subst[var("?b")]);
    // k·a ± m·b with m = ±k.
    let (scale, op, x, y) = if m == k {
        (
            k,
            if is_add {
                Op::Binary(BinaryOp::Add)
            } else {
                Op::Binary(BinaryOp::Sub)
            },
            a,
            b,
        )
    } else if m == -k && !is_add {
        (k, Op::Binary(BinaryOp::Add), a, b)
    } else if m == -k && k > 0.0 {
        (k, Op::Binary(BinaryOp::Sub), a, b)
    } else if m == -k {
        (m, Op::Binary(BinaryOp::Sub), b, a)
    } else {
        return None;
    };
    let inner = add_checked(eg, op, vec![x, y])?;
    let c = add_const(eg, scale);
    add_checked(eg, Op::Binary(BinaryOp::Mul), vec![c, inner])
}

// ---------- appliers ----------

/// Applies a right-hand side only if the term it builds has the e-class's
/// shape and the guard, if any, holds.
struct ShapeGuarded {
    rhs: Pattern<ENode>,
    guard: Option<Guard>,
}

/// The shape of a pattern instantiated with `subst`, or `None` if it is ill-shaped.
fn pattern_shape(egraph: &EG, ast: &PatternAst<ENode>, subst: &Subst) -> Option<Shape> {
    let mut shapes: Vec<Shape> = Vec::with_capacity(ast.len());
    for node in ast.as_ref() {
        let shape = match node {
            ENodeOrVar::Var(v) => egraph[subst[*v]].data.shape.clone(),
            ENodeOrVar::ENode(n) => match n.op {
                Op::Input(i) => egraph.analysis.inputs.get(i)?.clone(),
                Op::Param(i) => egraph.analysis.params.get(i)?.clone(),
                ref op => {
                    let args: Vec<&Shape> = n
                        .children
                        .iter()
                        .map(|c| &shapes[usize::from(*c)])
                        .collect();
                    op.infer_shape(&args).ok()?
                }
            },
        };
        shapes.push(shape);
    }
    shapes.pop()
}

impl Applier<ENode, ShapeAnalysis> for ShapeGuarded {
    fn apply_one(
        &self,
        egraph: &mut EG,
        eclass: Id,
        subst: &Subst,
        searcher_ast: Option<&PatternAst<ENode>>,
        rule_name: Symbol,
    ) -> Vec<Id> {
        if self.guard.is_some_and(|g| !g(egraph, subst)) {
            return Vec::new();
        }
        match pattern_shape(egraph, &self.rhs.ast, subst) {
            Some(s) if s == egraph[eclass].data.shape => {
                self.rhs
                    .apply_one(egraph, eclass, subst, searcher_ast, rule_name)
            }
            _ => Vec::new(),
        }
    }

    fn vars(&self) -> Vec<Var> {
        <Pattern<ENode> as Applier<ENode, ShapeAnalysis>>::vars(&self.rhs)
    }
}

/// Applies a computed right-hand side if it has the e-class's shape.
struct Computed {
    compute: Compute,
    vars: Vec<Var>,
}

impl Applier<ENode, ShapeAnalysis> for Computed {
    fn apply_one(
        &self,
        egraph: &mut EG,
        eclass: Id,
        subst: &Subst,
        _: Option<&PatternAst<ENode>>,
        rule_name: Symbol,
    ) -> Vec<Id> {
        match (self.compute)(egraph, eclass, subst) {
            // `union_trusted` names the rule in egg's explanations (`union`
            // would name this source line); without explanations it is `union`.
            Some(new)
                if egraph[new].data.shape == egraph[eclass].data.shape
                    && egraph.union_trusted(eclass, new, rule_name) =>
            {
                vec![eclass]
            }
            _ => Vec::new(),
        }
    }

    fn vars(&self) -> Vec<Var> {
        self.vars.clone()
    }
}

/// What a shape rule adds to a class.
enum New {
    /// An existing class equal to it.
    Class(Id),
    /// A new e-node.
    Node(Op, Vec<Id>),
    /// `x · n` for a class `x` and a count `n` (a constant, or a `count` leaf
    /// when `n` involves the symbolic batch size).
    Scaled(Id, usize),
}

/// Everything `rule` finds equal to `class`, in a deterministic order.
fn shape_candidates(rule: ShapeRule, egraph: &EG, class: Id) -> Vec<New> {
    let class_shape = &egraph[class].data.shape;
    let shape_of = |id: Id| &egraph[id].data.shape;
    let mut out = Vec::new();
    for n in &egraph[class].nodes {
        match (rule, &n.op) {
            (ShapeRule::Noop, Op::Reshape(_) | Op::BroadcastTo(_) | Op::SumTo(_))
                if shape_of(n.children[0]) == class_shape =>
            {
                out.push(New::Class(n.children[0]));
            }
            (ShapeRule::ReshapeChain, Op::Reshape(_))
            | (ShapeRule::BroadcastChain, Op::BroadcastTo(_)) => {
                for inner in &egraph[n.children[0]].nodes {
                    if std::mem::discriminant(&inner.op) == std::mem::discriminant(&n.op) {
                        out.push(New::Node(n.op.clone(), vec![inner.children[0]]));
                    }
                }
            }
            (ShapeRule::BroadcastOperand, op) if matches!(op, Op::Binary(_)) => {
                for side in 0..2 {
                    for inner in &egraph[n.children[side]].nodes {
                        if let Op::BroadcastTo(_) = inner.op {
                            let mut ch = n.children.clone();
                            ch[side] = inner.children[0];
                            let shapes: Vec<&Shape> = ch.iter().map(|c| shape_of(*c)).collect();
                            if op.infer_shape(&shapes).ok().as_ref() == Some(class_shape) {
                                out.push(New::Node(op.clone(), ch));
                            }
                        }
                    }
                }
            }
            (ShapeRule::OuterProductSum, Op::SumTo(s)) if s.rank() == 2 => {
                for prod in &egraph[n.children[0]].nodes {
                    if prod.op != Op::Binary(BinaryOp::Mul) {
                        continue;
                    }
                    let column = |id: Id| -> Vec<Id> {
                        egraph[id]
                            .nodes
                            .iter()
                            .filter(|r| {
                                let src = shape_of(r.children.first().copied().unwrap_or(id));
                                matches!(&r.op, Op::Reshape(t)
                                    if t.rank() == 3 && t.dims()[2] == 1 && src.rank() == 2
                                        && src.dims() == &t.dims()[..2] && t.dims()[1] == s.dims()[0])
                            })
                            .map(|r| r.children[0])
                            .collect()
                    };
                    let row = |id: Id| -> Vec<Id> {
                        egraph[id]
                            .nodes
                            .iter()
                            .filter(|r| {
                                let src = shape_of(r.children.first().copied().unwrap_or(id));
                                matches!(&r.op, Op::Reshape(t)
                                    if t.rank() == 3 && t.dims()[1] == 1 && src.rank() == 2
                                        && src.dims() == [t.dims()[0], t.dims()[2]] && t.dims()[2] == s.dims()[1])
                            })
                            .map(|r| r.children[0])
                            .collect()
                    };
                    let (p, q) = (prod.children[0], prod.children[1]);
                    for (a, b) in [(p, q), (q, p)] {
                        for x in column(a) {
                            for y in row(b) {
                                if shape_of(x).dims()[0] == shape_of(y).dims()[0] {
                                    let mm = Op::MatMul {
                                        ta: true,
                                        tb: false,
                                    };
                                    out.push(New::Node(mm, vec![x, y]));
                                }
                            }
                        }
                    }
                }
            }
            (ShapeRule::SumBroadcast, Op::Sum | Op::SumTo(_)) => {
                for inner in &egraph[n.children[0]].nodes {
                    if let Op::BroadcastTo(t) = &inner.op {
                        let x = inner.children[0];
                        if shape_of(x) == class_shape && class_shape.numel() > 0 {
                            let copies = t.numel() / class_shape.numel();
                            out.push(New::Scaled(x, copies));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    out
}

struct ShapeSearch(ShapeRule);

impl Searcher<ENode, ShapeAnalysis> for ShapeSearch {
    fn search_eclass_with_limit(
        &self,
        egraph: &EG,
        eclass: Id,
        limit: usize,
    ) -> Option<SearchMatches<'_, ENode>> {
        if limit == 0 || shape_candidates(self.0, egraph, eclass).is_empty() {
            return None;
        }
        // The applier recomputes the candidates: one match per class.
        Some(SearchMatches {
            eclass,
            substs: vec![Subst::with_capacity(0)],
            ast: None,
        })
    }

    fn vars(&self) -> Vec<Var> {
        Vec::new()
    }
}

struct ShapeApply(ShapeRule);

impl Applier<ENode, ShapeAnalysis> for ShapeApply {
    fn apply_one(
        &self,
        egraph: &mut EG,
        eclass: Id,
        _: &Subst,
        _: Option<&PatternAst<ENode>>,
        rule_name: Symbol,
    ) -> Vec<Id> {
        let mut changed = false;
        for new in shape_candidates(self.0, egraph, eclass) {
            let id = match new {
                New::Class(id) => Some(id),
                New::Node(op, ch) => add_checked(egraph, op, ch),
                New::Scaled(x, n) => {
                    let k = match gradc_ir::Extent::of(n) {
                        gradc_ir::Extent::Fixed(n) => {
                            add_const(egraph, in_dtype(dtype(egraph), n as f64))
                        }
                        gradc_ir::Extent::Batch(_) => egraph.add(ENode::leaf(Op::Count(n))),
                    };
                    add_checked(egraph, Op::Binary(BinaryOp::Mul), vec![x, k])
                }
            };
            if let Some(id) = id {
                if egraph[id].data.shape == egraph[eclass].data.shape {
                    changed |= egraph.union_trusted(eclass, id, rule_name);
                }
            }
        }
        if changed {
            vec![eclass]
        } else {
            Vec::new()
        }
    }

    fn vars(&self) -> Vec<Var> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use egg::{RecExpr, Runner};

    /// Every rewrite of a configuration, all phases at once.
    fn rewrites(fast_math: bool) -> Vec<Rewrite<ENode, ShapeAnalysis>> {
        rewrites_for(Phase::Specialise, fast_math)
    }

    /// (rule, before, after): with only that rule, `before` must end up equal to
    /// `after`. Leaves: `input:0` is [2 3], `input:1` is [3 2], `input:2` is [3],
    /// `input:3` is [3 4], `input:4` is [4 3], `input:5` is [2 3 1],
    /// `input:6` is [2 1 4], `input:7` is [2 4], `param:0` is a scalar.
    #[rustfmt::skip]
    const CASES: &[(&str, &str, &str)] = &[
        ("mul-one", "(mul input:0 1.0)", "input:0"),
        ("mul-one", "(mul 1.0 input:0)", "input:0"),
        ("div-one", "(div input:0 1.0)", "input:0"),
        ("sub-zero", "(sub input:0 0.0)", "input:0"),
        ("mul-neg-one", "(mul input:0 -1.0)", "(neg input:0)"),
        ("div-neg-one", "(div input:0 -1.0)", "(neg input:0)"),
        ("powi-one", "(powi:1 input:0)", "input:0"),
        ("div-pow2", "(div input:0 4.0)", "(mul input:0 0.25)"),
        ("neg-neg", "(neg (neg input:0))", "input:0"),
        ("sub-neg", "(sub input:0 (neg input:2))", "(add input:0 input:2)"),
        ("add-neg", "(add input:0 (neg input:2))", "(sub input:0 input:2)"),
        ("neg-add", "(add (neg input:0) input:2)", "(sub input:2 input:0)"),
        ("mul-neg-left", "(mul (neg input:0) input:2)", "(neg (mul input:0 input:2))"),
        ("mul-neg-right", "(mul input:0 (neg input:2))", "(neg (mul input:0 input:2))"),
        ("div-neg-left", "(div (neg input:0) input:2)", "(neg (div input:0 input:2))"),
        ("div-neg-right", "(div input:0 (neg input:2))", "(neg (div input:0 input:2))"),
        ("neg-scale", "(neg (mul 0.3 input:0))", "(mul -0.3 input:0)"),
        ("transpose-transpose", "(transpose (transpose input:0))", "input:0"),
        ("matmul-nn-transpose-a", "(matmul (transpose input:1) input:1)", "(matmul.tn input:1 input:1)"),
        ("matmul-tn-transpose-a", "(matmul.tn (transpose input:0) input:1)", "(matmul input:0 input:1)"),
        ("matmul-nt-transpose-a", "(matmul.nt (transpose input:1) input:0)", "(matmul.tt input:1 input:0)"),
        ("matmul-tt-transpose-a", "(matmul.tt (transpose input:0) input:0)", "(matmul.nt input:0 input:0)"),
        ("matmul-nn-transpose-b", "(matmul input:0 (transpose input:0))", "(matmul.nt input:0 input:0)"),
        ("matmul-nt-transpose-b", "(matmul.nt input:0 (transpose input:1))", "(matmul input:0 input:1)"),
        ("matmul-tn-transpose-b", "(matmul.tn input:1 (transpose input:0))", "(matmul.tt input:1 input:0)"),
        ("matmul-tt-transpose-b", "(matmul.tt input:1 (transpose input:1))", "(matmul.tn input:1 input:1)"),
        ("transpose-matmul-nn", "(transpose (matmul input:0 input:1))", "(matmul.tt input:1 input:0)"),
        ("transpose-matmul-tn", "(transpose (matmul.tn input:1 input:3))", "(matmul.tn input:3 input:1)"),
        ("transpose-matmul-nt", "(transpose (matmul.nt input:0 input:4))", "(matmul.nt input:4 input:0)"),
        ("transpose-matmul-tt", "(transpose (matmul.tt input:1 input:0))", "(matmul input:0 input:1)"),
        ("shape-op-noop", "(reshape:[2x3] input:0)", "input:0"),
        ("reshape-reshape", "(reshape:[3x2] (reshape:[6] input:0))", "(reshape:[3x2] input:0)"),
        ("broadcast-broadcast", "(broadcast_to:[4x2x3] (broadcast_to:[2x3] input:2))", "(broadcast_to:[4x2x3] input:2)"),
        ("broadcast-operand", "(mul (broadcast_to:[2x3] 0.5) input:0)", "(mul 0.5 input:0)"),
        ("broadcast-operand", "(add input:0 (broadcast_to:[2x3] input:2))", "(add input:0 input:2)"),
        ("outer-product-sum", "(sum_to:[3x4] (mul (reshape:[2x3x1] input:0) (reshape:[2x1x4] input:7)))",
            "(matmul.tn input:0 input:7)"),
        ("powi-two", "(powi:2 input:0)", "(mul input:0 input:0)"),
        ("mul-recip", "(mul input:0 (div 1.0 input:2))", "(div input:0 input:2)"),
        ("sigmoid-recognize", "(div 1.0 (add 1.0 (exp (neg input:0))))", "(sigmoid input:0)"),
        ("sigmoid-recognize", "(div 1.0 (add (exp (neg input:0)) 1.0))", "(sigmoid input:0)"),
        ("sigmoid-complement", "(div (exp (neg input:0)) (add 1.0 (exp (neg input:0))))", "(sub 1.0 (sigmoid input:0))"),
        ("sigmoid-grad", "(mul (div input:2 (add 1.0 (exp (neg input:0)))) (exp (neg input:0)))",
            "(mul input:2 (sub 1.0 (sigmoid input:0)))"),
        ("sigmoid-grad", "(mul (exp (neg input:0)) (div input:2 (add (exp (neg input:0)) 1.0)))",
            "(mul input:2 (sub 1.0 (sigmoid input:0)))"),
        ("softplus-recognize", "(ln (add 1.0 (exp input:0)))", "(softplus input:0)"),
        ("softplus-grad", "(mul (div param:0 (add 1.0 (exp input:0))) (exp input:0))", "(mul param:0 (sigmoid input:0))"),
        ("softmax-recognize", "(div (exp input:0) (sum_last (exp input:0)))", "(softmax input:0)"),
        ("softmax-recognize-1d", "(div (exp input:2) (sum (exp input:2)))", "(softmax input:2)"),
        ("log-softmax-recognize", "(ln (softmax input:0))", "(log_softmax input:0)"),
        ("logsumexp-recognize", "(ln (sum_last (exp input:0)))", "(logsumexp input:0)"),
        ("silu-recognize", "(mul input:0 (sigmoid input:0))", "(silu input:0)"),
        ("silu-recognize", "(mul (sigmoid input:0) input:0)", "(silu input:0)"),
        ("leaky-relu-recognize", "(max input:0 (mul 0.01 input:0))", "(leaky_relu:0.01 input:0)"),
        ("leaky-relu-recognize", "(max (mul input:0 0.2) input:0)", "(leaky_relu:0.2 input:0)"),
        ("log-sigmoid", "(ln (sigmoid input:0))", "(neg (softplus (neg input:0)))"),
        ("log-softmax-from-lse", "(sub input:0 (logsumexp input:0))", "(log_softmax input:0)"),
        ("scale-fold", "(mul 0.25 (mul 2.0 input:0))", "(mul 0.5 input:0)"),
        ("scale-fold", "(mul (mul input:0 0.3) 4.0)", "(mul 1.2 input:0)"),
        ("factor-scale", "(add (mul -0.25 input:0) (mul 0.25 input:2))", "(mul 0.25 (sub input:2 input:0))"),
        ("factor-scale", "(add (mul input:0 0.5) (mul input:2 0.5))", "(mul 0.5 (add input:0 input:2))"),
        ("factor-scale-sub", "(sub (mul 2.0 input:0) (mul -2.0 input:2))", "(mul 2.0 (add input:0 input:2))"),
        ("factor-scale-sub", "(sub (mul input:0 0.5) (mul 0.5 input:2))", "(mul 0.5 (sub input:0 input:2))"),
        ("add-zero", "(add input:0 0.0)", "input:0"),
        ("zero-sub", "(sub 0.0 input:0)", "(neg input:0)"),
        ("neg-sub", "(neg (sub input:0 input:2))", "(sub input:2 input:0)"),
        ("mul-zero", "(mul param:0 0.0)", "0.0"),
        ("sub-self", "(sub param:0 param:0)", "0.0"),
        ("div-self", "(div param:0 param:0)", "1.0"),
        ("add-comm", "(add input:0 input:2)", "(add input:2 input:0)"),
        ("mul-comm", "(mul input:0 param:0)", "(mul param:0 input:0)"),
        ("add-assoc", "(add (add input:0 input:2) param:0)", "(add input:0 (add input:2 param:0))"),
        ("mul-assoc", "(mul (mul input:0 input:2) param:0)", "(mul input:0 (mul input:2 param:0))"),
        ("mul-distribute", "(add (mul param:0 input:0) (mul param:0 input:2))", "(mul param:0 (add input:0 input:2))"),
        ("ln-exp", "(ln (exp input:0))", "input:0"),
        ("exp-ln", "(exp (ln input:0))", "input:0"),
        ("sum-broadcast", "(sum (broadcast_to:[2x3] param:0))", "(mul param:0 6.0)"),
        ("sum-broadcast", "(sum_to:[3] (broadcast_to:[2x3] input:2))", "(mul input:2 2.0)"),
    ];

    /// Cases that must *not* rewrite: a guard or a shape check refuses them.
    #[rustfmt::skip]
    const REFUSED: &[(&str, &str, &str)] = &[
        // 3 is not a power of two: x/3 ≠ x·(1/3) in floating point.
        ("div-pow2", "(div input:0 3.0)", "(mul input:0 0.3333333333333333)"),
        // Neither constant a power of two: (0.3·0.7)·x rounds differently.
        ("scale-fold", "(mul 0.3 (mul 0.7 input:0))", "(mul 0.21 input:0)"),
        ("factor-scale", "(add (mul 0.3 input:0) (mul 0.3 input:2))", "(mul 0.3 (add input:0 input:2))"),
        // Only 0 < s < 1 makes max(x, s·x) a leaky ReLU.
        ("leaky-relu-recognize", "(max input:0 (mul 2.0 input:0))", "(leaky_relu:2.0 input:0)"),
        ("leaky-relu-recognize", "(max input:0 (mul -0.1 input:0))", "(leaky_relu:-0.1 input:0)"),
        // σ(y)·x is not silu(x).
        ("silu-recognize", "(mul input:0 (sigmoid param:0))", "(silu input:0)"),
        // A matrix's total sum is not its softmax denominator.
        ("softmax-recognize-1d", "(div (exp input:0) (sum (exp input:0)))", "(softmax input:0)"),
        // x·0 for a [2 3] x is a [2 3] tensor, not the scalar 0.
        ("mul-zero", "(mul input:0 0.0)", "0.0"),
        ("sub-self", "(sub input:2 input:2)", "0.0"),
        // reshape to another shape is not a no-op.
        ("shape-op-noop", "(reshape:[3x2] input:0)", "input:0"),
        // Dropping the broadcast would change the result's shape.
        ("broadcast-operand", "(mul (broadcast_to:[2x3] param:0) param:0)", "(mul param:0 param:0)"),
    ];

    fn analysis(fast_math: bool) -> ShapeAnalysis {
        ShapeAnalysis {
            dtype: Some(DType::F64),
            inputs: vec![
                Shape::new([2, 3]),
                Shape::new([3, 2]),
                Shape::new([3]),
                Shape::new([3, 4]),
                Shape::new([4, 3]),
                Shape::new([2, 3, 1]),
                Shape::new([2, 1, 4]),
                Shape::new([2, 4]),
            ],
            params: vec![Shape::scalar()],
            fault: None,
            fast_math,
            folded: 0,
        }
    }

    /// Runs `rules` on `before` and `after` together; whether they became equal.
    fn equal_after(rules: &[Rewrite<ENode, ShapeAnalysis>], before: &str, after: &str) -> bool {
        let b: RecExpr<ENode> = before.parse().unwrap();
        let a: RecExpr<ENode> = after.parse().unwrap();
        // Constants merged a few ulps apart pass only where a FastMath rule runs.
        let fast_math = rules.iter().any(|r| {
            RULES
                .iter()
                .any(|s| s.tier == Tier::FastMath && r.name.as_str() == s.name)
        });
        let mut eg = EG::new(analysis(fast_math));
        let (bi, ai) = (eg.add_expr(&b), eg.add_expr(&a));
        let runner = Runner::default()
            .with_egraph(eg)
            .with_iter_limit(5)
            .run(rules);
        assert!(runner.egraph.analysis.fault.is_none(), "{before}");
        runner.egraph.find(bi) == runner.egraph.find(ai)
    }

    fn spec(name: &str) -> &'static RuleSpec {
        RULES.iter().find(|r| r.name == name).unwrap()
    }

    #[test]
    fn every_rule_rewrites_its_examples() {
        for spec in RULES {
            assert!(
                CASES.iter().any(|c| c.0 == spec.name),
                "rule {} has no test case",
                spec.name
            );
        }
        for (name, before, after) in CASES {
            assert!(
                !equal_after(&[], before, after),
                "{name}: already equal without the rule"
            );
            assert!(
                equal_after(&build(spec(name)), before, after),
                "{name}: {before} did not become {after}"
            );
        }
    }

    #[test]
    fn guards_refuse_inexact_or_ill_shaped_rewrites() {
        for (name, before, after) in REFUSED {
            assert!(
                !equal_after(&build(spec(name)), before, after),
                "{name}: {before} became {after}"
            );
        }
    }

    #[test]
    fn names_are_unique_kebab_case() {
        let mut names: Vec<&str> = RULES.iter().map(|r| r.name).collect();
        assert!(names.iter().all(|n| n
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')));
        names.sort();
        names.dedup();
        assert_eq!(names.len(), RULES.len());
        assert_eq!(base_name("factor-scale#3"), "factor-scale");
    }

    #[test]
    fn default_rules_are_exact_and_stabilizing_only() {
        let default = rewrites(false);
        assert!(equal_after(&default, "(mul input:0 1.0)", "input:0"));
        // x + 0 → x changes −0 to +0: not applied by default.
        assert!(!equal_after(&default, "(add input:0 0.0)", "input:0"));
        assert!(!equal_after(&default, "(sub param:0 param:0)", "0.0"));
        assert!(!equal_after(
            &default,
            "(add (add input:0 input:2) param:0)",
            "(add input:0 (add input:2 param:0))"
        ));
        // No blanket commutativity by default.
        assert!(!equal_after(
            &default,
            "(add input:0 input:2)",
            "(add input:2 input:0)"
        ));
        assert!(equal_after(&rewrites(true), "(add input:0 0.0)", "input:0"));
        assert!(RULES
            .iter()
            .filter(|r| r.name.ends_with("-comm") || r.name.ends_with("-assoc"))
            .all(|r| r.tier == Tier::FastMath));
    }

    #[test]
    fn phases_accumulate() {
        let canon = rewrites_for(Phase::Canonicalise, false);
        assert!(!equal_after(
            &canon,
            "(ln (softmax input:0))",
            "(log_softmax input:0)"
        ));
        let derive = rewrites_for(Phase::Derive, false);
        assert!(equal_after(
            &derive,
            "(ln (softmax input:0))",
            "(log_softmax input:0)"
        ));
        assert!(equal_after(&derive, "(neg (neg input:0))", "input:0"));
    }

    #[test]
    fn powers_of_two() {
        assert!(is_pow2(DType::F64, 0.25) && is_pow2(DType::F64, -8.0));
        assert!(!is_pow2(DType::F64, 3.0) && !is_pow2(DType::F64, 0.0));
        // 2⁻¹³⁰ is subnormal in f32, normal in f64.
        let tiny = 2f64.powi(-130);
        assert!(is_pow2(DType::F64, tiny) && !is_pow2(DType::F32, tiny));
        // 0.1 is not even representable in f32 as the same value.
        assert!(!is_pow2(DType::F32, 0.1));
        // The algebra behind scale-fold and factor-scale, checked on values.
        for x in [0.1f64, 1e300, -3.7e-300, 12345.678] {
            assert_eq!(0.25 * (2.0 * x), 0.5 * x);
            assert_eq!(x / 4.0, x * 0.25);
        }
    }
}
