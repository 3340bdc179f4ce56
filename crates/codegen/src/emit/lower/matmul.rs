//! Matrix products: small ones as inline i-k-j loops LLVM unrolls, larger
//! ones with a constant width and depth as a call to the runtime's
//! constant-shape kernel (`matmul_small`), the rest as a call to its
//! register-blocked GEMM.

use crate::emit::loops::{index, lit, peel};
use crate::emit::{err, Emitter};
use gradc_ir::{nominal, Extent, IrError, NodeId};
use gradc_runtime::small_fits;
use proc_macro2::Ident;
use quote::quote;

/// Matmuls with at least this many multiply-adds call the register-blocked
/// run-time kernel; smaller ones stay inline loops LLVM unrolls.
const MIN_GEMM_MACS: usize = 2048;

impl<'g> Emitter<'g> {
    /// `op(a) · op(b)` in i-k-j order, reading transposed operands in place.
    pub(super) fn matmul(
        &mut self,
        id: NodeId,
        a: NodeId,
        b: NodeId,
        ta: bool,
        tb: bool,
    ) -> Result<(), IrError> {
        let (m, n) = match self.shape(id).dims() {
            [m, n] => (*m, *n),
            _ => return err(format!("matmul node {id} is not 2-D")),
        };
        let k = match (self.shape(a).dims(), ta) {
            ([_, k], false) | ([k, _], true) => *k,
            _ => return err(format!("matmul node {id}: left operand is not 2-D")),
        };
        let (an, bn) = (self.tensor(a)?, self.tensor(b)?);
        if nominal(m)
            .saturating_mul(nominal(n))
            .saturating_mul(nominal(k))
            >= MIN_GEMM_MACS
        {
            return self.gemm(id, (m, n, k), (a, ta), (b, tb));
        }
        let var = |d: usize, name: &str| {
            (d != 1).then(|| Ident::new(name, proc_macro2::Span::call_site()))
        };
        let vars = [var(m, "i"), var(k, "k"), var(n, "j")];
        let (mn, nn, kn) = (m, n, k);
        let y = self.new_buffer_for(id, true);
        let body = |vs: &[Option<Ident>], first: bool| {
            let (vi, vk, vj) = (&vs[0], &vs[1], &vs[2]);
            let ai = if ta {
                index(&[(vk, mn), (vi, 1)])
            } else {
                index(&[(vi, kn), (vk, 1)])
            };
            let bi = if tb {
                index(&[(vj, kn), (vk, 1)])
            } else {
                index(&[(vk, nn), (vj, 1)])
            };
            let oi = index(&[(vi, nn), (vj, 1)]);
            Ok(if first {
                quote!(#y[#oi] = #an[#ai] * #bn[#bi];)
            } else {
                quote!(#y[#oi] += #an[#ai] * #bn[#bi];)
            })
        };
        let code = peel(&vars, &[m, k, n], 1, body)?;
        self.stmts.push(code);
        Ok(())
    }

    /// A large matmul in one line: `rt::matmul_small::<_, N, K, TA, TB>(m, a,
    /// b, y)` when `N` and `K` are literals it takes (`small_fits`; its twin
    /// `matmul_small_dyn` with debug assertions), `rt::matmul_small_or_gemm`
    /// when `K` is the batch size `B`, else the
    /// register-blocked GEMM, `rt::matmul_tn(m, n, k, a, b, y)`, a transposed
    /// operand being the same buffer read through swapped strides (the
    /// kernel packs its panels anyway), so nothing is copied.
    fn gemm(
        &mut self,
        id: NodeId,
        (m, n, k): (usize, usize, usize),
        (a, ta): (NodeId, bool),
        (b, tb): (NodeId, bool),
    ) -> Result<(), IrError> {
        let f = Ident::new(
            match (ta, tb) {
                (false, false) => "matmul",
                (true, false) => "matmul_tn",
                (false, true) => "matmul_nt",
                (true, true) => "matmul_tt",
            },
            proc_macro2::Span::call_site(),
        );
        let (lm, ln, lk) = (lit(m), lit(n), lit(k));
        let (ar, br) = (self.slice_ref(a)?, self.slice_ref(b)?);
        self.new_buffer_for(id, true);
        let yr = self.slice_mut(id)?;
        let fixed = |d: usize| matches!(Extent::of(d), Extent::Fixed(_));
        if fixed(n) && fixed(k) && small_fits(n, k) {
            // Too small for the GEMM's blocking: the runtime's small-product
            // kernel, bit-identical to the GEMM the interpreter calls. Generic
            // over the shape it compiles at the user's optimisation level, so
            // builds with debug assertions (dev builds) call its twin with the
            // shape as values, compiled in the runtime.
            self.stmts.push(quote! {
                if cfg!(debug_assertions) {
                    ::gradc::__private::rt::matmul_small_dyn(#lm, #ln, #lk, #ta, #tb, #ar, #br, #yr);
                } else {
                    ::gradc::__private::rt::matmul_small::<_, #ln, #lk, #ta, #tb>(#lm, #ar, #br, #yr);
                }
            });
            return Ok(());
        }
        if fixed(n) && matches!(Extent::of(k), Extent::Batch(1)) && small_fits(n, 1) {
            // A depth of `B` (a weight gradient of a const-generic network):
            // the small kernel for every `B` it takes, chosen per
            // instantiation, the GEMM for the others.
            self.stmts.push(quote! {
                if cfg!(debug_assertions) {
                    ::gradc::__private::rt::matmul_small_or_gemm_dyn(#lm, #ln, #lk, #ta, #tb, #ar, #br, #yr);
                } else {
                    ::gradc::__private::rt::matmul_small_or_gemm::<_, #ln, B, #ta, #tb>(#lm, #ar, #br, #yr);
                }
            });
            return Ok(());
        }
        self.stmts.push(quote! {
            ::gradc::__private::rt::#f(#lm, #ln, #lk, #ar, #br, #yr);
        });
        Ok(())
    }
}
