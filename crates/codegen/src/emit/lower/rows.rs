//! Row-wise ops over the last axis: `logsumexp`, `softmax` and
//! `log_softmax`, each one pass per row from the row maximum (and a
//! `logsumexp` sharing its pass with a later `softmax` of the same operand),
//! and `max_last` / `max_mask`, the row maximum and its first-maximum mask.

use crate::emit::loops::{index, lit, loop_vars, nest};
use crate::emit::{err, Emitter, Val};
use gradc_ir::{DType, IrError, NodeId, RowOp};
use proc_macro2::{Ident, TokenStream};
use quote::quote;

impl<'g> Emitter<'g> {
    /// Rows and columns of an op over the last axis.
    pub(super) fn rows_cols(&self, x: NodeId) -> (usize, usize) {
        let s = self.shape(x);
        let c = s.last().unwrap_or(1);
        (s.numel().checked_div(c).unwrap_or(0), c)
    }

    /// logsumexp / softmax / log_softmax: a loop over rows, each subtracting the
    /// row maximum before `exp` so nothing overflows.
    pub(super) fn rowwise(&mut self, id: NodeId, x: NodeId, op: RowOp) -> Result<(), IrError> {
        let (r, c) = self.rows_cols(x);
        let xn = self.tensor(x)?;
        let vars = loop_vars(&[r, c]);
        let (vi, vj) = (vars[0].clone(), vars[1].clone());
        let row0 = index(&[(&vi, c)]);
        let xij = index(&[(&vi, c), (&vj, 1)]);
        let z = self.zero().ts;
        let max = match &vj {
            Some(j) => {
                let c = lit(c);
                quote! {
                    let mut mx = #xn[#row0];
                    for #j in 1..#c { mx = mx.max(#xn[#xij]); }
                }
            }
            None => quote!(let mx = #xn[#row0];),
        };
        let cols = |body: TokenStream| nest(std::slice::from_ref(&vj), &[c], body);
        // The runtime's exp and ln, the interpreter's too; in f32 the exp is
        // branch-free (≤ 2 ulp), so the row loop vectorises.
        let (exp, ln) = match self.dtype {
            DType::F32 => (quote!(exp_f32), quote!(ln_f32)),
            DType::F64 => (quote!(exp_f64), quote!(ln_f64)),
        };
        let exp = |x: TokenStream| quote!(::gradc::__private::rt::#exp(#x));
        let ln_se = quote!(::gradc::__private::rt::#ln(se));
        let e_ij = exp(quote!(#xn[#xij] - mx));
        let y = self.new_buffer_for(id, true);
        // `logsumexp x` with a later `softmax x`: the exponentials go into the
        // softmax's buffer, summed and normalised in the same row (the same
        // values, in the same order, as two separate passes).
        let with_softmax = match (op, self.softmax_of[x.index()]) {
            (RowOp::LogSumExp, Some(s)) if s > id && self.direct[s.index()].is_none() => Some(s),
            _ => None,
        };
        let body = match op {
            RowOp::LogSumExp if with_softmax.is_some() => {
                let s = with_softmax.unwrap_or(id);
                // Named after the logsumexp and not recorded as the softmax's
                // local, so the comments keep this block in the forward pass.
                let sm = self.names.take(&format!("{y}_softmax"));
                let owned = self.alloc(&sm, r * c, true, s);
                self.vals[s.index()] = Some(Val::Tensor {
                    name: sm.clone(),
                    owned,
                });
                let yi = index(&[(&vi, 1)]);
                if let Some(three) = self.three_pass(r, c, &vi, &vj, &xn, &sm, Some(&y), &max) {
                    self.stmts.push(three);
                    return Ok(());
                }
                let exps = cols(quote!(#sm[#xij] = #e_ij;));
                let sum = cols(quote!(se += #sm[#xij];));
                let scale = cols(quote!(#sm[#xij] /= se;));
                quote! {
                    #max
                    #exps
                    let mut se = #z;
                    #sum
                    #y[#yi] = mx + #ln_se;
                    #scale
                }
            }
            RowOp::LogSumExp => {
                let acc = cols(quote!(se += #e_ij;));
                let yi = index(&[(&vi, 1)]);
                quote! {
                    #max
                    let mut se = #z;
                    #acc
                    #y[#yi] = mx + #ln_se;
                }
            }
            RowOp::Softmax => {
                if let Some(three) = self.three_pass(r, c, &vi, &vj, &xn, &y, None, &max) {
                    self.stmts.push(three);
                    return Ok(());
                }
                // Exponentials in a loop of their own (it vectorises), then the sum.
                let exps = cols(quote!(#y[#xij] = #e_ij;));
                let sum = cols(quote!(se += #y[#xij];));
                let scale = cols(quote!(#y[#xij] /= se;));
                quote! {
                    #max
                    #exps
                    let mut se = #z;
                    #sum
                    #scale
                }
            }
            RowOp::LogSoftmax => {
                let acc = cols(quote!(se += #e_ij;));
                let shift = cols(quote!(#y[#xij] = #xn[#xij] - lse;));
                quote! {
                    #max
                    let mut se = #z;
                    #acc
                    let lse = mx + #ln_se;
                    #shift
                }
            }
            RowOp::SumLast | RowOp::MaxLast | RowOp::MaxMask => {
                return err(format!("`{}` is not a softmax-like row op", op.name()))
            }
        };
        self.stmts.push(match &vi {
            Some(i) => {
                let r = lit(r);
                quote!(for #i in 0..#r { #body })
            }
            None => quote!({ #body }),
        });
        Ok(())
    }

    /// Softmax rows (and their logsumexp `lse`, if given) in three passes:
    /// per row the maximum and `x − mx` into `sm` (`lse` holding `mx`), then
    /// `exp` over all of `sm` in one flat loop, then per row the sum, `lse`
    /// and the division. The same operations on each element as one pass per
    /// row, but a row of 10 is a loop LLVM unrolls into scalar code, where
    /// the flat loop vectorises. `None` without a row or a column loop.
    #[allow(clippy::too_many_arguments)]
    fn three_pass(
        &self,
        r: usize,
        c: usize,
        vi: &Option<Ident>,
        vj: &Option<Ident>,
        xn: &Ident,
        sm: &Ident,
        lse: Option<&Ident>,
        max: &TokenStream,
    ) -> Option<TokenStream> {
        let (Some(i), Some(j)) = (vi, vj) else {
            return None;
        };
        let xij = index(&[(vi, c), (vj, 1)]);
        let cols = |body: TokenStream| nest(std::slice::from_ref(vj), &[c], body);
        let (exp, ln) = match self.dtype {
            DType::F32 => (quote!(exp_f32), quote!(ln_f32)),
            DType::F64 => (quote!(exp_f64), quote!(ln_f64)),
        };
        let z = self.zero().ts;
        let shift = cols(quote!(#sm[#xij] = #xn[#xij] - mx;));
        let sum = cols(quote!(se += #sm[#xij];));
        let scale = cols(quote!(#sm[#xij] /= se;));
        let (keep, add) = match lse {
            Some(y) => (
                quote!(#y[#i] = mx;),
                quote!(#y[#i] = #y[#i] + ::gradc::__private::rt::#ln(se);),
            ),
            None => (quote!(), quote!()),
        };
        let (rl, n) = (lit(r), lit(r * c));
        Some(quote! {
            for #i in 0..#rl {
                #max
                #shift
                #keep
            }
            for #j in 0..#n {
                #sm[#j] = ::gradc::__private::rt::#exp(#sm[#j]);
            }
            for #i in 0..#rl {
                let mut se = #z;
                #sum
                #add
                #scale
            }
        })
    }

    /// `max_last` (the row maximum) or `max_mask` (1 at its first position):
    /// a scan that replaces only on `v > mx`, as the interpreter does, so the
    /// first of equal maxima wins.
    pub(super) fn row_max(&mut self, id: NodeId, x: NodeId, op: RowOp) -> Result<(), IrError> {
        let (r, c) = self.rows_cols(x);
        let xn = self.tensor(x)?;
        let vars = loop_vars(&[r, c]);
        let (vi, vj) = (vars[0].clone(), vars[1].clone());
        let row0 = index(&[(&vi, c)]);
        let xij = index(&[(&vi, c), (&vj, 1)]);
        let track = matches!(op, RowOp::MaxMask);
        let scan = match &vj {
            Some(j) => {
                let c = lit(c);
                let keep = if track {
                    quote!(mx = v; k = #j;)
                } else {
                    quote!(mx = v;)
                };
                quote! {
                    for #j in 1..#c {
                        let v = #xn[#xij];
                        if v > mx { #keep }
                    }
                }
            }
            None => quote!(),
        };
        let y = self.new_buffer_for(id, true);
        let body = match op {
            RowOp::MaxLast => {
                let yi = index(&[(&vi, 1)]);
                quote! {
                    let mut mx = #xn[#row0];
                    #scan
                    #y[#yi] = mx;
                }
            }
            RowOp::MaxMask => {
                let (one, zero) = (self.one().ts, self.zero().ts);
                let hit = match &vj {
                    Some(j) => quote!(if #j == k { #one } else { #zero }),
                    None => quote!(#one),
                };
                let fill = nest(std::slice::from_ref(&vj), &[c], quote!(#y[#xij] = #hit;));
                let init = match &vj {
                    Some(_) => quote!(let mut mx = #xn[#row0]; let mut k = 0usize;),
                    None => quote!(),
                };
                quote! {
                    #init
                    #scan
                    #fill
                }
            }
            RowOp::SumLast | RowOp::LogSumExp | RowOp::Softmax | RowOp::LogSoftmax => {
                return err(format!("`{}` is not a row maximum", op.name()))
            }
        };
        self.stmts.push(match &vi {
            Some(i) => {
                let r = lit(r);
                quote!(for #i in 0..#r { #body })
            }
            None => quote!({ #body }),
        });
        Ok(())
    }
}
