//! Ops that lay elements out anew: `transpose` and `one_hot` (a label to a
//! row of 0/1).

use crate::emit::loops::{index_of, loop_vars, nest};
use crate::emit::{err, Emitter};
use crate::expr::{self, E};
use gradc_ir::{IrError, NodeId};
use quote::quote;

impl<'g> Emitter<'g> {
    /// `y[i * c + j] = if x[i] == j { 1 } else { 0 }`: exact equality, so a
    /// label that is no class index gives a zero row (as in the interpreter).
    pub(super) fn one_hot(&mut self, id: NodeId, x: NodeId, c: usize) -> Result<(), IrError> {
        let n = self.shape(x).numel();
        let vars = loop_vars(&[n, c]);
        let xe = self.read(x, &index_of(&vars[..1], &[1]))?;
        let class = match &vars[1] {
            Some(j) => {
                let t = &self.elem;
                E::atom(quote!((#j as #t)))
            }
            None => self.zero(),
        };
        let hit = expr::if_else(&expr::eq(&xe, &class), &self.one(), &self.zero()).ts;
        let oi = index_of(&vars, &[c, 1]);
        let y = self.new_buffer_for(id, true);
        self.stmts
            .push(nest(&vars, &[n, c], quote!(#y[#oi] = #hit;)));
        Ok(())
    }

    pub(super) fn transpose(&mut self, id: NodeId, x: NodeId) -> Result<(), IrError> {
        let (r, c) = match self.shape(x).dims() {
            [r, c] => (*r, *c),
            _ => return err(format!("transpose node {id} is not 2-D")),
        };
        let xn = self.tensor(x)?;
        let vars = loop_vars(&[c, r]);
        let oi = index_of(&vars, &[r, 1]);
        let xi = index_of(&vars, &[1, c]);
        let y = self.new_buffer_for(id, true);
        self.stmts
            .push(nest(&vars, &[c, r], quote!(#y[#oi] = #xn[#xi];)));
        Ok(())
    }
}
