//! Provenance: where a node came from in the user's source, so readable generated
//! code and the CLI can tie each statement back to a source line and, for
//! backward nodes, to the chain-rule term it computes.
//!
//! Provenance is side data of a [`Graph`](crate::Graph): it never changes what a
//! graph computes, is not part of the text form, and passes carry it over the way
//! they carry names.

use std::fmt;

/// The source statement a node was lowered from, and for an adjoint node the
/// chain-rule term it belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Origin {
    /// Index of the statement in the function body (0 = the first statement).
    /// The CLI maps it to a file line; the macro has no reliable line numbers.
    pub stmt: usize,
    /// The statement as written, formatted on one line: `let h = relu(x.matmul(w1) + c);`.
    pub source: String,
    /// For adjoint nodes: the chain-rule term, e.g. `dL/dh = dL/dyhat · w2ᵀ`.
    pub term: Option<String>,
}

impl Origin {
    /// The origin of a forward node.
    pub fn forward(stmt: usize, source: impl Into<String>) -> Self {
        Origin {
            stmt,
            source: source.into(),
            term: None,
        }
    }

    /// The same statement, for an adjoint node computing `term`.
    pub fn with_term(&self, term: impl Into<String>) -> Self {
        Origin {
            term: Some(term.into()),
            ..self.clone()
        }
    }

    /// Whether this node belongs to the backward pass.
    pub fn is_backward(&self) -> bool {
        self.term.is_some()
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.term {
            Some(t) => write!(f, "{t}    (from `{}`)", self.source),
            None => f.write_str(&self.source),
        }
    }
}

impl crate::Graph {
    /// Where node `id` came from, if a pass recorded it.
    pub fn origin(&self, id: crate::NodeId) -> Option<&Origin> {
        self.origins.get(&id)
    }

    /// Records where node `id` came from (replacing what was there).
    pub fn set_origin(&mut self, id: crate::NodeId, origin: Origin) {
        self.origins.insert(id, origin);
    }
}
