//! Test data for the optimizer's tests, and the IR's tape interpreter as the
//! evaluator that compares graphs before and after optimization.

#![allow(dead_code)]

use gradc_ir::interp::evaluate;
use gradc_ir::{Graph, NodeId, Op, Shape};

/// A tensor: its shape and its row-major data.
#[derive(Clone, Debug, PartialEq)]
pub struct T {
    pub shape: Shape,
    pub data: Vec<f64>,
}

/// Values of the roots of `g`, with the roots' shapes, by `gradc_ir::interp`.
pub fn eval(g: &Graph, inputs: &[T], params: &[T]) -> Vec<T> {
    fn slices(ts: &[T]) -> Vec<&[f64]> {
        ts.iter().map(|t| t.data.as_slice()).collect()
    }
    let values = evaluate::<f64>(g, &slices(inputs), &slices(params))
        .unwrap_or_else(|e| panic!("interpreter: {e}\n{g}"));
    g.roots()
        .iter()
        .zip(values)
        .map(|(r, data)| T {
            shape: g.shape(r.node).clone(),
            data,
        })
        .collect()
}

/// Deterministic values in (-2, 2) for every argument of `g`.
pub fn args_for(g: &Graph, seed: u64) -> (Vec<T>, Vec<T>) {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 11) as f64 / (1u64 << 53) as f64) * 4.0 - 2.0
    };
    let mut make = |ids: &[NodeId]| {
        ids.iter()
            .map(|id| {
                let shape = g.shape(*id).clone();
                let data = (0..shape.numel()).map(|_| next()).collect();
                T { shape, data }
            })
            .collect::<Vec<T>>()
    };
    let inputs = make(g.inputs());
    let params = make(g.params());
    (inputs, params)
}

/// Number of live nodes with the given op.
pub fn count_op(g: &Graph, op: &Op) -> usize {
    let live = g.live();
    g.node_ids()
        .filter(|id| live[id.index()] && g.op(*id) == op)
        .count()
}
