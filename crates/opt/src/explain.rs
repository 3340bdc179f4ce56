//! Which rewrites produced a node of the optimized graph, from egg's
//! explanations (proof-producing e-graphs).
//!
//! [`explain_node`] replays the same phased saturation as [`crate::optimize`]
//! with egg's proof recording on, then asks egg why the naive joint-graph term
//! of the node (as autodiff built it) equals the term the optimizer emitted.
//! The answer is a list of rewrite steps in the order a rewriting would apply
//! them, each with the rule's name and the subterm it rewrote.

use crate::analysis::EG;
use crate::lang::ENode;
use crate::{rules, saturate, OptConfig};
use egg::{Id, RecExpr, TreeExplanation, TreeTerm};
use gradc_ir::{Graph, IrError, NodeId, Op};
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;

/// At most this many steps are listed; the rest are counted.
const MAX_STEPS: usize = 200;
/// A subterm is printed this deep and this long at most.
const TERM_DEPTH: usize = 6;
const TERM_CHARS: usize = 160;

/// One rewrite of an explanation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// The rule's table name (`sigmoid-grad`), or `const-fold`.
    pub rule: String,
    /// Whether the rule was used right to left.
    pub reversed: bool,
    /// The subterm before the rewrite (s-expression, cut at depth and length).
    pub before: String,
    /// The subterm after it.
    pub after: String,
}

/// Why an optimized node computes what it computes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explanation {
    /// The optimized-graph node that was asked about.
    pub node: NodeId,
    /// The optimized-graph node whose derivation is shown. It differs from
    /// `node` when `node` has no counterpart in the joint graph (a rewrite
    /// created it): then the first user of it that has one is explained,
    /// and the steps include those that created `node`.
    pub explained: NodeId,
    /// The joint-graph (naive) term of `explained`, cut for printing.
    pub naive: String,
    /// The emitted term of `explained`, cut for printing.
    pub optimized: String,
    /// The first `MAX_STEPS` rewrite steps, in order.
    pub steps: Vec<Step>,
    /// How many steps there are in all (saturating).
    pub total_steps: usize,
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "naive:     {}", self.naive)?;
        writeln!(f, "optimized: {}", self.optimized)?;
        if self.total_steps == 0 {
            return writeln!(f, "no rewrites: the naive term is emitted as it is");
        }
        let plural = if self.total_steps == 1 { "" } else { "s" };
        writeln!(f, "rewrites, in order ({} step{plural}):", self.total_steps)?;
        let width = self.steps.iter().map(|s| s.rule.len()).max().unwrap_or(0);
        for (i, s) in self.steps.iter().enumerate() {
            let rule = if s.reversed {
                format!("{} (reversed)", s.rule)
            } else {
                s.rule.clone()
            };
            writeln!(
                f,
                "  {:>3}. {rule:<w$}  {}  =>  {}",
                i + 1,
                s.before,
                s.after,
                w = width + if s.reversed { 11 } else { 0 }
            )?;
        }
        if self.total_steps > self.steps.len() {
            writeln!(
                f,
                "  ... {} more steps",
                self.total_steps - self.steps.len()
            )?;
        }
        Ok(())
    }
}

/// Explains node `node` of `optimized`, the result of
/// [`optimize`](crate::optimize)`(joint, config)`: replays the saturation with
/// explanations and lists the rewrites from the node's naive term in `joint`
/// to its term in `optimized`.
///
/// An error when `node` does not exist or is a leaf, or when the replay did
/// not reach the optimized term (it should: the replay is the same
/// deterministic saturation).
pub fn explain_node(
    joint: &Graph,
    optimized: &Graph,
    config: &OptConfig,
    node: NodeId,
) -> Result<Explanation, IrError> {
    if node.index() >= optimized.len() {
        return Err(IrError::new(format!(
            "explain: no node {node} in the optimized graph"
        )));
    }
    if optimized.op(node).is_leaf() {
        return Err(IrError::new(format!(
            "explain: {node} is an argument or a constant; no rewrite produced it"
        )));
    }
    let mut sat = saturate(joint, config, true)?;
    let eg = &mut sat.egraph;
    // The first joint node of each class: the one whose name and provenance
    // the optimized node carries.
    let mut joint_of: HashMap<Id, NodeId> = HashMap::new();
    for n in joint.node_ids() {
        joint_of.entry(eg.find(sat.ids[n.index()])).or_insert(n);
    }
    let class_of = |eg: &EG, n: NodeId| -> Result<Id, IrError> {
        eg.lookup_expr(&term(optimized, n)).ok_or_else(|| {
            IrError::new(format!(
                "explain: the replayed saturation did not reach the optimized term of {n}"
            ))
        })
    };

    // Breadth-first over users, in node order, to a node the joint graph has.
    let mut explained = None;
    let mut queue = std::collections::VecDeque::from([node]);
    let mut seen = vec![false; optimized.len()];
    while let Some(n) = queue.pop_front() {
        if std::mem::replace(&mut seen[n.index()], true) {
            continue;
        }
        if let Some(&j) = joint_of.get(&class_of(eg, n)?) {
            explained = Some((n, j));
            break;
        }
        queue.extend(optimized.users(n));
    }
    let Some((explained, j)) = explained else {
        return Err(IrError::new(format!(
            "explain: neither {node} nor a node using it has a term in the joint graph"
        )));
    };

    let naive = term(joint, j);
    let opt = term(optimized, explained);
    let explanation = eg.explain_equivalence(&naive, &opt);
    let names = Names::new(joint);
    let mut walk = Walk {
        names: &names,
        memo: HashMap::new(),
        steps: Vec::new(),
    };
    let total_steps = walk.count(&explanation.explanation_trees);
    walk.collect(&explanation.explanation_trees);
    Ok(Explanation {
        node,
        explained,
        naive: names.rec_expr(&naive),
        optimized: names.rec_expr(&opt),
        steps: walk.steps,
        total_steps,
    })
}

/// The term of `n` in `g` as an egg expression (shared subterms stay shared).
fn term(g: &Graph, n: NodeId) -> RecExpr<ENode> {
    // The ancestors of `n`, in node order (arguments precede their users).
    let mut need = vec![false; n.index() + 1];
    need[n.index()] = true;
    for i in (0..=n.index()).rev() {
        if need[i] {
            for a in g.args(NodeId::from_index(i)) {
                need[a.index()] = true;
            }
        }
    }
    let mut expr = RecExpr::default();
    let mut at: HashMap<NodeId, Id> = HashMap::new();
    for (i, _) in need.iter().enumerate().filter(|(_, k)| **k) {
        let id = NodeId::from_index(i);
        let children = g.args(id).iter().map(|a| at[a]).collect();
        at.insert(id, expr.add(ENode::new(g.op(id).clone(), children)));
    }
    expr
}

/// Prints terms with the joint graph's names: arguments by name, and a
/// subterm equal to a named joint node (`z`, `h`, `d_yhat`) as that name.
struct Names<'a> {
    g: &'a Graph,
    /// Structural hash-consing of terms: an e-node over child keys → key.
    keys: RefCell<HashMap<ENode, Id>>,
    /// Keys of proof terms, initial (`false`) or final, by address (a cache).
    tree_keys: RefCell<HashMap<(*const TreeTerm<ENode>, bool), Id>>,
    /// The first joint name of each term key.
    named: HashMap<Id, String>,
}

impl<'a> Names<'a> {
    fn new(g: &'a Graph) -> Self {
        let mut names = Names {
            g,
            keys: RefCell::default(),
            tree_keys: RefCell::default(),
            named: HashMap::new(),
        };
        let mut at: Vec<Id> = Vec::with_capacity(g.len());
        for n in g.node_ids() {
            let children = g.args(n).iter().map(|a| at[a.index()]).collect();
            let k = names.key(ENode::new(g.op(n).clone(), children));
            at.push(k);
            if let (Some(name), false) = (g.name(n), g.op(n).is_leaf()) {
                names.named.entry(k).or_insert_with(|| name.to_string());
            }
        }
        names
    }

    fn key(&self, n: ENode) -> Id {
        let mut keys = self.keys.borrow_mut();
        let next = Id::from(keys.len());
        *keys.entry(n).or_insert(next)
    }

    fn tree_key(&self, t: &TreeTerm<ENode>, last: bool) -> Id {
        let addr = (t as *const TreeTerm<ENode>, last);
        if let Some(&k) = self.tree_keys.borrow().get(&addr) {
            return k;
        }
        let children = t
            .child_proofs
            .iter()
            .filter_map(|p| if last { p.last() } else { p.first() })
            .map(|c| self.tree_key(c, last))
            .collect();
        let k = self.key(ENode::new(t.node.op.clone(), children));
        self.tree_keys.borrow_mut().insert(addr, k);
        k
    }

    fn atom(&self, n: &ENode) -> String {
        let g = self.g;
        let leaf = |ids: &[NodeId], i: usize| ids.get(i).and_then(|id| g.name(*id));
        let name = match &n.op {
            Op::Input(i) => leaf(g.inputs(), *i),
            Op::Param(i) => leaf(g.params(), *i),
            Op::Const(c) => return format!("{}", c.value()),
            Op::Count(_)
            | Op::Unary(_)
            | Op::Binary(_)
            | Op::OneHot(_)
            | Op::MatMul { .. }
            | Op::Transpose
            | Op::Reshape(_)
            | Op::BroadcastTo(_)
            | Op::SumTo(_)
            | Op::Sum
            | Op::Row(_)
            | Op::Index(_)
            | Op::Stack { .. }
            | Op::Concat
            | Op::SliceLast { .. } => None,
        };
        name.map_or_else(|| n.to_string(), str::to_string)
    }

    fn rec_expr(&self, e: &RecExpr<ENode>) -> String {
        let mut keys: Vec<Id> = Vec::with_capacity(e.as_ref().len());
        for n in e.as_ref() {
            let children = n.children.iter().map(|c| keys[usize::from(*c)]).collect();
            keys.push(self.key(ENode::new(n.op.clone(), children)));
        }
        let mut out = Cut::default();
        let root = Id::from(e.as_ref().len() - 1);
        self.write_rec(e, &keys, root, 0, &mut out);
        out.finish()
    }

    fn write_rec(&self, e: &RecExpr<ENode>, keys: &[Id], id: Id, depth: usize, out: &mut Cut) {
        let n = &e[id];
        self.write_node(
            n,
            keys[usize::from(id)],
            depth,
            out,
            n.children
                .iter()
                .map(|c| move |s: &Self, d: usize, o: &mut Cut| s.write_rec(e, keys, *c, d, o)),
        );
    }

    /// `(op child...)`, children written by the given closures, a named
    /// subterm (below the top) by its name, cut at [`TERM_DEPTH`] with `…`.
    fn write_node<F: FnOnce(&Self, usize, &mut Cut)>(
        &self,
        n: &ENode,
        key: Id,
        depth: usize,
        out: &mut Cut,
        children: impl ExactSizeIterator<Item = F>,
    ) {
        if out.full() {
            return;
        }
        if children.len() == 0 {
            out.push(&self.atom(n));
        } else if let (true, Some(name)) = (depth > 0, self.named.get(&key)) {
            out.push(name);
        } else if depth >= TERM_DEPTH {
            out.push("…");
        } else {
            out.push("(");
            out.push(&self.atom(n));
            for c in children {
                out.push(" ");
                c(self, depth + 1, out);
            }
            out.push(")");
        }
    }

    /// The initial (`last == false`) or final term of a proof step.
    fn write_tree(&self, t: &TreeTerm<ENode>, last: bool, depth: usize, out: &mut Cut) {
        self.write_node(
            &t.node,
            self.tree_key(t, last),
            depth,
            out,
            t.child_proofs.iter().map(|p| {
                move |s: &Self, d: usize, o: &mut Cut| {
                    let sub = if last { p.last() } else { p.first() };
                    if let Some(sub) = sub {
                        s.write_tree(sub, last, d, o);
                    }
                }
            }),
        );
    }

    fn tree(&self, t: &TreeTerm<ENode>, last: bool) -> String {
        let mut out = Cut::default();
        self.write_tree(t, last, 0, &mut out);
        out.finish()
    }
}

/// A string cut at [`TERM_CHARS`] characters.
#[derive(Default)]
struct Cut {
    text: String,
    cut: bool,
}

impl Cut {
    fn full(&self) -> bool {
        self.cut
    }

    fn push(&mut self, s: &str) {
        if self.cut {
            return;
        }
        if self.text.chars().count() + s.chars().count() > TERM_CHARS {
            self.cut = true;
        } else {
            self.text.push_str(s);
        }
    }

    fn finish(mut self) -> String {
        if self.cut {
            self.text.push_str(" …");
        }
        self.text
    }
}

/// Turns egg's proof tree into steps in the order egg's flat explanation
/// lists them: each term's own rewrite, then the rewrites inside its
/// arguments, argument by argument. Walks the shared tree without expanding
/// it (a flat explanation of a deep graph is exponentially long).
struct Walk<'a> {
    names: &'a Names<'a>,
    /// Steps under each proof node, by address (a cache; never ordering).
    memo: HashMap<*const TreeTerm<ENode>, usize>,
    steps: Vec<Step>,
}

impl Walk<'_> {
    fn count(&mut self, proof: &TreeExplanation<ENode>) -> usize {
        // A term without a rule follows the previous one by congruence: its
        // steps are in its argument proofs.
        let mut total = proof
            .iter()
            .skip(1)
            .filter(|t| t.forward_rule.is_some() || t.backward_rule.is_some())
            .count();
        for t in proof {
            total = total.saturating_add(self.count_term(t));
        }
        total
    }

    fn count_term(&mut self, t: &Rc<TreeTerm<ENode>>) -> usize {
        let key = Rc::as_ptr(t);
        if let Some(&n) = self.memo.get(&key) {
            return n;
        }
        let mut n = 0usize;
        for p in &t.child_proofs {
            n = n.saturating_add(self.count(p));
        }
        self.memo.insert(key, n);
        n
    }

    fn collect(&mut self, proof: &TreeExplanation<ENode>) {
        for (k, t) in proof.iter().enumerate() {
            if self.steps.len() >= MAX_STEPS {
                return;
            }
            let rule = match (t.forward_rule, t.backward_rule) {
                (Some(r), _) => Some((r, false)),
                (None, Some(r)) => Some((r, true)),
                (None, None) => None,
            };
            if let (true, Some((rule, reversed))) = (k > 0, rule) {
                self.steps.push(Step {
                    rule: rule_name(rule.as_str()),
                    reversed,
                    before: self.names.tree(&proof[k - 1], true),
                    after: self.names.tree(t, false),
                });
            }
            for p in &t.child_proofs {
                if self.count(p) > 0 {
                    self.collect(p);
                }
            }
        }
    }
}

/// The table name of a justification: rewrites are named after their table
/// entry (`name#variant`); the constant-folding analysis unions with egg's
/// `union`, which names its own source location.
fn rule_name(justification: &str) -> String {
    let base = rules::base_name(justification);
    if rules::RULES.iter().any(|r| r.name == base) {
        base.to_string()
    } else if justification.contains("analysis.rs") {
        "const-fold".to_string()
    } else {
        base.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optimize;
    use gradc_ir::{BinaryOp, UnaryOp};
    use gradc_ir::{DType, Shape};

    /// sum(1/(1 + e^(−(x·w)))) with x an input, w a parameter.
    fn hand_sigmoid() -> Graph {
        let mut g = Graph::new(DType::F64);
        let x = g.add_input("x", Shape(vec![4, 3]));
        let w = g.add_param("w", Shape(vec![3, 1]));
        let z = g
            .add(
                Op::MatMul {
                    ta: false,
                    tb: false,
                },
                &[x, w],
            )
            .unwrap();
        g.set_name(z, "z");
        let nz = g.add(Op::Unary(UnaryOp::Neg), &[z]).unwrap();
        let e = g.add(Op::Unary(UnaryOp::Exp), &[nz]).unwrap();
        let one = g.constant(1.0);
        let d = g.add(Op::Binary(BinaryOp::Add), &[one, e]).unwrap();
        let one = g.constant(1.0);
        let s = g.add(Op::Binary(BinaryOp::Div), &[one, d]).unwrap();
        let l = g.add(Op::Sum, &[s]).unwrap();
        g.add_root("out", l);
        g
    }

    #[test]
    fn explains_the_hand_rolled_sigmoid_gradient() {
        let fwd = hand_sigmoid();
        let joint = gradc_autodiff::differentiate(&fwd).unwrap();
        let config = OptConfig::default();
        let (opt, _) = optimize(&joint, &config).unwrap();
        let d_w = opt.roots()[1].node;
        let e = explain_node(&joint, &opt, &config, d_w).unwrap();
        let rules: Vec<&str> = e.steps.iter().map(|s| s.rule.as_str()).collect();
        assert!(rules.contains(&"sigmoid-recognize"), "{e}");
        assert!(rules.contains(&"sigmoid-grad"), "{e}");
        assert_eq!(e.total_steps, e.steps.len(), "{e}");
        // The naive term's adjoint is printed by its name; the emitted term
        // has no exponential left.
        assert!(e.naive.contains("d_z"), "{e}");
        assert!(!e.optimized.contains("exp"), "{e}");
        assert!(e.optimized.contains("sigmoid"), "{e}");
        // The recognition step rewrites the hand-rolled form to the primitive.
        let rec = e
            .steps
            .iter()
            .find(|s| s.rule == "sigmoid-recognize")
            .unwrap();
        assert_eq!(rec.before, "(div 1 (add 1 (exp (neg z))))", "{e}");
        assert_eq!(rec.after, "(sigmoid z)", "{e}");
        // Deterministic: a second replay gives the same text.
        let again = explain_node(&joint, &opt, &config, d_w).unwrap();
        assert_eq!(e.to_string(), again.to_string());
    }

    #[test]
    fn a_node_made_by_a_rewrite_is_explained_through_its_user() {
        let fwd = hand_sigmoid();
        let joint = gradc_autodiff::differentiate(&fwd).unwrap();
        let config = OptConfig::default();
        let (opt, _) = optimize(&joint, &config).unwrap();
        // `sigmoid(z)` exists in no joint class's first node... it is in the
        // class of the hand-rolled form, so it is explained directly; the
        // complement `1 − sigmoid(z)` is created by sigmoid-grad.
        let sub = opt
            .node_ids()
            .find(|n| opt.op(*n) == &Op::Binary(BinaryOp::Sub))
            .expect("1 − σ in the optimized graph");
        let e = explain_node(&joint, &opt, &config, sub).unwrap();
        assert_ne!(e.explained, sub, "{e}");
        assert!(e.steps.iter().any(|s| s.rule == "sigmoid-grad"), "{e}");
    }

    #[test]
    fn leaves_and_missing_nodes_are_errors() {
        let fwd = hand_sigmoid();
        let joint = gradc_autodiff::differentiate(&fwd).unwrap();
        let config = OptConfig::default();
        let (opt, _) = optimize(&joint, &config).unwrap();
        assert!(explain_node(&joint, &opt, &config, opt.params()[0]).is_err());
        assert!(explain_node(&joint, &opt, &config, NodeId::from_index(10_000)).is_err());
    }
}
