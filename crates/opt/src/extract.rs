//! DAG-aware extraction: choose one e-node per needed e-class so that the graph
//! built from the choices, with every class computed once, is cheap.
//!
//! egg's `Extractor` minimises tree cost, charging a shared class once per use,
//! so it would rather recompute a cheap expression than reuse a value. Here the
//! cost of choosing a node is its own cost plus the own costs of the *distinct*
//! classes below it (a cost set per class, as in greedy DAG extraction, each
//! class settled once in order of cost). Whenever it is cheaper as a DAG, the
//! tree-cost choice of egg's extractor is used instead. Ties go to an e-node of the input graph,
//! then to the smallest e-node in `Ord` order (op, then children), so the
//! result is deterministic. A bounded local search (`improve`) then switches
//! single classes to other e-nodes while that lowers the cost of the whole DAG,
//! which catches the sharing a per-class cost set cannot see.

use crate::analysis::EG;
use crate::cost::op_cost;
use crate::lang::ENode;
use egg::{CostFunction, Extractor, Id, Language};
use gradc_ir::{DType, IrError, Shape};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};

/// Own cost of an e-node, by [`op_cost`]: flops and bytes of the real shapes.
/// Leaves are free, and a class is paid once however many users it has, so
/// reusing a forward value costs nothing.
pub fn node_cost(egraph: &EG, class: Id, n: &ENode) -> u64 {
    let args: Vec<&Shape> = n.children.iter().map(|c| &egraph[*c].data.shape).collect();
    let dtype = egraph.analysis.dtype.unwrap_or(DType::F64);
    op_cost(&n.op, &args, &egraph[class].data.shape, dtype)
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
/// count, not a time, so the result does not depend on the machine. A move
/// is charged the size of the DAG it would give, as if that DAG were walked
/// anew (it is updated incrementally, see [`Dag`]).
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
    let mut dag = Dag::new(egraph, roots, choice);
    debug_assert_eq!(dag.cost, u128::from(dag_cost(egraph, &start)));
    let mut best = dag.cost;
    let mut budget = IMPROVE_BUDGET;
    for _round in 0..8 {
        let mut improved = false;
        let mut classes: Vec<Id> = dag.count.keys().copied().collect();
        classes.sort();
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
                let Some(old) = choice.get(&class).cloned() else {
                    continue;
                };
                // The DAG stays as it is when the class is no longer needed,
                // and a cycle makes the move invalid (charged 1, as an error).
                let charged = if !dag.count.contains_key(&class) {
                    dag.count.len()
                } else if dag.breaks(egraph, choice, node, class) {
                    1
                } else {
                    choice.insert(class, node.clone());
                    dag.switch(egraph, choice, class, &old, node);
                    let size = dag.count.len();
                    if dag.cost < best {
                        best = dag.cost;
                        improved = true;
                        dag.heights(egraph, choice);
                    } else {
                        dag.switch(egraph, choice, class, node, &old);
                        choice.insert(class, old);
                    }
                    size
                };
                budget = budget.saturating_sub(charged);
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

/// The DAG the roots need under the current choices, kept up to date as
/// [`improve`] switches one class at a time, so a move costs the classes it
/// adds or drops rather than a walk of the whole DAG (quadratic on a deep
/// network).
struct Dag {
    /// Per needed class: how many needed e-nodes (and roots) use it.
    count: HashMap<Id, usize>,
    /// Sum of the needed classes' own costs.
    cost: u128,
    /// Per needed class: the longest path down to a leaf. A class reaches
    /// only classes of smaller height, which rules most cycles out at once.
    height: HashMap<Id, usize>,
}

/// A node's distinct canonical children.
fn kids(egraph: &EG, n: &ENode) -> Vec<Id> {
    let mut k: Vec<Id> = n.children().iter().map(|c| egraph.find(*c)).collect();
    k.sort_unstable();
    k.dedup();
    k
}

impl Dag {
    fn new(egraph: &EG, roots: &[Id], choice: &HashMap<Id, ENode>) -> Self {
        let mut dag = Dag {
            count: HashMap::new(),
            cost: 0,
            height: HashMap::new(),
        };
        for &r in roots {
            dag.add(egraph, choice, egraph.find(r));
        }
        dag.heights(egraph, choice);
        dag
    }

    /// One more use of `class`; a newly needed class brings its choice's children.
    fn add(&mut self, egraph: &EG, choice: &HashMap<Id, ENode>, class: Id) {
        let mut stack = vec![class];
        while let Some(c) = stack.pop() {
            let n = self.count.entry(c).or_insert(0);
            *n += 1;
            if *n == 1 {
                let node = &choice[&c];
                self.cost += u128::from(node_cost(egraph, c, node));
                stack.extend(kids(egraph, node));
            }
        }
    }

    /// One use of `class` fewer; a class no longer needed releases its children.
    fn remove(&mut self, egraph: &EG, choice: &HashMap<Id, ENode>, class: Id) {
        let mut stack = vec![class];
        while let Some(c) = stack.pop() {
            let n = self.count.get_mut(&c).expect("a needed class");
            *n -= 1;
            if *n == 0 {
                self.count.remove(&c);
                let node = &choice[&c];
                self.cost -= u128::from(node_cost(egraph, c, node));
                stack.extend(kids(egraph, node));
            }
        }
    }

    /// `class` (needed) now computes `new` instead of `old`; `choice` already
    /// holds `new`.
    fn switch(
        &mut self,
        egraph: &EG,
        choice: &HashMap<Id, ENode>,
        class: Id,
        old: &ENode,
        new: &ENode,
    ) {
        self.cost -= u128::from(node_cost(egraph, class, old));
        self.cost += u128::from(node_cost(egraph, class, new));
        // Add first, so a subtree both use is not dropped and rebuilt.
        for k in kids(egraph, new) {
            self.add(egraph, choice, k);
        }
        for k in kids(egraph, old) {
            self.remove(egraph, choice, k);
        }
    }

    /// Whether choosing `node` for the needed `class` breaks the DAG, as
    /// [`reachable`] would find it: a cycle (through `class` or among classes
    /// it newly needs) or a needed class without a choice.
    fn breaks(&self, egraph: &EG, choice: &HashMap<Id, ENode>, node: &ENode, class: Id) -> bool {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            Open,
            Done,
        }
        let top = self.height[&class];
        // A needed class other than `class` no higher than it cannot reach
        // it, and what it reaches is needed already, so acyclic.
        let safe = |c: Id| c != class && self.height.get(&c).is_some_and(|h| *h <= top);
        let mut marks: HashMap<Id, Mark> = HashMap::new();
        let mut stack: Vec<(Id, bool)> = kids(egraph, node)
            .into_iter()
            .filter(|k| !safe(*k))
            .map(|k| (k, false))
            .collect();
        while let Some((c, expanded)) = stack.pop() {
            if expanded {
                marks.insert(c, Mark::Done);
                continue;
            }
            if c == class {
                return true;
            }
            match marks.get(&c) {
                Some(Mark::Done) => continue,
                Some(Mark::Open) => return true,
                None => {}
            }
            let Some(n) = choice.get(&c) else {
                return true;
            };
            marks.insert(c, Mark::Open);
            stack.push((c, true));
            for k in kids(egraph, n) {
                match marks.get(&k) {
                    Some(Mark::Done) => {}
                    Some(Mark::Open) => return true,
                    None if safe(k) => {}
                    None => stack.push((k, false)),
                }
            }
        }
        false
    }

    /// Heights of the needed classes (the needed choices form a DAG).
    fn heights(&mut self, egraph: &EG, choice: &HashMap<Id, ENode>) {
        self.height.clear();
        let mut classes: Vec<Id> = self.count.keys().copied().collect();
        classes.sort();
        for c in classes {
            let mut stack = vec![(c, false)];
            while let Some((c, expanded)) = stack.pop() {
                if self.height.contains_key(&c) {
                    continue;
                }
                let ks = kids(egraph, &choice[&c]);
                if expanded {
                    let h = ks.iter().map(|k| self.height[k] + 1).max().unwrap_or(0);
                    self.height.insert(c, h);
                } else {
                    stack.push((c, true));
                    stack.extend(
                        ks.into_iter()
                            .filter(|k| !self.height.contains_key(k))
                            .map(|k| (k, false)),
                    );
                }
            }
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

/// A set of class indices, one bit each.
#[derive(Clone)]
struct ClassSet(Vec<u64>);

impl ClassSet {
    fn empty(classes: usize) -> Self {
        ClassSet(vec![0; classes.div_ceil(64)])
    }

    fn insert(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }

    /// Adds `other` and returns the summed `own` cost of the classes it added.
    fn union_cost(&mut self, other: &ClassSet, own: &[u64]) -> u64 {
        let mut added = 0;
        for (w, (a, b)) in self.0.iter_mut().zip(&other.0).enumerate() {
            let mut new = b & !*a;
            *a |= b;
            while new != 0 {
                added += own[w * 64 + new.trailing_zeros() as usize];
                new &= new - 1;
            }
        }
        added
    }
}

/// Greedy DAG extraction, settled in order of cost as in Dijkstra's algorithm.
///
/// The cost of an e-node is its own cost plus the own costs of the distinct
/// classes below it (the union of its children's cost sets). That cost is at
/// least each child's, so taking the cheapest pending candidate first settles
/// every class once, after all of its chosen node's children: no class is
/// re-evaluated when a class below it improves (a fixed-point worklist does
/// that, and costs cubic time on a deep chain of layers), and the choices are
/// acyclic by construction. A candidate keeps its children's sets alive until
/// its class is settled; a set is dropped once every class using it is settled,
/// so a chain of layers holds a few sets at a time.
fn greedy_dag(egraph: &EG, preferred: &HashSet<ENode>) -> HashMap<Id, ENode> {
    let classes = sorted_classes(egraph);
    let index: HashMap<Id, usize> = classes.iter().enumerate().map(|(i, c)| (*c, i)).collect();
    // Every e-node once, as (class index, node), grouped by class in `Ord` order.
    let mut nodes: Vec<(usize, &ENode)> = Vec::new();
    let mut class_nodes: Vec<std::ops::Range<usize>> = Vec::with_capacity(classes.len());
    for (i, &class) in classes.iter().enumerate() {
        let first = nodes.len();
        nodes.extend(sorted_nodes(egraph, class).into_iter().map(|n| (i, n)));
        class_nodes.push(first..nodes.len());
    }
    let kids: Vec<Vec<usize>> = nodes
        .iter()
        .map(|(_, n)| {
            let mut k: Vec<usize> = n
                .children()
                .iter()
                .map(|c| index[&egraph.find(*c)])
                .collect();
            k.sort_unstable();
            k.dedup();
            k
        })
        .collect();
    let mut users: Vec<Vec<usize>> = vec![Vec::new(); classes.len()];
    for (k, ks) in kids.iter().enumerate() {
        for &c in ks {
            users[c].push(k);
        }
    }
    // Per e-node: children not settled yet. Per class: e-nodes of unsettled
    // classes that use it (its set is kept while there are any).
    let mut waiting: Vec<usize> = kids.iter().map(Vec::len).collect();
    let mut pending: Vec<usize> = users.iter().map(Vec::len).collect();
    let own_node: Vec<u64> = nodes
        .iter()
        .map(|(i, n)| node_cost(egraph, classes[*i], n))
        .collect();

    // Per settled class: own cost of its chosen node, DAG cost, cost set.
    let mut own = vec![0u64; classes.len()];
    let mut total = vec![0u64; classes.len()];
    let mut sets: Vec<Option<ClassSet>> = vec![None; classes.len()];
    let mut chosen: Vec<Option<usize>> = vec![None; classes.len()];

    // The cost set of e-node `k`, whose children are all settled (so their sets
    // hold only settled classes, never `k`'s own), and its DAG cost.
    let cost_set = |k: usize, sets: &[Option<ClassSet>], total: &[u64], own: &[u64]| {
        // Start from the costliest child, whose set is likely the largest.
        let first = kids[k].iter().copied().max_by_key(|&c| (total[c], c));
        let (mut set, mut sum) = match first.and_then(|c| sets[c].clone().map(|s| (s, total[c]))) {
            Some(start) => start,
            None => (ClassSet::empty(classes.len()), 0),
        };
        for &c in &kids[k] {
            if Some(c) != first {
                if let Some(s) = &sets[c] {
                    sum += set.union_cost(s, own);
                }
            }
        }
        set.insert(nodes[k].0);
        (set, sum + own_node[k])
    };

    // Candidates by (DAG cost, not preferred, e-node order): ties go to the
    // input graph's e-nodes, then to the smallest e-node.
    let mut heap: BinaryHeap<Reverse<(u64, bool, usize)>> = BinaryHeap::new();
    let key = |k: usize, cost: u64| Reverse((cost, !preferred.contains(nodes[k].1), k));
    for k in (0..nodes.len()).filter(|&k| waiting[k] == 0) {
        heap.push(key(k, own_node[k]));
    }
    while let Some(Reverse((cost, _, k))) = heap.pop() {
        let i = nodes[k].0;
        if chosen[i].is_some() {
            continue;
        }
        let (set, _) = cost_set(k, &sets, &total, &own);
        chosen[i] = Some(k);
        own[i] = own_node[k];
        total[i] = cost;
        if pending[i] > 0 {
            sets[i] = Some(set);
        }
        // This class's e-nodes are done with their children's sets.
        for k2 in class_nodes[i].clone() {
            for &c in &kids[k2] {
                pending[c] -= 1;
                if pending[c] == 0 && chosen[c].is_some() {
                    sets[c] = None;
                }
            }
        }
        for &u in &users[i] {
            waiting[u] -= 1;
            if waiting[u] == 0 && chosen[nodes[u].0].is_none() {
                let (_, cost) = cost_set(u, &sets, &total, &own);
                heap.push(key(u, cost));
            }
        }
    }
    chosen
        .iter()
        .enumerate()
        .filter_map(|(i, k)| k.map(|k| (classes[i], nodes[k].1.clone())))
        .collect()
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
