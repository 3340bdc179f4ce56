//! The rewrite rules, as data: one table, grouped by theme, each rule with a
//! stable kebab-case name, a tier and a one-line statement of its identity.
//!
//! Every rule is shape-guarded: it only fires when the rewritten term has the
//! matched e-class's shape (`x*1 → x` must not fire when the scalar `1`
//! broadcasts `x` to a larger shape).

use crate::analysis::{ShapeAnalysis, EG};
use crate::lang::ENode;
use egg::{
    Applier, ENodeOrVar, Id, Pattern, PatternAst, Rewrite, SearchMatches, Searcher, Subst, Symbol,
    Var,
};
use gradc_ir::{Op, Shape};

/// How much a rule may change results. See the crate documentation for the policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tier {
    /// Bit-exact under IEEE 754 for every input, signed zeros included (NaN
    /// payloads and the sign of a NaN aside). Always applied.
    Exact,
    /// Replaces a form that loses precision or overflows by a stable one; the
    /// value changes, towards the true result. Always applied.
    Stabilizing,
    /// Real-number identities that IEEE arithmetic breaks (signed zero, NaN,
    /// infinity, rounding order). Applied only with `OptConfig::fast_math`.
    FastMath,
}

/// What a rule matches and builds.
#[derive(Clone, Copy, Debug)]
pub enum RuleKind {
    /// An s-expression pattern pair in the syntax of [`crate::lang`].
    Pattern(&'static str, &'static str),
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
}

/// One entry of the rule table.
#[derive(Clone, Copy, Debug)]
pub struct RuleSpec {
    pub name: &'static str,
    pub tier: Tier,
    pub kind: RuleKind,
}

const fn p(name: &'static str, tier: Tier, lhs: &'static str, rhs: &'static str) -> RuleSpec {
    RuleSpec {
        name,
        tier,
        kind: RuleKind::Pattern(lhs, rhs),
    }
}

const fn s(name: &'static str, tier: Tier, rule: ShapeRule) -> RuleSpec {
    RuleSpec {
        name,
        tier,
        kind: RuleKind::Shape(rule),
    }
}

use Tier::{Exact, FastMath};

/// The rule table. Order matters only for determinism (egg runs rules in order).
#[rustfmt::skip]
pub const RULES: &[RuleSpec] = &[
    // --- identities of 1, −1 and +0 (exact) ---
    p("mul-one-right", Exact, "(mul ?x 1.0)", "?x"),                   // x·1 = x
    p("mul-one-left", Exact, "(mul 1.0 ?x)", "?x"),                    // 1·x = x
    p("div-one", Exact, "(div ?x 1.0)", "?x"),                         // x/1 = x
    p("sub-zero", Exact, "(sub ?x 0.0)", "?x"),                        // x − (+0) = x, also for x = −0
    p("mul-neg-one", Exact, "(mul ?x -1.0)", "(neg ?x)"),              // x·(−1) = −x
    p("div-neg-one", Exact, "(div ?x -1.0)", "(neg ?x)"),              // x/(−1) = −x
    p("powi-one", Exact, "(powi:1 ?x)", "?x"),                         // x¹ = x

    // --- signs (exact: IEEE rounding is symmetric, a − b is defined as a + (−b)) ---
    p("neg-neg", Exact, "(neg (neg ?x))", "?x"),                       // −(−x) = x
    p("sub-neg", Exact, "(sub ?a (neg ?b))", "(add ?a ?b)"),           // a − (−b) = a + b
    p("add-neg", Exact, "(add ?a (neg ?b))", "(sub ?a ?b)"),           // a + (−b) = a − b
    p("neg-add", Exact, "(add (neg ?a) ?b)", "(sub ?b ?a)"),           // (−a) + b = b − a
    p("mul-neg-left", Exact, "(mul (neg ?a) ?b)", "(neg (mul ?a ?b))"),   // (−a)·b = −(a·b)
    p("mul-neg-right", Exact, "(mul ?a (neg ?b))", "(neg (mul ?a ?b))"),  // a·(−b) = −(a·b)
    p("div-neg-left", Exact, "(div (neg ?a) ?b)", "(neg (div ?a ?b))"),   // (−a)/b = −(a/b)
    p("div-neg-right", Exact, "(div ?a (neg ?b))", "(neg (div ?a ?b))"),  // a/(−b) = −(a/b)

    // --- commutativity (exact: IEEE + and · are commutative) ---
    p("add-comm", Exact, "(add ?a ?b)", "(add ?b ?a)"),                // a + b = b + a
    p("mul-comm", Exact, "(mul ?a ?b)", "(mul ?b ?a)"),                // a·b = b·a

    // --- transposes and matrix products (exact: same products, same k order) ---
    p("transpose-transpose", Exact, "(transpose (transpose ?x))", "?x"),      // (xᵀ)ᵀ = x
    p("matmul-nn-transpose-a", Exact, "(matmul (transpose ?a) ?b)", "(matmul.tn ?a ?b)"),    // (aᵀ)·b
    p("matmul-tn-transpose-a", Exact, "(matmul.tn (transpose ?a) ?b)", "(matmul ?a ?b)"),    // (aᵀ)ᵀ·b = a·b
    p("matmul-nt-transpose-a", Exact, "(matmul.nt (transpose ?a) ?b)", "(matmul.tt ?a ?b)"), // (aᵀ)·bᵀ
    p("matmul-tt-transpose-a", Exact, "(matmul.tt (transpose ?a) ?b)", "(matmul.nt ?a ?b)"), // a·bᵀ
    p("matmul-nn-transpose-b", Exact, "(matmul ?a (transpose ?b))", "(matmul.nt ?a ?b)"),    // a·(bᵀ)
    p("matmul-nt-transpose-b", Exact, "(matmul.nt ?a (transpose ?b))", "(matmul ?a ?b)"),    // a·(bᵀ)ᵀ = a·b
    p("matmul-tn-transpose-b", Exact, "(matmul.tn ?a (transpose ?b))", "(matmul.tt ?a ?b)"), // aᵀ·(bᵀ)
    p("matmul-tt-transpose-b", Exact, "(matmul.tt ?a (transpose ?b))", "(matmul.tn ?a ?b)"), // aᵀ·b
    p("transpose-matmul-nn", Exact, "(transpose (matmul ?a ?b))", "(matmul.tt ?b ?a)"),      // (a·b)ᵀ = bᵀ·aᵀ
    p("transpose-matmul-tn", Exact, "(transpose (matmul.tn ?a ?b))", "(matmul.tn ?b ?a)"),   // (aᵀ·b)ᵀ = bᵀ·a
    p("transpose-matmul-nt", Exact, "(transpose (matmul.nt ?a ?b))", "(matmul.nt ?b ?a)"),   // (a·bᵀ)ᵀ = b·aᵀ
    p("transpose-matmul-tt", Exact, "(transpose (matmul.tt ?a ?b))", "(matmul ?b ?a)"),      // (aᵀ·bᵀ)ᵀ = b·a

    // --- shape ops (exact: they only move elements) ---
    s("shape-op-noop", Exact, ShapeRule::Noop),                        // reshape/broadcast_to/sum_to to x's shape = x
    s("reshape-reshape", Exact, ShapeRule::ReshapeChain),              // reshape s (reshape t x) = reshape s x
    s("broadcast-broadcast", Exact, ShapeRule::BroadcastChain),        // broadcast_to s (broadcast_to t x) = broadcast_to s x

    // --- fast math: true for reals, not for IEEE floats ---
    p("add-zero", FastMath, "(add ?x 0.0)", "?x"),                     // x + 0 = x (gives −0 + 0 = −0, IEEE says +0)
    p("zero-sub", FastMath, "(sub 0.0 ?x)", "(neg ?x)"),               // 0 − x = −x (wrong sign for x = +0)
    p("neg-sub", FastMath, "(neg (sub ?a ?b))", "(sub ?b ?a)"),        // −(a − b) = b − a (wrong sign for a = b)
    p("mul-zero", FastMath, "(mul ?x 0.0)", "0.0"),                    // x·0 = 0 (false for NaN, ±∞, −0)
    p("sub-self", FastMath, "(sub ?x ?x)", "0.0"),                     // x − x = 0 (false for NaN, ±∞)
    p("div-self", FastMath, "(div ?x ?x)", "1.0"),                     // x/x = 1 (false for 0, NaN, ±∞)
    p("add-assoc", FastMath, "(add (add ?a ?b) ?c)", "(add ?a (add ?b ?c))"),   // (a + b) + c = a + (b + c)
    p("mul-assoc", FastMath, "(mul (mul ?a ?b) ?c)", "(mul ?a (mul ?b ?c))"),   // (a·b)·c = a·(b·c)
    p("mul-distribute", FastMath, "(add (mul ?a ?b) (mul ?a ?c))", "(mul ?a (add ?b ?c))"), // ab + ac = a(b + c)
    p("ln-exp", FastMath, "(ln (exp ?x))", "?x"),                      // ln eˣ = x (false when eˣ overflows)
    p("exp-ln", FastMath, "(exp (ln ?x))", "?x"),                      // e^(ln x) = x (false for x < 0)
];

/// The egg rewrites for a configuration: Exact and Stabilizing always, FastMath
/// only when asked for.
pub fn rewrites(fast_math: bool) -> Vec<Rewrite<ENode, ShapeAnalysis>> {
    RULES
        .iter()
        .filter(|r| fast_math || r.tier != FastMath)
        .map(build)
        .collect()
}

fn build(spec: &RuleSpec) -> Rewrite<ENode, ShapeAnalysis> {
    // The table is a compile-time constant checked by the tests, so a failure
    // here is a bug in the table, not bad input.
    let made = match spec.kind {
        RuleKind::Pattern(lhs, rhs) => {
            let lhs: Pattern<ENode> = lhs.parse().expect("rule table: bad left-hand side");
            let rhs: Pattern<ENode> = rhs.parse().expect("rule table: bad right-hand side");
            Rewrite::new(spec.name, lhs, ShapeGuarded { rhs })
        }
        RuleKind::Shape(rule) => Rewrite::new(spec.name, ShapeSearch(rule), ShapeApply(rule)),
    };
    made.expect("rule table: bad rule")
}

/// Applies a right-hand side only if the term it builds has the e-class's shape.
struct ShapeGuarded {
    rhs: Pattern<ENode>,
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

fn var_x() -> Var {
    "?x".parse().expect("`?x` is a variable")
}

struct ShapeSearch(ShapeRule);

impl Searcher<ENode, ShapeAnalysis> for ShapeSearch {
    fn search_eclass_with_limit(
        &self,
        egraph: &EG,
        eclass: Id,
        limit: usize,
    ) -> Option<SearchMatches<'_, ENode>> {
        let x = var_x();
        let class_shape = &egraph[eclass].data.shape;
        let mut found: Vec<Id> = Vec::new();
        for n in &egraph[eclass].nodes {
            match (self.0, &n.op) {
                (ShapeRule::Noop, Op::Reshape(_) | Op::BroadcastTo(_) | Op::SumTo(_))
                    if egraph[n.children[0]].data.shape == *class_shape =>
                {
                    found.push(n.children[0]);
                }
                (ShapeRule::ReshapeChain, Op::Reshape(_))
                | (ShapeRule::BroadcastChain, Op::BroadcastTo(_)) => {
                    for inner in &egraph[n.children[0]].nodes {
                        if std::mem::discriminant(&inner.op) == std::mem::discriminant(&n.op) {
                            found.push(inner.children[0]);
                        }
                    }
                }
                _ => {}
            }
        }
        found.sort();
        found.dedup();
        found.truncate(limit);
        if found.is_empty() {
            return None;
        }
        let substs = found
            .into_iter()
            .map(|id| {
                let mut s = Subst::with_capacity(1);
                s.insert(x, id);
                s
            })
            .collect();
        Some(SearchMatches {
            eclass,
            substs,
            ast: None,
        })
    }

    fn vars(&self) -> Vec<Var> {
        vec![var_x()]
    }
}

struct ShapeApply(ShapeRule);

impl Applier<ENode, ShapeAnalysis> for ShapeApply {
    fn apply_one(
        &self,
        egraph: &mut EG,
        eclass: Id,
        subst: &Subst,
        _: Option<&PatternAst<ENode>>,
        _: Symbol,
    ) -> Vec<Id> {
        let x = subst[var_x()];
        let shape = egraph[eclass].data.shape.clone();
        let new = match self.0 {
            ShapeRule::Noop => x,
            ShapeRule::ReshapeChain => egraph.add(ENode::new(Op::Reshape(shape), vec![x])),
            ShapeRule::BroadcastChain => {
                // broadcast_to s (broadcast_to t x) is valid, so x broadcasts to s.
                egraph.add(ENode::new(Op::BroadcastTo(shape), vec![x]))
            }
        };
        if egraph.union(eclass, new) {
            vec![eclass]
        } else {
            Vec::new()
        }
    }

    fn vars(&self) -> Vec<Var> {
        vec![var_x()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use egg::{RecExpr, Runner};
    use gradc_ir::DType;

    /// (rule, before, after): with only that rule, `before` must end up equal to
    /// `after`. Leaves: `input:0` is [2 3], `input:1` is [3 2], `input:2` is [3],
    /// `input:3` is [3 4], `input:4` is [4 3], `param:0` is a scalar.
    #[rustfmt::skip]
    const CASES: &[(&str, &str, &str)] = &[
        ("mul-one-right", "(mul input:0 1.0)", "input:0"),
        ("mul-one-left", "(mul 1.0 input:0)", "input:0"),
        ("div-one", "(div input:0 1.0)", "input:0"),
        ("sub-zero", "(sub input:0 0.0)", "input:0"),
        ("mul-neg-one", "(mul input:0 -1.0)", "(neg input:0)"),
        ("div-neg-one", "(div input:0 -1.0)", "(neg input:0)"),
        ("powi-one", "(powi:1 input:0)", "input:0"),
        ("neg-neg", "(neg (neg input:0))", "input:0"),
        ("sub-neg", "(sub input:0 (neg input:2))", "(add input:0 input:2)"),
        ("add-neg", "(add input:0 (neg input:2))", "(sub input:0 input:2)"),
        ("neg-add", "(add (neg input:0) input:2)", "(sub input:2 input:0)"),
        ("mul-neg-left", "(mul (neg input:0) input:2)", "(neg (mul input:0 input:2))"),
        ("mul-neg-right", "(mul input:0 (neg input:2))", "(neg (mul input:0 input:2))"),
        ("div-neg-left", "(div (neg input:0) input:2)", "(neg (div input:0 input:2))"),
        ("div-neg-right", "(div input:0 (neg input:2))", "(neg (div input:0 input:2))"),
        ("add-comm", "(add input:0 input:2)", "(add input:2 input:0)"),
        ("mul-comm", "(mul input:0 param:0)", "(mul param:0 input:0)"),
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
        ("add-zero", "(add input:0 0.0)", "input:0"),
        ("zero-sub", "(sub 0.0 input:0)", "(neg input:0)"),
        ("neg-sub", "(neg (sub input:0 input:2))", "(sub input:2 input:0)"),
        ("mul-zero", "(mul param:0 0.0)", "0.0"),
        ("sub-self", "(sub param:0 param:0)", "0.0"),
        ("div-self", "(div param:0 param:0)", "1.0"),
        ("add-assoc", "(add (add input:0 input:2) param:0)", "(add input:0 (add input:2 param:0))"),
        ("mul-assoc", "(mul (mul input:0 input:2) param:0)", "(mul input:0 (mul input:2 param:0))"),
        ("mul-distribute", "(add (mul param:0 input:0) (mul param:0 input:2))", "(mul param:0 (add input:0 input:2))"),
        ("ln-exp", "(ln (exp input:0))", "input:0"),
        ("exp-ln", "(exp (ln input:0))", "input:0"),
    ];

    fn analysis() -> ShapeAnalysis {
        ShapeAnalysis {
            dtype: Some(DType::F64),
            inputs: vec![
                Shape::new([2, 3]),
                Shape::new([3, 2]),
                Shape::new([3]),
                Shape::new([3, 4]),
                Shape::new([4, 3]),
            ],
            params: vec![Shape::scalar()],
            fault: None,
            folded: 0,
        }
    }

    /// Runs `rules` on `before` and `after` together; whether they became equal.
    fn equal_after(rules: &[Rewrite<ENode, ShapeAnalysis>], before: &str, after: &str) -> bool {
        let b: RecExpr<ENode> = before.parse().unwrap();
        let a: RecExpr<ENode> = after.parse().unwrap();
        let mut eg = EG::new(analysis());
        let (bi, ai) = (eg.add_expr(&b), eg.add_expr(&a));
        let runner = Runner::default()
            .with_egraph(eg)
            .with_iter_limit(5)
            .run(rules);
        assert!(runner.egraph.analysis.fault.is_none());
        runner.egraph.find(bi) == runner.egraph.find(ai)
    }

    #[test]
    fn every_rule_rewrites_its_example() {
        for spec in RULES {
            let case = CASES.iter().find(|c| c.0 == spec.name);
            let (_, before, after) =
                case.unwrap_or_else(|| panic!("rule {} has no test case", spec.name));
            assert!(
                !equal_after(&[], before, after),
                "{}: already equal without the rule",
                spec.name
            );
            assert!(
                equal_after(&[build(spec)], before, after),
                "{}: {before} did not become {after}",
                spec.name
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
    }

    #[test]
    fn default_rules_are_exact_only() {
        let exact = rewrites(false);
        assert!(equal_after(&exact, "(mul input:0 1.0)", "input:0"));
        // x + 0 → x changes −0 to +0: not applied by default.
        assert!(!equal_after(&exact, "(add input:0 0.0)", "input:0"));
        assert!(!equal_after(&exact, "(sub param:0 param:0)", "0.0"));
        assert!(!equal_after(
            &exact,
            "(add (add input:0 input:2) param:0)",
            "(add input:0 (add input:2 param:0))"
        ));
        assert!(equal_after(&rewrites(true), "(add input:0 0.0)", "input:0"));
    }

    #[test]
    fn rules_keep_shapes() {
        let fast = rewrites(true);
        // x·0 with x of shape [2 3] is a [2 3] tensor, not the scalar 0.
        assert!(!equal_after(&fast, "(mul input:0 0.0)", "0.0"));
        // Likewise x − x for x of shape [3].
        assert!(!equal_after(&fast, "(sub input:2 input:2)", "0.0"));
        // reshape to another shape is not a no-op.
        assert!(!equal_after(
            &rewrites(false),
            "(reshape:[3x2] input:0)",
            "input:0"
        ));
    }

    #[test]
    fn constants_fold() {
        assert!(equal_after(&[], "(mul 2.0 (sub 1.0 0.25))", "1.5"));
        assert!(!equal_after(&[], "(exp 0.0)", "1.0"));
    }
}
