//! Buffer allocation: where each tensor's buffer lives. Small buffers are
//! stack arrays, large ones `Workspace` fields handed from a dead value to
//! the next of its size (liveness reuse), `c·B` ones a branch between the
//! two, gradients of one parameter the `grads` field itself, and an
//! elementwise result may overwrite a dead operand in place. Separate from
//! lowering so every op gets its buffers by the same rules.

use super::loops::{flatten_mut, lit};
use super::{Direct, Emitter, Val};
use gradc_ir::{Extent, IrError, NodeId, Shape};
use proc_macro2::{Ident, Literal, TokenStream};
use quote::quote;

/// In `forward`, buffers up to this many elements live on the stack; larger
/// ones in a `Vec`.
const MAX_STACK_ELEMS: usize = 4096;

/// In `forward_backward`, buffers up to this many elements live on the stack
/// (registers, for small networks); larger ones in the workspace, which a
/// buffer that is overwritten whole need not zero on every call.
pub(super) const MAX_STACK_ELEMS_WS: usize = 256;

/// Buffers up to how many elements are stack arrays, for a body with or
/// without a workspace, split into parts or not.
pub(super) fn stack_cap(workspace: bool, chunked: bool) -> usize {
    match (chunked, workspace) {
        (true, _) => 0,
        (false, true) => MAX_STACK_ELEMS_WS,
        (false, false) => MAX_STACK_ELEMS,
    }
}

/// For a `c·B` buffer whose stack array of `cap` elements can hold it at
/// small batch sizes (`c <= cap`): the condition `c * B <= cap` under which it
/// does (see `Emitter::alloc_batch`). `None` for other buffers.
pub(super) fn stack_fits(numel: usize, cap: usize) -> Option<TokenStream> {
    match Extent::of(numel) {
        Extent::Batch(c) if c <= cap => {
            let (n, cap) = (lit(numel), Literal::usize_unsuffixed(cap));
            Some(quote!(#n <= #cap))
        }
        _ => None,
    }
}

/// Whether a buffer of `numel` elements has a size that depends on `B`.
pub(super) fn is_batch(numel: usize) -> bool {
    matches!(Extent::of(numel), Extent::Batch(_))
}

impl<'g> Emitter<'g> {
    pub(super) fn alias(&mut self, id: NodeId, of: NodeId) -> Result<(), IrError> {
        let v = self.val(of)?.clone();
        // The field now also holds `id`'s value.
        self.keep_busy(of, id)?;
        self.vals[id.index()] = Some(v);
        Ok(())
    }

    /// Keeps the workspace field holding `of` busy until `id`'s last use, for
    /// a node that reads `of`'s buffer in place (an alias or a slice of it).
    pub(super) fn keep_busy(&mut self, of: NodeId, id: NodeId) -> Result<(), IrError> {
        if let Val::Tensor { name, .. } = self.val(of)? {
            if let Some(&f) = self.field_of.get(&name.to_string()) {
                self.busy[f] = self.busy[f].max(self.last_use[id.index()]);
            }
        }
        Ok(())
    }

    /// The one place tensor scratch is declared: a zeroed stack array; when
    /// large, a workspace field (zeroed only if `overwrites` is false, since it
    /// holds the previous call's values) or, in `forward`, a `Vec`.
    pub(super) fn new_buffer(&mut self, id: NodeId) -> Ident {
        self.new_buffer_for(id, false)
    }

    pub(super) fn new_buffer_for(&mut self, id: NodeId, overwrites: bool) -> Ident {
        let y = self.local(id);
        let numel = self.shape(id).numel();
        if let Some(Direct { field, rank, range }) = self.direct[id.index()].clone() {
            let (t, z) = (self.elem.clone(), self.zero().ts);
            let place = flatten_mut(quote!(grads.#field), rank);
            let place = match range {
                Some((from, to)) => {
                    let (from, to) = (lit(from), lit(to));
                    quote!(&mut #place[#from..#to])
                }
                None if rank == 1 => quote!(&mut #place[..]),
                None => place,
            };
            self.def_place(&y, Some(quote!(&mut [#t])), place.clone());
            self.stmts.push(if overwrites {
                quote!(let #y: &mut [#t] = #place;)
            } else {
                quote!(let #y: &mut [#t] = #place; #y.fill(#z);)
            });
            self.in_grads[id.index()] = true;
            self.vals[id.index()] = Some(Val::Tensor {
                name: y.clone(),
                owned: false,
            });
            return y;
        }
        let owned = self.alloc(&y, numel, overwrites, id);
        self.vals[id.index()] = Some(Val::Tensor {
            name: y.clone(),
            owned,
        });
        y
    }

    /// Declares buffer `y` of `numel` elements: a zeroed stack array when small,
    /// else a workspace field (zeroed only if `overwrites` is false: it holds the
    /// previous call's values) or, in `forward`, a `Vec`. Returns whether `y` is
    /// an owned array (`false`: already a `&mut [T; N]`).
    pub(super) fn alloc(
        &mut self,
        y: &Ident,
        numel: usize,
        overwrites: bool,
        owner: NodeId,
    ) -> bool {
        let n = lit(numel);
        let z = self.zero().ts;
        let stack_max = self.stack_max();
        if is_batch(numel) {
            self.alloc_batch(y, numel, overwrites, owner, stack_max);
            return false;
        }
        if numel <= stack_max {
            self.stmts.push(quote!(let mut #y = [#z; #n];));
            return true;
        }
        let Some(field) = self.ws_field(y, numel, owner) else {
            self.stmts.push(quote!(let mut #y = vec![#z; #n];));
            return true;
        };
        let w = self.ws.clone();
        self.def_place(y, None, quote!(&mut *#w.#field));
        self.stmts.push(if overwrites {
            quote!(let #y = &mut *#w.#field;)
        } else {
            quote!(let #y = &mut *#w.#field; #y.fill(#z);)
        });
        false
    }

    /// Buffers up to this many elements are stack arrays: none in a body
    /// split into parts (a later part borrows its tensors from the workspace).
    pub(super) fn stack_max(&self) -> usize {
        self.stack_cap
    }

    /// A buffer of `c·B` elements, as `y: &mut [T]`. Its size is known only when
    /// the caller picks `B`, so the choice is made then, by a branch on
    /// constants that LLVM folds: up to `cap` elements in a fixed stack array
    /// (registers for small batches), more in the workspace or, in `forward`, a
    /// `Vec`. A large batch never lands on the stack.
    fn alloc_batch(
        &mut self,
        y: &Ident,
        numel: usize,
        overwrites: bool,
        owner: NodeId,
        cap: usize,
    ) {
        let (n, z, t) = (lit(numel), self.zero().ts, self.elem.clone());
        let field = self.ws_field(y, numel, owner);
        let w = self.ws.clone();
        if let (Some(field), None) = (&field, stack_fits(numel, cap)) {
            self.def_place(y, None, quote!(&mut #w.#field[..#n]));
        }
        let fits = stack_fits(numel, cap);
        let stack = self.names.take(&format!("{y}_stack"));
        let capl = Literal::usize_unsuffixed(cap);
        let code = match (field, fits) {
            (Some(field), Some(fits)) => quote! {
                let mut #stack = [#z; #capl];
                let #y: &mut [#t] = if #fits { &mut #stack[..#n] } else { &mut #w.#field[..#n] };
            },
            (Some(field), None) => quote!(let #y = &mut #w.#field[..#n];),
            (None, Some(fits)) => {
                let heap = self.names.take(&format!("{y}_heap"));
                quote! {
                    let mut #stack = [#z; #capl];
                    let mut #heap = ::std::vec::Vec::new();
                    let #y: &mut [#t] = if #fits {
                        &mut #stack[..#n]
                    } else {
                        #heap.resize(#n, #z);
                        &mut #heap[..]
                    };
                }
            }
            (None, None) => quote!(let #y = &mut ::std::vec![#z; #n][..];),
        };
        self.stmts.push(code);
        if !overwrites {
            // The workspace holds an earlier value.
            self.stmts.push(quote!(#y.fill(#z);));
        }
    }

    /// In `forward_backward`, the workspace field for a buffer of `numel`
    /// elements owned by `owner`: a field of that size whose value no later
    /// node reads, else a new one. `None` without a workspace.
    fn ws_field(&mut self, y: &Ident, numel: usize, owner: NodeId) -> Option<Ident> {
        let ws = self.workspace.as_mut()?;
        let (cur, until) = (self.cur, self.last_use[owner.index()]);
        let free = (0..ws.len()).find(|&f| ws[f].1 == numel && self.busy[f] < cur);
        let f = match free {
            Some(f) => f,
            None => {
                // Neutral names: a field serves several values in turn.
                let name = Ident::new(&format!("buf{}", ws.len()), proc_macro2::Span::call_site());
                ws.push((name, numel));
                self.busy.push(0);
                ws.len() - 1
            }
        };
        self.busy[f] = until;
        self.field_of.insert(y.to_string(), f);
        Some(ws[f].0.clone())
    }

    /// For elementwise `id` in `forward_backward`: a workspace buffer (its
    /// local name and field) that the loop of `id` reads only at the result's
    /// own flat index (directly or down fused chains) and that no later node
    /// reads, so the result can overwrite it element by element.
    pub(super) fn in_place_buffer(&self, id: NodeId) -> Option<(Ident, usize)> {
        if self.workspace.is_none() || self.direct[id.index()].is_some() {
            return None;
        }
        // Every buffer the loop reads, and whether at the result's index.
        fn reads(em: &Emitter<'_>, id: NodeId, out: &Shape, acc: &mut Vec<(Ident, bool)>) {
            for a in em.g.args(id) {
                match &em.vals[a.index()] {
                    Some(Val::Tensor { name, .. }) => acc.push((name.clone(), em.shape(*a) == out)),
                    Some(Val::Fused) => reads(em, *a, out, acc),
                    _ => {}
                }
            }
        }
        let out = self.shape(id);
        let mut acc = Vec::new();
        reads(self, id, out, &mut acc);
        acc.iter().find_map(|(name, same)| {
            let f = *self.field_of.get(&name.to_string())?;
            let only_here = acc.iter().all(|(n, s)| n != name || *s);
            (*same && only_here && self.busy[f] <= self.cur).then(|| (name.clone(), f))
        })
    }
}
