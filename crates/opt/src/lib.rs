//! Stage 4 of the gradc pipeline: optimization of the joint forward+backward graph
//! by equality saturation with [egg](https://docs.rs/egg). This is the only crate
//! that names egg.
//!
//! [`optimize`] loads the joint graph into an e-graph, which already merges
//! structurally repeated subexpressions by hash-consing (the naive derivative's
//! recomputed `sigmoid(x)` becomes the forward one), runs the rule table in
//! phases, extracts a cheap DAG by a cost model in flops and bytes of the real
//! shapes ([`cost`]) and rebuilds a [`Graph`] with the original leaves, roots
//! and names.
//!
//! # Rule tiers
//!
//! Every rule in [`rules::RULES`] carries a [`rules::Tier`]. The default applies
//! the Exact and Stabilizing tiers; `#[network(fast_math)]`
//! ([`OptConfig::fast_math`]) also applies FastMath.
//!
//! - **Exact** rules hold bit for bit under IEEE 754 for every input, signed
//!   zeros, infinities and NaN included (only NaN payloads may differ): `x·1 → x`,
//!   `x − 0 → x`, `−(−x) → x`, `(−a)·b → −(a·b)`, `x/2ᵏ → x·2⁻ᵏ`, dropping a
//!   `broadcast_to` the elementwise op would do anyway, transposes folded into
//!   matrix products, and the recognition of ops defined as the very same IEEE
//!   operations: `x·σ(x) → silu(x)`, `max(x, s·x) → leaky_relu(x, s)` for a
//!   constant 0 < s < 1. Note that `x + 0 → x` is *not* exact (`−0 + 0 = +0`), so
//!   it is FastMath. Constant folding of scalar constants is exact too: it
//!   computes in the graph's element type and folds only correctly rounded
//!   operations with finite results (reported as the `const-fold` rule).
//! - **Stabilizing** rules give a result never further from the real value
//!   than the original: op recognition (`1/(1 + e⁻ˣ) → sigmoid(x)`,
//!   `eˣ/Σeˣ → softmax(x)`, `ln softmax → log_softmax`, `ln(1 + eˣ) →
//!   softplus`), whose targets are the overflow-free primitives, and the
//!   derivative identities that come with them (σ' = σ(1 − σ) on the forward
//!   value). Power-of-two scalings belong here as well: multiplying by 2ᵏ is
//!   exact while the result stays a normal number, so `0.25·(2·x) → 0.5·x`
//!   and `k·a + k·b → k·(a + b)` (k = ±2ᵏ) change nothing in the normal range
//!   and round once instead of twice when an intermediate over- or
//!   underflows. The one documented exception: for |k| < 1, `a + b` can
//!   overflow where `k·a + k·b` would not (values near the largest float).
//! - **FastMath** rules are real-number identities that IEEE arithmetic breaks:
//!   `x + 0 → x`, `x·0 → 0`, `x − x → 0`, reassociation, distribution,
//!   `ln eˣ → x`, `Σ` of n broadcast copies `→ n·x`. Commutativity of `+` and
//!   `·` is exact but blanket (every sum and product doubles), so it is only
//!   applied with fast math, where reassociation needs it; default rules list
//!   both operand orders where autodiff or users write either.
//!
//! Every rule is guarded by shapes: it fires only where the rewritten term has
//! the shape of the matched e-class, since broadcasting a scalar can change it.
//!
//! # Phases and bounds
//!
//! Saturation runs four times on the same e-graph (see [`rules::Phase`]):
//! canonicalise → derivative identities and recognition → stabilise →
//! specialise, each run with its own rules plus the earlier phases'. Each run
//! is bounded by [`OptConfig::iter_limit`] iterations and the whole e-graph by
//! [`node_budget`] e-nodes ([`OptConfig::node_limit`], less for a small
//! graph), held within an iteration too: matches are applied a few at a time
//! while the e-graph is under the limit, and the report's stop reason says
//! `node limit` when matches were left. No wall-clock limit decides anything.
//!
//! # Determinism
//!
//! egg is built with its `deterministic` feature, saturation is bounded by
//! iterations and e-nodes only, and extraction breaks ties by e-node order
//! and visits classes in sorted order, so the same graph always gives the
//! same optimized graph text.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod analysis;
pub mod cost;
pub mod explain;
pub mod extract;
pub mod lang;
pub mod rules;

pub use cost::flops;
pub use explain::{explain_node, explain_nodes, Explanation};

use analysis::{ShapeAnalysis, EG};
use egg::{Id, Runner, StopReason};
use gradc_ir::{verify, Graph, IrError, NodeId, Op, Report, Shape};
use lang::ENode;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

/// Bounds and switches of the optimizer.
#[derive(Clone, Debug)]
pub struct OptConfig {
    /// Maximum equality-saturation iterations, per phase.
    pub iter_limit: usize,
    /// Maximum e-nodes; saturation stops once the e-graph grows past it.
    pub node_limit: usize,
    /// Also apply the FastMath rules, which may change results.
    pub fast_math: bool,
}

impl Default for OptConfig {
    fn default() -> Self {
        OptConfig {
            iter_limit: 30,
            node_limit: 20_000,
            fast_math: false,
        }
    }
}

/// Joint graph → optimized joint graph plus a report of what was done.
///
/// The result has the same inputs and parameters (with their names, used or
/// not) in the same order, then the needed operations in dependency order, each
/// computed once, then the same roots in the same order with the same shapes
/// (the contract `gradc_ir::verify_optimized` checks; the driver runs it).
pub fn optimize(joint: &Graph, config: &OptConfig) -> Result<(Graph, Report), IrError> {
    let Saturated {
        egraph,
        ids,
        rules_fired,
        iterations,
        stop_reason,
    } = saturate(joint, config, false)?;
    let egraph = &egraph;

    let classes: Vec<Id> = ids.iter().map(|i| egraph.find(*i)).collect();
    let roots: Vec<Id> = joint
        .roots()
        .iter()
        .map(|r| classes[r.node.index()])
        .collect();
    let preferred: HashSet<ENode> = joint
        .node_ids()
        .map(|n| {
            ENode::new(
                joint.op(n).clone(),
                joint.args(n).iter().map(|a| classes[a.index()]).collect(),
            )
        })
        .collect();
    let choice = extract::extract(egraph, &roots, &preferred)?;
    let out = rebuild(joint, egraph, &classes, &roots, &choice)?;

    let report = Report {
        ops_naive: joint.op_count(),
        ops_optimized: out.op_count(),
        flops_naive: flops(joint),
        flops_optimized: flops(&out),
        iterations,
        egraph_nodes: egraph.total_number_of_nodes(),
        stop_reason,
        rules_fired,
    };
    Ok((out, report))
}

/// The e-graph after the phased saturation of a joint graph.
pub(crate) struct Saturated {
    pub egraph: EG,
    /// The e-class id each joint node was added as, by node index.
    pub ids: Vec<Id>,
    pub rules_fired: BTreeMap<String, usize>,
    pub iterations: usize,
    pub stop_reason: String,
}

/// Loads `joint` into an e-graph and runs the rule phases on it. `optimize`
/// and [`explain_node`] share it, so an explanation replays the same saturation
/// (with egg's proof recording on, which does not change what is rewritten).
pub(crate) fn saturate(
    joint: &Graph,
    config: &OptConfig,
    explanations: bool,
) -> Result<Saturated, IrError> {
    verify(joint)?;
    let analysis = ShapeAnalysis {
        dtype: Some(joint.dtype()),
        inputs: joint
            .inputs()
            .iter()
            .map(|i| joint.shape(*i).clone())
            .collect(),
        params: joint
            .params()
            .iter()
            .map(|p| joint.shape(*p).clone())
            .collect(),
        fault: None,
        fast_math: config.fast_math,
        folded: 0,
    };
    let mut egraph = EG::new(analysis);
    if explanations {
        egraph = egraph.with_explanations_enabled();
    }
    let mut ids: Vec<Id> = Vec::with_capacity(joint.len());
    for n in joint.node_ids() {
        let children = joint.args(n).iter().map(|a| ids[a.index()]).collect();
        ids.push(egraph.add(ENode::new(joint.op(n).clone(), children)));
    }
    egraph.rebuild();

    // Phases run one after the other on the same e-graph (see `rules::Phase`);
    // the iteration limit is per phase, the node limit for the whole e-graph.
    let mut rules_fired: BTreeMap<String, usize> = BTreeMap::new();
    let mut iterations = 0;
    let mut stops: Vec<(rules::Phase, String)> = Vec::new();
    let node_limit = node_budget(config, joint.len());
    for phase in rules::Phase::ALL {
        let guard = NodeGuard {
            inner: egg::BackoffScheduler::default(),
            limit: node_limit,
            hit: std::rc::Rc::new(std::cell::Cell::new(false)),
        };
        let hit = guard.hit.clone();
        let runner = Runner::default()
            .with_egraph(egraph)
            .with_scheduler(guard)
            .with_iter_limit(config.iter_limit)
            .with_node_limit(node_limit)
            // Never the deciding limit: output must not depend on machine speed.
            .with_time_limit(Duration::from_secs(3600))
            .run(&rules::rewrites_for(phase, config.fast_math));
        iterations += runner.iterations.len();
        for it in &runner.iterations {
            for (name, n) in &it.applied {
                *rules_fired
                    .entry(rules::base_name(name.as_str()).to_string())
                    .or_default() += n;
            }
        }
        let stop = match &runner.stop_reason {
            // The guard left matches unapplied: not saturated, stopped by the limit.
            Some(_) if hit.get() => "node limit".to_string(),
            Some(StopReason::Saturated) => "saturated".to_string(),
            Some(StopReason::IterationLimit(_)) => "iteration limit".to_string(),
            Some(StopReason::NodeLimit(_)) => "node limit".to_string(),
            Some(StopReason::TimeLimit(_)) => "time limit".to_string(),
            Some(StopReason::Other(s)) => s.clone(),
            None => "unknown".to_string(),
        };
        stops.push((phase, stop));
        egraph = runner.egraph;
        if egraph.analysis.fault.is_some()
            || hit.get()
            || egraph.total_number_of_nodes() >= node_limit
        {
            break;
        }
    }
    if let Some(m) = &egraph.analysis.fault {
        return Err(IrError::new(m.clone()));
    }
    if egraph.analysis.folded > 0 {
        rules_fired.insert("const-fold".into(), egraph.analysis.folded);
    }
    // "saturated" when every phase saturated, else the first phase that did not.
    let stop_reason = match stops.iter().find(|(_, s)| s != "saturated") {
        None => "saturated".to_string(),
        Some((phase, s)) => format!("{s} in phase {}", phase.name()),
    };
    Ok(Saturated {
        egraph,
        ids,
        rules_fired,
        iterations,
        stop_reason,
    })
}

/// The e-node limit for a joint graph of `n` nodes: [`OptConfig::node_limit`],
/// and at most [`NODES_PER_NODE`] per node plus [`NODES_BASE`], so that a small
/// network's e-graph stays small (searching costs time per e-node and
/// iteration, and with FastMath reassociation, distribution and constant
/// folding a two-op network could fill the whole limit).
pub fn node_budget(config: &OptConfig, n: usize) -> usize {
    config
        .node_limit
        .min(n.saturating_mul(NODES_PER_NODE).saturating_add(NODES_BASE))
}

/// E-nodes allowed per joint-graph node (see [`node_budget`]).
pub const NODES_PER_NODE: usize = 16;
/// E-nodes allowed on top of those per node (see [`node_budget`]).
pub const NODES_BASE: usize = 500;

/// Matches applied between two checks of the node limit: one match adds a
/// few e-nodes, so the e-graph never passes the limit by more than a few
/// hundred.
const GUARD_CHUNK: usize = 16;

/// egg's backoff scheduler, plus the node limit held within an iteration:
/// egg checks its limit only between iterations, and one iteration of the
/// FastMath rules (reassociation minting constants) can multiply the e-graph.
/// Matches are applied [`GUARD_CHUNK`] at a time while the e-graph is under
/// the limit; the rest are dropped and `hit` records it.
struct NodeGuard {
    inner: egg::BackoffScheduler,
    limit: usize,
    hit: std::rc::Rc<std::cell::Cell<bool>>,
}

impl egg::RewriteScheduler<ENode, ShapeAnalysis> for NodeGuard {
    fn can_stop(&mut self, iteration: usize) -> bool {
        self.hit.get()
            || egg::RewriteScheduler::<ENode, ShapeAnalysis>::can_stop(&mut self.inner, iteration)
    }

    fn search_rewrite<'a>(
        &mut self,
        iteration: usize,
        egraph: &EG,
        rewrite: &'a egg::Rewrite<ENode, ShapeAnalysis>,
    ) -> Vec<egg::SearchMatches<'a, ENode>> {
        if egraph.total_size() >= self.limit {
            self.hit.set(true);
            return Vec::new();
        }
        self.inner.search_rewrite(iteration, egraph, rewrite)
    }

    fn apply_rewrite(
        &mut self,
        _iteration: usize,
        egraph: &mut EG,
        rewrite: &egg::Rewrite<ENode, ShapeAnalysis>,
        matches: Vec<egg::SearchMatches<ENode>>,
    ) -> usize {
        let mut applied = 0;
        for m in matches {
            for chunk in m.substs.chunks(GUARD_CHUNK) {
                if egraph.total_size() >= self.limit {
                    self.hit.set(true);
                    return applied;
                }
                let part = egg::SearchMatches {
                    eclass: m.eclass,
                    substs: chunk.to_vec(),
                    ast: m.ast.clone(),
                };
                applied += rewrite.apply(egraph, std::slice::from_ref(&part)).len();
            }
        }
        applied
    }
}

/// Builds the output graph from the extraction: leaves first, then each chosen
/// class once in depth-first post-order from the roots, then names and roots.
fn rebuild(
    joint: &Graph,
    egraph: &EG,
    classes: &[Id],
    roots: &[Id],
    choice: &BTreeMap<Id, ENode>,
) -> Result<Graph, IrError> {
    let mut out = Graph::new(joint.dtype());
    let mut emitted: HashMap<Id, NodeId> = HashMap::new();
    for &i in joint.inputs() {
        let id = out.add_input(joint.name(i).unwrap_or(""), joint.shape(i).clone());
        emitted.entry(classes[i.index()]).or_insert(id);
    }
    for &p in joint.params() {
        let id = out.add_param(joint.name(p).unwrap_or(""), joint.shape(p).clone());
        emitted.entry(classes[p.index()]).or_insert(id);
    }

    for &root in roots {
        let mut stack = vec![(root, false)];
        while let Some((c, expanded)) = stack.pop() {
            if emitted.contains_key(&c) {
                continue;
            }
            let n = choice
                .get(&c)
                .ok_or_else(|| IrError::new(format!("optimizer: e-class {c} was not extracted")))?;
            if !expanded {
                stack.push((c, true));
                // Reversed so the first argument is emitted first.
                for ch in n.children.iter().rev() {
                    let ch = egraph.find(*ch);
                    if !emitted.contains_key(&ch) {
                        stack.push((ch, false));
                    }
                }
                continue;
            }
            let args =
                n.children
                    .iter()
                    .map(|ch| {
                        emitted.get(&egraph.find(*ch)).copied().ok_or_else(|| {
                            IrError::new("optimizer: argument emitted after its user")
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
            if matches!(n.op, Op::Input(_) | Op::Param(_)) {
                return Err(IrError::new(
                    "optimizer: an argument leaf was not emitted first",
                ));
            }
            let shape: Shape = egraph[c].data.shape.clone();
            let id = out.push(n.op.clone(), args, shape, None);
            emitted.insert(c, id);
        }
    }

    // Forward names come first in the joint graph, so they win over adjoint names.
    for n in joint.node_ids() {
        if let (Some(name), Some(&id)) = (joint.name(n), emitted.get(&classes[n.index()])) {
            if out.name(id).is_none() {
                out.set_name(id, name);
            }
        }
        // Provenance travels like names: the first joint node of a class wins.
        if let (Some(o), Some(&id)) = (joint.origin(n), emitted.get(&classes[n.index()])) {
            if out.origin(id).is_none() {
                out.set_origin(id, o.clone());
            }
        }
    }
    for (r, c) in joint.roots().iter().zip(roots) {
        out.add_root(r.name.clone(), emitted[c]);
    }
    Ok(out)
}
