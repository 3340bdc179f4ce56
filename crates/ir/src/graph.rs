use crate::{DType, IrError, Op, Origin, Shape};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use petgraph::Direction;
use std::fmt;

/// Index of a node in a [`Graph`]. Ids grow in insertion order, which is a
/// topological order: every argument has a smaller id than its user.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(u32);

impl NodeId {
    /// The position of this node in its graph, counting from 0.
    pub fn index(self) -> usize {
        self.0 as usize
    }

    /// The node at position `i` (ids are positions).
    pub fn from_index(i: usize) -> Self {
        NodeId(i as u32)
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "%{}", self.0)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "%{}", self.0)
    }
}

/// One operation with its inferred shape and, where the source gave one, a name.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// What the node computes.
    pub op: Op,
    /// Its operands, each with a smaller id.
    pub args: Vec<NodeId>,
    /// Its inferred shape.
    pub shape: Shape,
    /// Source name (`h`, `yhat`, `d_w1`), used for readable generated code.
    pub name: Option<String>,
}

/// A named output of the graph: the loss, or the gradient of a parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Root {
    /// `loss` or `d_<param>`.
    pub name: String,
    /// The node whose value it is.
    pub node: NodeId,
}

/// The expression graph: a DAG of [`Node`]s on petgraph, plus the argument lists
/// and the roots. Edges run from an argument to its user, weighted by position.
#[derive(Clone, Debug)]
pub struct Graph {
    dtype: DType,
    g: DiGraph<Node, u8, u32>,
    inputs: Vec<NodeId>,
    params: Vec<NodeId>,
    roots: Vec<Root>,
    /// Provenance of nodes that have one (see `origin.rs`); side data only.
    pub(crate) origins: std::collections::BTreeMap<NodeId, Origin>,
}

impl Graph {
    /// An empty graph whose tensors have element type `dtype`.
    pub fn new(dtype: DType) -> Self {
        Graph {
            dtype,
            g: DiGraph::default(),
            inputs: Vec::new(),
            params: Vec::new(),
            roots: Vec::new(),
            origins: Default::default(),
        }
    }

    /// The element type of every tensor.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Adds the next `#[input]` argument.
    pub fn add_input(&mut self, name: &str, shape: Shape) -> NodeId {
        let id = self.push(
            Op::Input(self.inputs.len()),
            Vec::new(),
            shape,
            Some(name.into()),
        );
        self.inputs.push(id);
        id
    }

    /// Adds the next parameter.
    pub fn add_param(&mut self, name: &str, shape: Shape) -> NodeId {
        let id = self.push(
            Op::Param(self.params.len()),
            Vec::new(),
            shape,
            Some(name.into()),
        );
        self.params.push(id);
        id
    }

    /// A scalar constant.
    pub fn constant(&mut self, v: f64) -> NodeId {
        self.push(Op::constant(v), Vec::new(), Shape::scalar(), None)
    }

    /// Appends an operation, checking arity and inferring its shape.
    pub fn add(&mut self, op: Op, args: &[NodeId]) -> Result<NodeId, IrError> {
        if matches!(op, Op::Input(_) | Op::Param(_)) {
            return Err(IrError::new("use add_input / add_param for arguments"));
        }
        for a in args {
            if a.index() >= self.len() {
                return Err(IrError::new(format!("argument {a} does not exist")));
            }
        }
        let shapes: Vec<&Shape> = args.iter().map(|a| self.shape(*a)).collect();
        let shape = op.infer_shape(&shapes)?;
        if shape.bytes(self.dtype().size()).is_none() {
            return Err(IrError::new(format!(
                "this value would have shape {shape}: more than {} bytes, the most any Rust value may take",
                crate::MAX_BYTES
            )));
        }
        Ok(self.push(op, args.to_vec(), shape, None))
    }

    /// Appends a node whose shape the caller already knows; used by passes that
    /// rebuild graphs. The verifier checks it.
    pub fn push(
        &mut self,
        op: Op,
        args: Vec<NodeId>,
        shape: Shape,
        name: Option<String>,
    ) -> NodeId {
        let idx = self.g.add_node(Node {
            op,
            args: args.clone(),
            shape,
            name,
        });
        for (pos, a) in args.iter().enumerate() {
            self.g.add_edge(NodeIndex::new(a.index()), idx, pos as u8);
        }
        NodeId(idx.index() as u32)
    }

    /// Names node `id` (the name generated code uses for it).
    pub fn set_name(&mut self, id: NodeId, name: impl Into<String>) {
        self.g[NodeIndex::new(id.index())].name = Some(name.into());
    }

    /// Adds a named output (the loss or a gradient).
    pub fn add_root(&mut self, name: impl Into<String>, node: NodeId) {
        self.roots.push(Root {
            name: name.into(),
            node,
        });
    }

    /// Node `id`: op, arguments, shape and name.
    pub fn node(&self, id: NodeId) -> &Node {
        &self.g[NodeIndex::new(id.index())]
    }

    /// The op of node `id`.
    pub fn op(&self, id: NodeId) -> &Op {
        &self.node(id).op
    }

    /// The arguments of node `id`.
    pub fn args(&self, id: NodeId) -> &[NodeId] {
        &self.node(id).args
    }

    /// The shape of node `id`.
    pub fn shape(&self, id: NodeId) -> &Shape {
        &self.node(id).shape
    }

    /// The source name of node `id`, if it has one.
    pub fn name(&self, id: NodeId) -> Option<&str> {
        self.node(id).name.as_deref()
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.g.node_count()
    }

    /// Whether the graph has no nodes.
    pub fn is_empty(&self) -> bool {
        self.g.node_count() == 0
    }

    /// All node ids in topological (insertion) order.
    pub fn node_ids(&self) -> impl DoubleEndedIterator<Item = NodeId> + ExactSizeIterator {
        (0..self.len() as u32).map(NodeId)
    }

    /// The `Input(i)` leaves, by `i`.
    pub fn inputs(&self) -> &[NodeId] {
        &self.inputs
    }

    /// The `Param(i)` leaves, by `i`.
    pub fn params(&self) -> &[NodeId] {
        &self.params
    }

    /// The named outputs, in order.
    pub fn roots(&self) -> &[Root] {
        &self.roots
    }

    /// Nodes that use `id`, each once, in id order.
    pub fn users(&self, id: NodeId) -> Vec<NodeId> {
        let mut u: Vec<NodeId> = self
            .g
            .edges_directed(NodeIndex::new(id.index()), Direction::Outgoing)
            .map(|e| NodeId(e.target().index() as u32))
            .collect();
        u.sort();
        u.dedup();
        u
    }

    /// Which nodes some root depends on.
    pub fn live(&self) -> Vec<bool> {
        let mut live = vec![false; self.len()];
        for r in &self.roots {
            live[r.node.index()] = true;
        }
        for id in self.node_ids().rev() {
            if live[id.index()] {
                for a in self.args(id) {
                    live[a.index()] = true;
                }
            }
        }
        live
    }

    /// Operations (non-leaf nodes) that some root depends on.
    pub fn op_count(&self) -> usize {
        let live = self.live();
        self.node_ids()
            .filter(|id| live[id.index()] && !self.op(*id).is_leaf())
            .count()
    }

    /// Whether some shape or count involves the symbolic batch size `B`
    /// ([`crate::BATCH`]): the graph of a `fn net<const B: usize>` network.
    pub fn is_batch_generic(&self) -> bool {
        self.g.node_weights().any(|n| {
            n.shape.is_batch_generic()
                || matches!(n.op, Op::Count(c) if matches!(crate::Extent::of(c), crate::Extent::Batch(_)))
        })
    }

    /// The same graph with the batch size `B` set to `b`: shapes, shape
    /// payloads and counts become concrete (what the interpreter runs). A graph
    /// without `B` comes back unchanged. Errors for `b == 0`.
    pub fn instantiate(&self, b: usize) -> Result<Graph, IrError> {
        if b == 0 {
            return Err(IrError::new("the batch size B must be at least 1"));
        }
        crate::verify(self)?;
        let at = |d: usize| crate::Extent::of(d).at(b);
        let mut out = self.clone();
        for n in out.g.node_weights_mut() {
            n.shape = n.shape.instantiate(b);
            match &mut n.op {
                Op::Reshape(s) | Op::BroadcastTo(s) | Op::SumTo(s) => *s = s.instantiate(b),
                Op::Count(c) => *c = at(*c),
                // No extent in the op itself.
                Op::Input(_)
                | Op::Param(_)
                | Op::Const(_)
                | Op::Unary(_)
                | Op::Binary(_)
                | Op::OneHot(_)
                | Op::MatMul { .. }
                | Op::Transpose
                | Op::Sum
                | Op::Row(_)
                | Op::Index(_)
                | Op::Stack { .. }
                | Op::Concat
                | Op::SliceLast { .. } => {}
            }
        }
        Ok(out)
    }

    /// The part of this graph that `roots` depend on, with those roots: every
    /// parameter (in order, so a network's `Params` still fits), only the
    /// inputs some root reads (renumbered in order), and each kept node's name
    /// and provenance. For predictions: `predict` reads only these inputs.
    pub fn extract(&self, roots: &[(String, NodeId)]) -> Result<Graph, IrError> {
        let mut live = vec![false; self.len()];
        for (_, r) in roots {
            if r.index() >= self.len() {
                return Err(IrError::new(format!("extract: root {r} does not exist")));
            }
            live[r.index()] = true;
        }
        for id in self.node_ids().rev() {
            if live[id.index()] {
                for a in self.args(id) {
                    live[a.index()] = true;
                }
            }
        }
        let mut out = Graph::new(self.dtype);
        let mut map: Vec<Option<NodeId>> = vec![None; self.len()];
        for id in self.node_ids() {
            let n = self.node(id);
            let name = n.name.clone();
            let new = match n.op {
                Op::Param(_) => out.add_param(name.as_deref().unwrap_or("param"), n.shape.clone()),
                _ if !live[id.index()] => continue,
                Op::Input(_) => out.add_input(name.as_deref().unwrap_or("input"), n.shape.clone()),
                _ => {
                    let args = n
                        .args
                        .iter()
                        .map(|a| {
                            map[a.index()].ok_or_else(|| IrError::new("extract: argument not kept"))
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    out.push(n.op.clone(), args, n.shape.clone(), name)
                }
            };
            if let Some(o) = self.origin(id) {
                out.set_origin(new, o.clone());
            }
            map[id.index()] = Some(new);
        }
        for (name, r) in roots {
            let node = map[r.index()].ok_or_else(|| IrError::new("extract: root not kept"))?;
            out.add_root(name.clone(), node);
        }
        crate::verify(&out)?;
        Ok(out)
    }

    /// The underlying petgraph graph, for algorithms and Graphviz output.
    pub fn petgraph(&self) -> &DiGraph<Node, u8, u32> {
        &self.g
    }
}
