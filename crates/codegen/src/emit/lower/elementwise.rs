//! Elementwise ops (unary and binary, with broadcasting): the scalar
//! expression of each op, and the loop that stores it or the fused
//! expression its user inlines.

use crate::emit::loops::{index_of, lit, loop_vars, nest};
use crate::emit::{err, Emitter, Val};
use crate::expr::{self, E};
use gradc_ir::{BinaryOp, DType, IrError, NodeId, Op, UnaryOp};

/// Elements from which a stored f32 `tanh` calls the runtime's slice kernel:
/// below, the call costs more than the wider vectors save.
const TANH_SLICE_MIN: usize = 64;
use proc_macro2::{Ident, TokenStream};
use quote::quote;

impl<'g> Emitter<'g> {
    /// [`Self::apply`], but an op that repeats an operand (`relu`, `max`, `min`,
    /// `leaky_relu`, `clamp`) binds
    /// its operands once in a block when some are fused expressions (`inner`),
    /// so chains neither recompute nor grow exponentially.
    pub(in crate::emit) fn apply_once(
        &self,
        op: &Op,
        ops: &[E],
        inner: bool,
    ) -> Result<E, IrError> {
        let repeats = matches!(
            op,
            Op::Unary(UnaryOp::Relu | UnaryOp::LeakyRelu(_) | UnaryOp::Clamp(..))
                | Op::Binary(BinaryOp::Max | BinaryOp::Min)
        );
        if inner && repeats {
            let vars: Vec<Ident> = ["p", "q"]
                .iter()
                .take(ops.len())
                .map(|v| Ident::new(v, proc_macro2::Span::call_site()))
                .collect();
            let es: Vec<&TokenStream> = ops.iter().map(|e| &e.ts).collect();
            let bound: Vec<E> = vars.iter().map(|v| E::atom(quote!(#v))).collect();
            let body = self.apply(op, &bound)?.ts;
            return Ok(E::atom(if vars.len() == 1 {
                quote!({ let p = #(#es)*; #body })
            } else {
                quote!({ let (#(#vars),*) = (#(#es),*); #body })
            }));
        }
        self.apply(op, ops)
    }

    /// The scalar expression of an elementwise op applied to operand expressions.
    fn apply(&self, op: &Op, v: &[E]) -> Result<E, IrError> {
        let arg = |i: usize| -> Result<&E, IrError> {
            match v.get(i) {
                Some(e) => Ok(e),
                None => err(format!("`{}` is missing operand {i}", op.name())),
            }
        };
        Ok(match op {
            Op::Unary(u) => self.unary(*u, arg(0)?)?,
            Op::Binary(b) => self.binary(*b, arg(0)?, arg(1)?),
            Op::Input(_)
            | Op::Param(_)
            | Op::Const(_)
            | Op::Count(_)
            | Op::OneHot(_)
            | Op::MatMul { .. }
            | Op::Transpose
            | Op::Reshape(_)
            | Op::BroadcastTo(_)
            | Op::SumTo(_)
            | Op::Sum
            | Op::Row(_)
            | Op::Index(_)
            | Op::Stack { .. }
            | Op::Concat
            | Op::SliceLast { .. } => return err(format!("`{}` is not elementwise", op.name())),
        })
    }

    /// How generated code spells a unary op's value: the one place codegen
    /// knows each unary op (`gradc_ir::UnaryOp` holds everything else).
    fn unary(&self, u: UnaryOp, x: &E) -> Result<E, IrError> {
        let rt = |f: TokenStream| quote!(::gradc::__private::#f);
        // The runtime's kernels, the interpreter's too: branch-free in f32,
        // so these loops vectorise.
        let kernel = |f: &str| {
            let f = quote::format_ident!("{f}_{}", self.dtype.name());
            expr::call(quote!(::gradc::__private::rt::#f), x)
        };
        Ok(match u {
            UnaryOp::Neg => expr::neg(x),
            UnaryOp::Relu => expr::if_else(&expr::gt(x, &self.zero()), x, &self.zero()),
            UnaryOp::Sigmoid => expr::call(rt(quote!(sigmoid)), x),
            UnaryOp::Softplus => expr::call(rt(quote!(softplus)), x),
            UnaryOp::Tanh => kernel("tanh"),
            UnaryOp::Exp => kernel("exp"),
            UnaryOp::Ln => kernel("ln"),
            UnaryOp::Sqrt => expr::method(x, quote!(sqrt), quote!()),
            UnaryOp::Powi(n) => expr::method(x, quote!(powi), expr::int(i64::from(n))),
            UnaryOp::Abs => expr::method(x, quote!(abs), quote!()),
            UnaryOp::LeakyRelu(s) => {
                let sx = expr::mul(&expr::float(s.value(), self.dtype)?, x);
                expr::if_else(&expr::gt(x, &self.zero()), x, &sx)
            }
            UnaryOp::Elu => expr::call(rt(quote!(elu)), x),
            UnaryOp::Gelu => expr::call(rt(quote!(gelu)), x),
            UnaryOp::GeluTanh => expr::call(rt(quote!(gelu_tanh)), x),
            UnaryOp::Silu => expr::call(rt(quote!(silu)), x),
            UnaryOp::NormalCdf => expr::call(rt(quote!(normal_cdf)), x),
            // min(max(x, lo), hi) as one select: x ≥ lo ? (hi ≥ x ? x : hi) : lo.
            UnaryOp::Clamp(lo, hi) => {
                let (lo, hi) = (
                    expr::float(lo.value(), self.dtype)?,
                    expr::float(hi.value(), self.dtype)?,
                );
                let upper = expr::if_else(&expr::ge(&hi, x), x, &hi);
                expr::if_else(&expr::ge(x, &lo), &upper, &lo)
            }
            UnaryOp::Ln1p => kernel("ln_1p"),
        })
    }

    /// How generated code spells a binary op's value.
    fn binary(&self, op: BinaryOp, a: &E, b: &E) -> E {
        match op {
            BinaryOp::Add => expr::add(a, b),
            BinaryOp::Sub => expr::sub(a, b),
            BinaryOp::Mul => expr::mul(a, b),
            BinaryOp::Div => expr::div(a, b),
            BinaryOp::Max => expr::if_else(&expr::ge(a, b), a, b),
            BinaryOp::Gt => expr::if_else(&expr::gt(a, b), &self.one(), &self.zero()),
            BinaryOp::Min => expr::if_else(&expr::ge(b, a), a, b),
        }
    }

    /// A unary or binary node stored in its own buffer (not fused into its user).
    ///
    /// A large f32 `tanh` stores its operand's expression, then the runtime's
    /// slice kernel takes the buffer in place at the CPU's widest vector width
    /// (generated code is built for the baseline target, SSE2 on x86-64); each
    /// element is bit-identical to `tanh_f32`, which the interpreter calls.
    pub(super) fn stored_elementwise(
        &mut self,
        id: NodeId,
        op: &Op,
        inner: bool,
    ) -> Result<(), IrError> {
        let n = self.shape(id).numel();
        if matches!(op, Op::Unary(UnaryOp::Tanh)) && self.dtype == DType::F32 && n >= TANH_SLICE_MIN
        {
            self.elementwise(id, |_, v| Ok(v[0].clone()))?;
            let (y, n) = (self.tensor(id)?, lit(n));
            self.stmts
                .push(quote!(::gradc::__private::rt::tanh_slice_f32(&mut #y[..#n]);));
            return Ok(());
        }
        self.elementwise(id, |em, v| em.apply_once(op, v, inner))
    }

    /// An elementwise node: `f` maps the operands' expressions at one output
    /// index to the result. Broadcasting is resolved here into constant strides:
    /// same-shape operands share one flat loop, scalars are read once, anything
    /// else gets a loop per output dimension.
    pub(super) fn elementwise(
        &mut self,
        id: NodeId,
        f: impl Fn(&Self, &[E]) -> Result<E, IrError>,
    ) -> Result<(), IrError> {
        let args = self.g.args(id);
        let out = self.shape(id);
        if out.is_scalar() {
            let ops = args
                .iter()
                .map(|a| self.read(*a, &quote!(0)))
                .collect::<Result<Vec<_>, _>>()?;
            let e = f(self, &ops)?;
            self.new_scalar(id, e);
            return Ok(());
        }
        let mut general = false;
        for a in args {
            // A one-element operand is read at index 0 whatever the loop shape.
            let s = self.shape(*a);
            if matches!(self.val(*a)?, Val::Tensor { .. }) && s != out && s.numel() != 1 {
                general = true;
            }
            general |= self.needs_dims(*a);
        }
        let (dims, strides) = if general {
            (out.dims().to_vec(), out.strides())
        } else {
            (vec![out.numel()], vec![1])
        };
        let vars = loop_vars(&dims);
        let oi = index_of(&vars, &strides);
        // In place: the result overwrites a workspace buffer this loop reads
        // only at the result's own index and nothing reads afterwards.
        let in_place = self.in_place_buffer(id);
        if let Some((old, f)) = &in_place {
            let y = self.local(id);
            self.def_same_place(&y, old);
            self.stmts.push(quote!(let #y = #old;));
            for v in self.vals.iter_mut().flatten() {
                if let Val::Tensor { name, .. } = v {
                    if name == old {
                        *name = y.clone();
                    }
                }
            }
            self.field_of.insert(y.to_string(), *f);
            self.busy[*f] = self.last_use[id.index()];
            self.vals[id.index()] = Some(Val::Tensor {
                name: y,
                owned: false,
            });
        }
        let mut ops = Vec::with_capacity(args.len());
        for a in args {
            let ix = if self.shape(*a) == out {
                oi.clone()
            } else if self.shape(*a).numel() == 1 {
                quote!(0)
            } else {
                index_of(&vars, &self.shape(*a).broadcast_strides(out))
            };
            let lp = general.then_some((&vars[..], out));
            ops.push(self.read_in(*a, &ix, lp)?);
        }
        let e = f(self, &ops)?.ts;
        let y = match in_place {
            Some(_) => self.tensor(id)?,
            None => self.new_buffer_for(id, true),
        };
        self.stmts.push(nest(&vars, &dims, quote!(#y[#oi] = #e;)));
        Ok(())
    }
}
