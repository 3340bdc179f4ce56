//! Sums: `sum` (all elements), `sum_to` (over broadcast axes) and
//! `sum_last` (over the last axis). Each starts from the first element rather
//! than a zeroed accumulator where its loops allow (see `loops::peel`).

use crate::emit::loops::{index_of, lit, loop_vars, nest, peel};
use crate::emit::{Emitter, Val};
use crate::expr::E;
use crate::names;
use gradc_ir::{IrError, NodeId};
use quote::quote;

impl<'g> Emitter<'g> {
    /// Sum of every element into a scalar local.
    pub(super) fn sum_all(&mut self, id: NodeId, x: NodeId) -> Result<(), IrError> {
        let numel = self.shape(x).numel();
        if numel == 1 {
            let e = self.read(x, &quote!(0))?;
            self.new_scalar(id, e);
            return Ok(());
        }
        // Starts from the first element: no `0.0 +` (see `peel`).
        let x0 = self.read(x, &quote!(0))?.ts;
        let i = names::loop_var(0);
        let xe = self.read(x, &quote!(#i))?.ts;
        let y = self.local(id);
        let (t, n) = (self.elem.clone(), lit(numel));
        self.def_value(&y, t.clone());
        self.stmts.push(quote!(let mut #y: #t = #x0;));
        self.stmts.push(quote!(for #i in 1..#n { #y += #xe; }));
        self.vals[id.index()] = Some(Val::Scalar(E::atom(quote!(#y))));
        Ok(())
    }

    /// Sum over the axes that broadcasting the result's shape to the operand's adds.
    pub(super) fn sum_to(&mut self, id: NodeId, x: NodeId) -> Result<(), IrError> {
        let (xs, s) = (self.shape(x), self.shape(id));
        let vars = loop_vars(xs.dims());
        let (xst, yst) = (xs.strides(), s.broadcast_strides(xs));
        // One reduced axis, outermost of the loops (a bias gradient's batch
        // axis): it starts with an assignment (see `peel`).
        let looped: Vec<usize> = (0..vars.len()).filter(|&d| vars[d].is_some()).collect();
        let reduced: Vec<usize> = looped.iter().copied().filter(|&d| yst[d] == 0).collect();
        if let ([axis], Some(&outer)) = (&reduced[..], looped.first()) {
            if *axis == outer {
                let y = self.new_buffer_for(id, true);
                let code = peel(&vars, xs.dims(), *axis, |vs, first| {
                    let xe = self.read(x, &index_of(vs, &xst))?.ts;
                    let yi = index_of(vs, &yst);
                    Ok(if first {
                        quote!(#y[#yi] = #xe;)
                    } else {
                        quote!(#y[#yi] += #xe;)
                    })
                })?;
                self.stmts.push(code);
                return Ok(());
            }
        }
        let xi = index_of(&vars, &xst);
        let xe = self.read(x, &xi)?.ts;
        let yi = index_of(&vars, &yst);
        let y = self.new_buffer(id);
        self.stmts
            .push(nest(&vars, xs.dims(), quote!(#y[#yi] += #xe;)));
        Ok(())
    }

    pub(super) fn sum_last(&mut self, id: NodeId, x: NodeId) -> Result<(), IrError> {
        let (r, c) = self.rows_cols(x);
        if c == 1 || self.shape(x).is_scalar() {
            return self.alias(id, x);
        }
        let vars = loop_vars(&[r, c]);
        let y = self.new_buffer_for(id, true);
        let code = peel(&vars, &[r, c], 1, |vs, first| {
            let xe = self.read(x, &index_of(vs, &[c, 1]))?.ts;
            let yi = index_of(vs, &[1, 0]);
            Ok(if first {
                quote!(#y[#yi] = #xe;)
            } else {
                quote!(#y[#yi] += #xe;)
            })
        })?;
        self.stmts.push(code);
        Ok(())
    }
}
