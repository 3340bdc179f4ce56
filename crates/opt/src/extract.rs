//! DAG-aware extraction: choose one e-node per needed e-class so that the graph
//! built from the choices, with every class computed once, is cheap.
//!
//! egg's `Extractor` minimises tree cost, charging a shared class once per use,
//! so it would rather recompute a cheap expression than reuse a value. Here the
//! cost of choosing a node is its own cost plus the own costs of the *distinct*
//! classes below it (a cost set per class, refined to a fixed point, as in
//! greedy DAG extraction). Greedy choices can in rare cases form a cycle; then,
//! and whenever it is cheaper as a DAG, the tree-cost choice of egg's extractor
//! (always acyclic) is used instead. Ties go to an e-node of the input graph,
//! then to the smallest e-node in `Ord` order (op, then children), so the
//! result is deterministic. A bounded local search (`improve`) then switches
//! single classes to other e-nodes while that lowers the cost of the whole DAG,
//! which catches the sharing a per-class cost set cannot see.

use crate::analysis::EG;
use crate::cost::op_cost;
use crate::lang::ENode;
use egg::{CostFunction, Extractor, Id, Language};
use gradc_ir::{DType, IrError, Shape};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::rc::Rc;

/// Own cost of an e-node, by [`op_cost`]: flops and bytes of the real shapes.
/// Leaves are free, and a class is paid once however many users it has, so
/// reusing a forward value costs nothing.
pub fn node_cost(egraph: &EG, class: Id, n: &ENode) -> u64 {
    let args: Vec<&Shape> = n.children.iter().map(|c| &egraph[*c].data.shape).collect();
    let dtype = egraph.analysis.dtype.unwrap_or(DType::F64);
    op_cost(&n.op, &args, &egraph[class].data.shape, dtype)
}

/// A cost set: (class index, own cost of its chosen node), sorted by index.
type CostSet = Rc<Vec<(usize, u64)>>;

/// What a choice minimises: DAG cost, then not being a preferred e-node.
type Key = (u64, bool);

fn merge(a: &[(usize, u64)], b: &[(usize, u64)]) -> Vec<(usize, u64)> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => {
                out.push(a[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(b[j]);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

/// The chosen e-node for every class reachable from `roots` (canonical ids).
///
/// `preferred` holds e-nodes (canonical) that win ties against other e-nodes
/// of equal cost: the optimizer passes the input graph's own nodes, so an
/// unchanged expression keeps its written operand order.
pub fn extract(
    egraph: &EG,
    roots: &[Id],
    preferred: &HashSet<ENode>,
) -> Result<BTreeMap<Id, ENode>, IrError> {
    let greedy = greedy_dag(egraph, preferred);
    let tree = tree_choice(egraph);
    let greedy_reach = reachable(egraph, roots, &greedy).ok();
    let tree_reach = reachable(egraph, roots, &tree)?;
    let mut choice = match greedy_reach {
        Some(g) if dag_cost(egraph, &g) <= dag_cost(egraph, &tree_reach) => greedy,
        _ => tree,
    };
    improve(egraph, roots, &mut choice);
    reachable(egraph, roots, &choice)
}

/// Upper bound on the classes visited while [`improve`] evaluates moves: a
/// count, not a time, so the result does not depend on the machine.
const IMPROVE_BUDGET: usize = 400_000;

/// Local search on the whole DAG: switch one class to another of its e-nodes
/// whenever that strictly lowers the DAG cost of everything the roots need.
///
/// Greedy cost sets judge each class alone, so two roots may pick two forms
/// of the same value (`δ` for one gradient, `−δ` via a subtraction for the
/// other) where one shared form is cheaper; a single switch sees the sharing.
/// Classes and e-nodes are tried in sorted order, so the result is deterministic.
fn improve(egraph: &EG, roots: &[Id], choice: &mut HashMap<Id, ENode>) {
    let Ok(start) = reachable(egraph, roots, choice) else {
        return;
    };
    let mut best = dag_cost(egraph, &start);
    let mut budget = IMPROVE_BUDGET;
    for _round in 0..8 {
        let mut improved = false;
        let classes: Vec<Id> = match reachable(egraph, roots, choice) {
            Ok(r) => r.into_keys().collect(),
            Err(_) => return,
        };
        for class in classes {
            for node in sorted_nodes(egraph, class) {
                if choice.get(&class) == Some(node) {
                    continue;
                }
                if node
                    .children()
                    .iter()
                    .any(|c| !choice.contains_key(&egraph.find(*c)))
                {
                    continue;
                }
                let Some(old) = choice.insert(class, node.clone()) else {
                    continue;
                };
                let trial = reachable(egraph, roots, choice);
                budget = budget.saturating_sub(trial.as_ref().map_or(1, |r| r.len()));
                match trial {
                    Ok(r) if dag_cost(egraph, &r) < best => {
                        best = dag_cost(egraph, &r);
                        improved = true;
                    }
                    _ => {
                        choice.insert(class, old);
                    }
                }
                if budget == 0 {
                    return;
                }
            }
        }
        if !improved {
            return;
        }
    }
}

/// Sum of own costs, each chosen class once.
pub fn dag_cost(egraph: &EG, choice: &BTreeMap<Id, ENode>) -> u64 {
    choice.iter().map(|(c, n)| node_cost(egraph, *c, n)).sum()
}

fn sorted_classes(egraph: &EG) -> Vec<Id> {
    let mut ids: Vec<Id> = egraph.classes().map(|c| c.id).collect();
    ids.sort();
    ids
}

fn sorted_nodes(egraph: &EG, class: Id) -> Vec<&ENode> {
    let mut nodes: Vec<&ENode> = egraph[class].nodes.iter().collect();
    nodes.sort();
    nodes
}

fn greedy_dag(egraph: &EG, preferred: &HashSet<ENode>) -> HashMap<Id, ENode> {
    let classes = sorted_classes(egraph);
    let index: HashMap<Id, usize> = classes.iter().enumerate().map(|(i, c)| (*c, i)).collect();
    // Every e-node once, as (class index, node), and for each class the e-nodes using it.
    let mut nodes: Vec<(usize, &ENode)> = Vec::new();
    for (i, &class) in classes.iter().enumerate() {
        nodes.extend(sorted_nodes(egraph, class).into_iter().map(|n| (i, n)));
    }
    let mut users: Vec<Vec<usize>> = vec![Vec::new(); classes.len()];
    for (k, (_, n)) in nodes.iter().enumerate() {
        for c in n.children() {
            users[index[&egraph.find(*c)]].push(k);
        }
    }
    for u in &mut users {
        u.dedup();
    }

    let mut best: Vec<Option<(Key, CostSet, ENode)>> = vec![None; classes.len()];
    // Worklist in a fixed order: all e-nodes, then the users of every class whose
    // choice improved. Keys only decrease, so this terminates; the budget bounds
    // pathological cases (the result is then merely less optimal).
    let mut queue: VecDeque<usize> = (0..nodes.len()).collect();
    let mut queued = vec![true; nodes.len()];
    let mut budget = 64 * nodes.len().max(1);
    while let Some(k) = queue.pop_front() {
        queued[k] = false;
        budget -= 1;
        if budget == 0 {
            break;
        }
        let (i, n) = nodes[k];
        let mut set: Vec<(usize, u64)> = vec![(i, node_cost(egraph, classes[i], n))];
        let mut ok = true;
        for c in n.children() {
            match &best[index[&egraph.find(*c)]] {
                Some((_, s, _)) => set = merge(&set, s),
                None => {
                    ok = false;
                    break;
                }
            }
        }
        // A child set holding this class means a cycle through it.
        if !ok || child_contains(i, n, egraph, &index, &best) {
            continue;
        }
        let total: u64 = set.iter().map(|(_, c)| c).sum();
        let key = (total, !preferred.contains(n));
        if best[i].as_ref().is_none_or(|(old, _, _)| key < *old) {
            best[i] = Some((key, Rc::new(set), n.clone()));
            for &u in &users[i] {
                if !queued[u] {
                    queued[u] = true;
                    queue.push_back(u);
                }
            }
        }
    }
    classes
        .iter()
        .zip(best)
        .filter_map(|(c, b)| b.map(|(_, _, n)| (*c, n)))
        .collect()
}

/// Whether class `i` is a child of `n` or in a child's cost set (a cycle).
fn child_contains(
    i: usize,
    n: &ENode,
    egraph: &EG,
    index: &HashMap<Id, usize>,
    best: &[Option<(Key, CostSet, ENode)>],
) -> bool {
    n.children().iter().any(|c| {
        let ci = index[&egraph.find(*c)];
        ci == i
            || best[ci]
                .as_ref()
                .is_some_and(|(_, s, _)| s.binary_search_by_key(&i, |(k, _)| *k).is_ok())
    })
}

struct TreeCost<'a> {
    egraph: &'a EG,
}

impl CostFunction<ENode> for TreeCost<'_> {
    type Cost = u64;

    fn cost<C: FnMut(Id) -> u64>(&mut self, enode: &ENode, mut costs: C) -> u64 {
        // egg passes e-nodes with canonical children but not their class, so
        // take the shape from any child; the output shape needs the class, which
        // we find through the hash-cons (the node is in the e-graph).
        let own = match self.egraph.lookup(enode.clone()) {
            Some(class) => node_cost(self.egraph, class, enode),
            None => 1,
        };
        enode
            .children()
            .iter()
            .fold(own, |acc, c| acc.saturating_add(costs(*c)))
    }
}

fn tree_choice(egraph: &EG) -> HashMap<Id, ENode> {
    let ex = Extractor::new(egraph, TreeCost { egraph });
    sorted_classes(egraph)
        .into_iter()
        .map(|c| (c, ex.find_best_node(c).clone()))
        .collect()
}

/// The choices needed by `roots`, or an error if they form a cycle.
fn reachable(
    egraph: &EG,
    roots: &[Id],
    choice: &HashMap<Id, ENode>,
) -> Result<BTreeMap<Id, ENode>, IrError> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    let mut marks: HashMap<Id, Mark> = HashMap::new();
    let mut out = BTreeMap::new();
    for &root in roots {
        let root = egraph.find(root);
        // (class, whether its children have been pushed)
        let mut stack = vec![(root, false)];
        while let Some((c, expanded)) = stack.pop() {
            if expanded {
                marks.insert(c, Mark::Done);
                continue;
            }
            match marks.get(&c) {
                Some(Mark::Done) => continue,
                Some(Mark::Open) => {
                    return Err(IrError::new("optimizer: extraction chose a cycle"))
                }
                None => {}
            }
            let Some(n) = choice.get(&c) else {
                return Err(IrError::new(format!(
                    "optimizer: no finite-cost term for e-class {c}"
                )));
            };
            marks.insert(c, Mark::Open);
            out.insert(c, n.clone());
            stack.push((c, true));
            for ch in n.children() {
                let ch = egraph.find(*ch);
                match marks.get(&ch) {
                    Some(Mark::Done) => {}
                    Some(Mark::Open) => {
                        return Err(IrError::new("optimizer: extraction chose a cycle"))
                    }
                    None => stack.push((ch, false)),
                }
            }
        }
    }
    Ok(out)
}
