//! Lowering: the code of one node. [`Emitter::node`] picks it with a `match`
//! over [`Op`]; leaves, constants and ops that only alias their operand are
//! handled there, the others in a file per op kind:
//! [`elementwise`], [`matmul`], [`shape`] (transpose, one_hot, concat,
//! slice_last), [`reduce`] (the sums) and [`rows`] (logsumexp, softmax,
//! log_softmax, max_last, max_mask).

mod elementwise;
mod matmul;
mod reduce;
mod rows;
mod shape;

use super::loops::lit;
use super::{err, Emitter, Val};
use crate::expr::{self, E};
use gradc_ir::{Extent, IrError, NodeId, Op, RowOp};
use proc_macro2::Ident;
use quote::quote;

impl<'g> Emitter<'g> {
    pub(super) fn node(&mut self, id: NodeId, leaf: Option<(Ident, Ident)>) -> Result<(), IrError> {
        let g = self.g;
        let args = g.args(id);
        match g.op(id) {
            Op::Input(_) | Op::Param(_) => {
                let Some((field, name)) = leaf else {
                    return err(format!("leaf {id} was not named"));
                };
                let src = if matches!(g.op(id), Op::Param(_)) {
                    self.uses_params = true;
                    quote!(params)
                } else {
                    self.uses_inputs = true;
                    quote!(inputs)
                };
                let (t, rank) = (self.elem.clone(), self.shape(id).rank());
                if rank == 0 {
                    self.def_value(&name, t.clone());
                    self.stmts.push(quote!(let #name: #t = #src.#field;));
                    self.vals[id.index()] = Some(Val::Scalar(E::atom(quote!(#name))));
                } else {
                    let view = if rank == 1 {
                        quote!(&#src.#field[..])
                    } else {
                        (1..rank).fold(quote!(#src.#field), |p, _| quote!(#p.as_flattened()))
                    };
                    self.def_place(&name, Some(quote!(&[#t])), view.clone());
                    self.stmts.push(quote!(let #name: &[#t] = #view;));
                    self.vals[id.index()] = Some(Val::Tensor { name, owned: false });
                }
            }
            Op::Const(c) => {
                self.vals[id.index()] = Some(Val::Scalar(expr::float(c.value(), self.dtype)?));
            }
            Op::Count(n) => {
                let e = match Extent::of(*n) {
                    Extent::Fixed(n) => expr::float(n as f64, self.dtype)?,
                    Extent::Batch(1) => {
                        let t = &self.elem;
                        E::atom(quote!((B as #t)))
                    }
                    Extent::Batch(_) => {
                        let (n, t) = (lit(*n), &self.elem);
                        E::atom(quote!(((#n) as #t)))
                    }
                };
                self.vals[id.index()] = Some(Val::Scalar(e));
            }
            op @ (Op::Unary(_) | Op::Binary(_)) => {
                if self.fused[id.index()] {
                    self.vals[id.index()] = Some(Val::Fused);
                } else {
                    let op = op.clone();
                    let inner = args.iter().any(|a| self.fused[a.index()]);
                    self.stored_elementwise(id, &op, inner)?;
                }
            }
            Op::OneHot(c) => self.one_hot(id, args[0], *c)?,
            Op::MatMul { ta, tb } => self.matmul(id, args[0], args[1], *ta, *tb)?,
            Op::Transpose => self.transpose(id, args[0])?,
            Op::Reshape(_) => {
                let x = args[0];
                match (self.shape(x).is_scalar(), self.shape(id).is_scalar()) {
                    // Same elements in the same order: the buffer is reused as is.
                    (true, true) | (false, false) => self.alias(id, x)?,
                    (false, true) => {
                        let e = self.read(x, &quote!(0))?;
                        self.new_scalar(id, e);
                    }
                    (true, false) => {
                        let e = self.read(x, &quote!(0))?.ts;
                        let y = self.new_buffer(id);
                        self.stmts.push(quote!(#y[0] = #e;));
                    }
                }
            }
            Op::BroadcastTo(s) => {
                if s == self.shape(args[0]) {
                    self.alias(id, args[0])?;
                } else if self.fused[id.index()] {
                    self.vals[id.index()] = Some(Val::Fused);
                } else {
                    self.elementwise(id, |_, v| Ok(v[0].clone()))?;
                }
            }
            Op::SumTo(s) => {
                let x = args[0];
                if s == self.shape(x) {
                    self.alias(id, x)?;
                } else if s.is_scalar() {
                    self.sum_all(id, x)?;
                } else {
                    self.sum_to(id, x)?;
                }
            }
            Op::Sum => {
                if self.shape(args[0]).is_scalar() {
                    self.alias(id, args[0])?;
                } else {
                    self.sum_all(id, args[0])?;
                }
            }
            Op::Row(RowOp::SumLast) => self.sum_last(id, args[0])?,
            // Already computed by the `logsumexp` of its operand.
            Op::Row(RowOp::Softmax) if self.vals[id.index()].is_some() => {}
            Op::Row(r @ (RowOp::LogSumExp | RowOp::Softmax | RowOp::LogSoftmax)) => {
                self.rowwise(id, args[0], *r)?;
            }
            Op::Row(r @ (RowOp::MaxLast | RowOp::MaxMask)) => self.row_max(id, args[0], *r)?,
            Op::Concat => self.concat(id, args[0], args[1])?,
            Op::SliceLast { start, len } => self.slice_last(id, args[0], *start, *len)?,
            Op::Index(i) => self.index(id, args[0], *i)?,
            Op::Stack { at, .. } => self.stack(id, args, at)?,
        }
        Ok(())
    }
}
