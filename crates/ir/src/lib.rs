//! Stage 2 of the gradc pipeline: the intermediate representation.
//!
//! A [`Graph`] is a DAG of typed tensor operations ([`Op`]) with static shapes
//! ([`Shape`]), stored on petgraph behind our own [`NodeId`]. Nodes are appended in
//! topological order: a node's arguments always exist before it. The crate also
//! holds the verifier run between passes, the textual s-expression form
//! (`Display` + `FromStr`) and the tape interpreter that serves as the run-time
//! baseline and the oracle for compiled code.
//!
//! Architecture invariant: this crate knows nothing of syn, quote or egg.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod float;
mod graph;
pub mod interp;
mod op;
mod origin;
mod report;
mod shape;
mod text;
mod verify;

pub use float::{elu, gelu, gelu_tanh, normal_cdf, sigmoid, silu, softplus, Float};
pub use graph::{Graph, Node, NodeId, Root};
pub use op::{
    BinaryKernel, BinaryOp, BinaryVjpKernel, Build, Const, DType, Names, Op, RowOp, UnaryKernel,
    UnaryOp, UnaryVjpKernel,
};
pub use origin::Origin;
pub use report::Report;
pub use shape::{
    broadcast_shapes, nominal, parse_extent, Extent, Shape, BATCH, MAX_BYTES, NOMINAL_BATCH,
};
pub use text::ParseError;
pub use verify::{
    verify, verify_forward, verify_gradient_roots, verify_joint, verify_optimized, VerifierError,
    VerifierErrors,
};

use std::fmt;

/// An error raised while building or checking a graph.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IrError {
    /// What went wrong.
    pub message: String,
}

impl IrError {
    /// An error saying `message`.
    pub fn new(message: impl Into<String>) -> Self {
        IrError {
            message: message.into(),
        }
    }
}

impl fmt::Display for IrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for IrError {}
