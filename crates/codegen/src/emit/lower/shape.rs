//! Ops that lay elements out anew: `transpose`, `one_hot` (a label to a row
//! of 0/1), and the slices of stacked layers: `index` (read in place) and
//! `stack` (its adjoint, assembled slice by slice); `concat` along the last
//! axis and its adjoint `slice_last`, plain row-by-row copies.

use crate::emit::loops::{index_of, lit, loop_vars, nest};
use crate::emit::{err, Direct, Emitter, Val};
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

    /// `x[i]` along the first axis: a borrowed sub-slice, no copy.
    pub(super) fn index(&mut self, id: NodeId, x: NodeId, i: usize) -> Result<(), IrError> {
        let n = self.shape(id).numel();
        if self.shape(id).is_scalar() {
            let e = self.read(x, &lit(i))?;
            self.new_scalar(id, e);
            return Ok(());
        }
        let xs = self.slice_ref(x)?;
        let (from, to) = (lit(i * n), lit((i + 1) * n));
        let y = self.local(id);
        let t = self.elem.clone();
        self.def_place(&y, Some(quote!(&[#t])), quote!(&#xs[#from..#to]));
        self.stmts.push(quote!(let #y: &[#t] = &#xs[#from..#to];));
        // The slice borrows `x`'s buffer: it stays busy while the slice is read.
        self.keep_busy(x, id)?;
        self.vals[id.index()] = Some(Val::Tensor {
            name: y,
            owned: false,
        });
        Ok(())
    }

    /// Slices `at[k]` from argument `k`, zeros elsewhere (only if some slice
    /// has no argument).
    pub(super) fn stack(
        &mut self,
        id: NodeId,
        args: &[NodeId],
        at: &[usize],
    ) -> Result<(), IrError> {
        let len = self.shape(id).dims().first().copied().unwrap_or(1);
        let n = self.shape(id).numel() / len.max(1);
        // Slices computed in place in their range of this field (see
        // `direct_slices`; an argument that is another parameter's gradient,
        // in its own field, is still copied).
        let written = |em: &Self, a: NodeId| {
            em.in_grads[a.index()]
                && matches!(em.direct[a.index()], Some(Direct { range: Some(_), .. }))
        };
        if self.direct[id.index()].is_some()
            && at.len() == len
            && args.iter().all(|&a| written(self, a))
        {
            self.in_grads[id.index()] = true;
            let y = self.local(id);
            self.vals[id.index()] = Some(Val::Tensor {
                name: y,
                owned: false,
            });
            return Ok(());
        }
        let y = self.new_buffer_for(id, at.len() == len);
        for (&a, &j) in args.iter().zip(at) {
            if written(self, a) {
                continue;
            }
            let (from, to) = (lit(j * n), lit((j + 1) * n));
            if self.shape(a).is_scalar() {
                let e = self.read(a, &quote!(0))?.ts;
                self.stmts.push(quote!(#y[#from] = #e;));
            } else {
                let src = self.slice_ref(a)?;
                self.stmts
                    .push(quote!(#y[#from..#to].copy_from_slice(#src);));
            }
        }
        Ok(())
    }

    /// `y[i, ..na] = a[i, ..]`, `y[i, na..] = b[i, ..]` row by row.
    pub(super) fn concat(&mut self, id: NodeId, a: NodeId, b: NodeId) -> Result<(), IrError> {
        let last = |s: &gradc_ir::Shape| s.last().unwrap_or(1);
        let (na, nb, n) = (
            last(self.shape(a)),
            last(self.shape(b)),
            last(self.shape(id)),
        );
        let r = self.shape(id).numel() / n.max(1);
        let y = self.new_buffer_for(id, true);
        for (x, w, off) in [(a, na, 0), (b, nb, na)] {
            let vars = loop_vars(&[r, w]);
            let xe = self.read(x, &index_of(&vars, &[w, 1]))?.ts;
            let yi = index_of(&vars, &[n, 1]);
            let body = if off == 0 {
                quote!(#y[#yi] = #xe;)
            } else {
                let off = lit(off);
                quote!(#y[#yi + #off] = #xe;)
            };
            self.stmts.push(nest(&vars, &[r, w], body));
        }
        Ok(())
    }

    /// `y[i, j] = x[i, start + j]` row by row.
    pub(super) fn slice_last(
        &mut self,
        id: NodeId,
        x: NodeId,
        start: usize,
        len: usize,
    ) -> Result<(), IrError> {
        let n = self.shape(x).last().unwrap_or(1);
        let r = self.shape(id).numel() / len.max(1);
        let vars = loop_vars(&[r, len]);
        let xi = index_of(&vars, &[n, 1]);
        let xi = if start == 0 {
            xi
        } else {
            let s = lit(start);
            quote!(#xi + #s)
        };
        let xe = self.read(x, &xi)?.ts;
        let yi = index_of(&vars, &[len, 1]);
        let y = self.new_buffer_for(id, true);
        self.stmts
            .push(nest(&vars, &[r, len], quote!(#y[#yi] = #xe;)));
        Ok(())
    }
}
