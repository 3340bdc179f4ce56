//! Run-time kernels for gradc-generated code.
//!
//! Generated code stays straight-line Rust with constant shapes; the one thing it
//! hands to this crate is dense matrix multiplication, where register blocking and
//! the widest vector unit of the running CPU matter most. [`gemm`] picks an
//! AVX-512 or AVX2+FMA build of the same kernel at run time (feature detection,
//! cached by std), so a plain `cargo build --release` still uses the machine's
//! vector units; other targets get the portable build.
//!
//! The kernel is the usual packed design: an `MR × NR` tile of `C` lives in
//! vector registers for a whole `KC`-deep slice of the product, reading `A`
//! and `B` from contiguous panels whatever their strides. Small products pack
//! one `B` panel at a time on the stack; large ones are cache-blocked as in
//! BLIS (a `KC × NC` block of `B` and `MC × KC` blocks of `A` packed into a
//! per-thread buffer allocated on the thread's first large product), so no
//! call allocates.
//!
//! [`set_threads`] (or `GRADC_THREADS=n`) splits large products into blocks
//! of `C` over the calling thread and `n - 1` persistent helper threads; off
//! by default. Results are bit-identical for every thread count.

#![warn(missing_docs)]

use std::cell::RefCell;
use std::marker::PhantomData;
use std::mem::MaybeUninit;

mod erf;
mod exp;
mod heap;
mod math;
mod parallel;
mod simd;
mod small;
mod workspace;
pub use erf::{erf_f32, erf_f64, erfc_f32, erfc_f64};
pub use exp::exp_f32;
pub use heap::{zeroed_boxed, Zeroed};
pub use math::{
    exp_f64, ln_1p_f32, ln_1p_f64, ln_f32, ln_f64, sigmoid_f32, sigmoid_f64, softplus_f32,
    softplus_f64, tanh_f32, tanh_f64, tanh_slice_f32, tanh_slice_f32_with,
};
pub use parallel::{gemm_threads, gemm_two_threads, set_threads, threads, MAX_THREADS, MIN_MACS};
use simd::{Portable, Simd};
pub use small::{
    matmul_small, matmul_small_dyn, matmul_small_dyn_with, matmul_small_or_gemm,
    matmul_small_or_gemm_dyn, matmul_small_with, small_fits, SmallElem,
};
pub use workspace::with_workspace;

/// The element types gradc generates code for.
pub trait Elem: Copy + Default + Send + Sync + 'static + sealed::Sealed {
    #[doc(hidden)]
    #[allow(clippy::too_many_arguments)]
    fn gemm_dispatch(
        m: usize,
        n: usize,
        k: usize,
        a: Strided<'_, Self>,
        b: Strided<'_, Self>,
        c: Out<'_, Self>,
        acc: bool,
        isa: Isa,
        plan: Plan,
    );
    /// Runs `f` with this thread's packing buffer ([`PACK_LEN`] elements),
    /// allocated on the thread's first call and kept.
    #[doc(hidden)]
    fn with_pack<R>(f: impl FnOnce(&mut [MaybeUninit<Self>]) -> R) -> R;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

macro_rules! elem {
    ($t:ident, $avx512:ident, $avx512_fn:ident, $avx2:ident, $avx2_fn:ident) => {
        impl Elem for $t {
            #[inline]
            fn gemm_dispatch(
                m: usize,
                n: usize,
                k: usize,
                a: Strided<'_, Self>,
                b: Strided<'_, Self>,
                mut c: Out<'_, Self>,
                acc: bool,
                isa: Isa,
                plan: Plan,
            ) {
                let run = |c: &mut Out<'_, Self>, buf: Option<&mut [MaybeUninit<Self>]>| {
                    #[cfg(target_arch = "x86_64")]
                    if isa != Isa::Portable {
                        if let Some(s) = simd::$avx512::detect().filter(|_| isa == Isa::Best) {
                            // SAFETY: the token `s` exists, so the CPU has the
                            // entry point's features (its only requirement).
                            return unsafe { x86::$avx512_fn(s, m, n, k, a, b, c, acc, buf) };
                        }
                        if let Some(s) = simd::$avx2::detect() {
                            // SAFETY: as above.
                            return unsafe { x86::$avx2_fn(s, m, n, k, a, b, c, acc, buf) };
                        }
                    }
                    driver::<Portable<$t>, 4, 8, 8>(Portable::new(), m, n, k, a, b, c, acc, buf)
                };
                if plan.blocked(m, n, k, a.cs == 1, b.cs == 1) {
                    Self::with_pack(|buf| run(&mut c, Some(buf)))
                } else {
                    run(&mut c, None)
                }
            }

            fn with_pack<R>(f: impl FnOnce(&mut [MaybeUninit<Self>]) -> R) -> R {
                thread_local! {
                    static PACK: RefCell<Vec<MaybeUninit<$t>>> = const { RefCell::new(Vec::new()) };
                }
                let mut f = Some(f);
                let r = PACK.try_with(|p| {
                    let mut p = p.try_borrow_mut().ok()?;
                    if p.is_empty() {
                        p.resize_with(PACK_LEN, MaybeUninit::uninit);
                    }
                    f.take().map(|f| f(&mut p[..]))
                });
                match (r, f) {
                    (Ok(Some(r)), _) => r,
                    // During thread teardown (or if ever re-entered): a buffer
                    // for this call only.
                    (_, Some(f)) => f(&mut vec![MaybeUninit::uninit(); PACK_LEN]),
                    (_, None) => unreachable!("`f` ran but returned nothing"),
                }
            }
        }
    };
}
elem!(f32, Avx512F32, avx512_f32, Avx2F32, avx2_f32);
elem!(f64, Avx512F64, avx512_f64, Avx2F64, avx2_f64);

/// How [`Elem::gemm_dispatch`] blocks a product (tests and benchmarks pick one;
/// the entry points use `Auto`). Every plan computes each element of `C` by the
/// same operations (the depth slicing depends only on `k`), so all agree bit for bit.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    /// `Blocked` when `B` is wider than one panel and has at least
    /// [`BLOCK_MIN`] elements (unless `B` is transposed and `A` has at most
    /// [`PANEL_MAX_M`] rows), or `A` is transposed and `C` has at least
    /// [`BLOCK_MIN_C`] elements; else `Panel`.
    Auto,
    /// One `B` panel at a time on the stack, `A` read in place.
    Panel,
    /// `KC × NC` blocks of `B` and `MC × KC` blocks of `A` packed into the
    /// thread's buffer.
    Blocked,
}

impl Plan {
    /// `a_rows`/`b_rows`: the operand's rows are contiguous (not transposed).
    fn blocked(self, m: usize, n: usize, k: usize, a_rows: bool, b_rows: bool) -> bool {
        match self {
            Plan::Auto => {
                n > 32
                    && (b_rows || m > PANEL_MAX_M)
                    && (k.saturating_mul(n) >= BLOCK_MIN
                        || (!a_rows && m.saturating_mul(n) >= BLOCK_MIN_C))
            }
            Plan::Panel => false,
            Plan::Blocked => true,
        }
    }
}

/// `B` operands with at least this many elements (1 MiB in f32) are packed a
/// block at a time. A smaller `B` stays in L2 whatever the order it is read
/// in, and reading `A` in place beats packing it: N4's 128×256×784 product
/// ran at about 0.85× the panel path's speed when blocked.
pub const BLOCK_MIN: usize = 1 << 18;

/// Products with a transposed `A` into a `C` of at least this many elements
/// are blocked whatever the size of `B`: a weight gradient (`Xᵀ·dY`, depth
/// the batch) reading `A` in place takes each step of a tile from another
/// row of `X`, 4 KiB apart at width 1024 (one L1 set), where packing reads
/// those rows in order. N5's 1024×1024×64 weight gradient: 125-135 GFLOP/s
/// in the panel path, 149-158 blocked (every plan gives the same bits).
pub const BLOCK_MIN_C: usize = 1 << 18;

/// Products with a transposed `B` (an input gradient `dY·Wᵀ`) and at most
/// this many rows stay in the panel path whatever the size of `B`: with one
/// or two blocks of `A` a packed `B` block is barely reused, and a panel
/// packed just before its sweep is still in L1. 64×1024×1024: 139 GFLOP/s
/// against 122 blocked; 256×1024×1024: 157 against 153; 512 rows: 151
/// against 166.
pub const PANEL_MAX_M: usize = 256;

/// The output matrix `C` (or a block of it): row-major with row stride `ldc`.
/// It borrows its elements exclusively like `&mut [T]`; blocks split from it
/// ([`Out::split_cols`], [`Out::split_rows`]) are disjoint, so threads may
/// write them at once.
#[doc(hidden)]
pub struct Out<'a, T> {
    ptr: *mut T,
    rows: usize,
    cols: usize,
    ldc: usize,
    _borrow: PhantomData<&'a mut [T]>,
}

// SAFETY: an `Out` is an exclusive borrow of its block's elements, like
// `&mut [T]`, which is `Send` for `T: Send`.
unsafe impl<T: Send> Send for Out<'_, T> {}

impl<'a, T> Out<'a, T> {
    /// `c` as a row-major `m×n` matrix. Panics if `c` is shorter.
    pub fn new(c: &'a mut [T], m: usize, n: usize) -> Self {
        // Checked: a wrapped product would let `row` leave the slice.
        let len = m.checked_mul(n);
        assert!(
            len.is_some_and(|len| c.len() >= len),
            "C has {} elements, not {m}×{n}",
            c.len()
        );
        Out {
            ptr: c.as_mut_ptr(),
            rows: m,
            cols: n,
            ldc: n,
            _borrow: PhantomData,
        }
    }

    /// Columns `j..j + len` of row `i`. Panics outside the block.
    #[inline(always)]
    fn row(&mut self, i: usize, j: usize, len: usize) -> &mut [T] {
        assert!(i < self.rows && j <= self.cols && len <= self.cols - j);
        // SAFETY: the element `(i, j)` and the `len - 1` after it lie in the
        // block (checked above), which `self` borrows exclusively (the slice
        // it came from held every element of the block); the result borrows
        // `self` mutably, so no other slice of this block exists meanwhile.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(i * self.ldc + j), len) }
    }

    /// Columns `..j` and `j..`. Panics if `j` is past the block.
    pub fn split_cols(self, j: usize) -> (Self, Self) {
        assert!(j <= self.cols);
        let right = Out {
            ptr: self.ptr.wrapping_add(j),
            cols: self.cols - j,
            ..self
        };
        (Out { cols: j, ..self }, right)
    }

    /// Rows `..i` and `i..`. Panics if `i` is past the block.
    pub fn split_rows(self, i: usize) -> (Self, Self) {
        assert!(i <= self.rows);
        let bottom = Out {
            ptr: self.ptr.wrapping_add(i * self.ldc),
            rows: self.rows - i,
            ..self
        };
        (Out { rows: i, ..self }, bottom)
    }
}

/// Strided view of a matrix operand: element `(i, p)` is `data[i * rs + p * cs]`,
/// so a transposed operand is the same buffer with its strides swapped.
#[derive(Clone, Copy, Debug)]
pub struct Strided<'a, T> {
    /// The buffer.
    pub data: &'a [T],
    /// Row stride.
    pub rs: usize,
    /// Column stride.
    pub cs: usize,
}

/// `c[m×n] = A·b` (or `c += A·b` when `acc`), `A` an `m×k` [`Strided`] view and
/// `b` a row-major `k×n` buffer; `c` is row-major `m×n`.
///
/// Panics (index out of bounds) if a buffer is shorter than its shape says;
/// generated code always passes exact sizes.
#[inline]
pub fn gemm<T: Elem>(
    m: usize,
    n: usize,
    k: usize,
    a: Strided<'_, T>,
    b: &[T],
    c: &mut [T],
    acc: bool,
) {
    let b = Strided {
        data: b,
        rs: n,
        cs: 1,
    };
    parallel::gemm(m, n, k, a, b, c, acc, Isa::Best)
}

/// `c[m×n] = A·B` (or `c += A·B` when `acc`) with both operands strided, so either
/// may be a transposed view; `c` is row-major `m×n`. Same kernel as [`gemm`]:
/// the operands are packed anyway, so strides cost only in the packing.
///
/// Panics (index out of bounds) if a buffer is shorter than its shape says.
#[inline]
pub fn gemm_strided<T: Elem>(
    m: usize,
    n: usize,
    k: usize,
    a: Strided<'_, T>,
    b: Strided<'_, T>,
    c: &mut [T],
    acc: bool,
) {
    parallel::gemm(m, n, k, a, b, c, acc, Isa::Best)
}

/// `c = op(a) · op(b)` for row-major buffers, `op` the identity or, per the
/// name's `t`, the transpose: `matmul` (nn), `matmul_tn`, `matmul_nt`,
/// `matmul_tt`. `m×n` is the shape of `c` and `k` the inner dimension. Each is
/// exactly [`gemm_strided`] with the strides the transposes imply, so generated
/// code calls it in one line.
macro_rules! matmul {
    ($(#[$doc:meta])* $name:ident, $ta:literal, $tb:literal) => {
        $(#[$doc])*
        #[inline]
        pub fn $name<T: Elem>(m: usize, n: usize, k: usize, a: &[T], b: &[T], c: &mut [T]) {
            // A is m×k: stored [m, k], or [k, m] when transposed.
            let (ars, acs) = if $ta { (1, m) } else { (k, 1) };
            // B is k×n: stored [k, n], or [n, k] when transposed.
            let (brs, bcs) = if $tb { (1, k) } else { (n, 1) };
            gemm_strided(
                m,
                n,
                k,
                Strided { data: a, rs: ars, cs: acs },
                Strided { data: b, rs: brs, cs: bcs },
                c,
                false,
            )
        }
    };
}
matmul!(
    /// `c[m×n] = a[m×k] · b[k×n]`.
    matmul, false, false
);
matmul!(
    /// `c[m×n] = aᵀ · b`, `a` stored `[k, m]`.
    matmul_tn, true, false
);
matmul!(
    /// `c[m×n] = a · bᵀ`, `b` stored `[n, k]`.
    matmul_nt, false, true
);
matmul!(
    /// `c[m×n] = aᵀ · bᵀ`, `a` stored `[k, m]`, `b` stored `[n, k]`.
    matmul_tt, true, true
);

/// Which build of the kernel [`gemm_with`] uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    /// The widest the CPU supports (what [`gemm`] uses).
    Best,
    /// AVX2+FMA if the CPU has it, else portable.
    Avx2,
    /// The portable build.
    Portable,
}

/// [`gemm_strided`] through a chosen build, on the calling thread only (for
/// tests and benchmarks).
#[allow(clippy::too_many_arguments)]
pub fn gemm_with<T: Elem>(
    isa: Isa,
    m: usize,
    n: usize,
    k: usize,
    a: Strided<'_, T>,
    b: Strided<'_, T>,
    c: &mut [T],
    acc: bool,
) {
    T::gemm_dispatch(m, n, k, a, b, Out::new(c, m, n), acc, isa, Plan::Auto)
}

/// [`gemm_with`] with a chosen blocking plan (tests and benchmarks: `Panel`
/// is the kernel before cache blocking).
#[doc(hidden)]
#[allow(clippy::too_many_arguments)]
pub fn gemm_plan<T: Elem>(
    plan: Plan,
    isa: Isa,
    m: usize,
    n: usize,
    k: usize,
    a: Strided<'_, T>,
    b: Strided<'_, T>,
    c: &mut [T],
    acc: bool,
) {
    T::gemm_dispatch(m, n, k, a, b, Out::new(c, m, n), acc, isa, plan)
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::simd::{Avx2F32, Avx2F64, Avx512F32, Avx512F64};
    use super::{driver, Out, Strided};
    use std::mem::MaybeUninit;

    // Register budget: MR rows × NV vectors of accumulators, plus NV vectors of
    // the `B` row and one broadcast of `A`. AVX-512 has 32 registers: 8 × 2
    // accumulators; AVX2 has 16: 6 × 2. A last panel at most one vector wide
    // uses taller tiles of MR2 rows × 1 vector.
    macro_rules! isa {
        ($fname:ident, $name:ident, $t:ty, $features:literal, $mr:literal, $nv:literal, $mr2:literal) => {
            #[target_feature(enable = $features)]
            #[allow(clippy::too_many_arguments)]
            pub(crate) fn $fname(
                s: $name,
                m: usize,
                n: usize,
                k: usize,
                a: Strided<'_, $t>,
                b: Strided<'_, $t>,
                c: &mut Out<'_, $t>,
                acc: bool,
                buf: Option<&mut [MaybeUninit<$t>]>,
            ) {
                driver::<$name, $mr, $nv, $mr2>(s, m, n, k, a, b, c, acc, buf)
            }
        };
    }
    isa!(avx512_f32, Avx512F32, f32, "avx512f,avx2,fma", 8, 2, 16);
    isa!(avx512_f64, Avx512F64, f64, "avx512f,avx2,fma", 8, 2, 16);
    isa!(avx2_f32, Avx2F32, f32, "avx2,fma", 6, 2, 12);
    isa!(avx2_f64, Avx2F64, f64, "avx2,fma", 6, 2, 12);
}

/// Depth of one slice of the product (`KC`, at most): the packed `B` panel
/// (`KC × NR`) stays in L1 while every row tile of `A` sweeps it.
pub(crate) const KC: usize = 256;
/// Rows of `A` per packed block (`MC`, rounded down to a multiple of `MR`):
/// the block (`MC × KC`, 128 KiB in f32) stays in L2 while every panel of
/// the `B` block sweeps it.
const MC: usize = 128;
/// Columns of `B` per packed block (`NC`, a multiple of every `NR`): the block
/// (`KC × NC`, 1 MiB in f32) is packed once per depth slice and reused by
/// every row block of `A`; packing whole rows of it reads `B` sequentially.
const NC: usize = 1024;
/// Elements of the per-thread packing buffer: a `B` block (plus one narrow
/// panel of at most 16 lanes), an `A` block, and 16 to align them.
#[doc(hidden)]
pub const PACK_LEN: usize = KC * (NC + 16) + MC * KC + 16;
/// Elements of the stack buffer for one packed `B` panel (`NR` ≤ 32).
const B_BUF: usize = KC * 32;
/// Elements of the stack buffer for one packed `A` tile (`MR` ≤ 16).
const A_BUF: usize = KC * 16;
/// Largest register tile `MR × NR`.
const TILE: usize = 512;

#[repr(C, align(64))]
struct Buf<T, const N: usize>([MaybeUninit<T>; N]);

impl<T, const N: usize> Buf<T, N> {
    #[inline(always)]
    fn new() -> Self {
        Buf([const { MaybeUninit::uninit() }; N])
    }
}

/// The product in `KC`-deep slices of `k` (equal slices, so the order of
/// operations on each element of `C` depends only on `k`). With `buf` (the
/// thread's packing buffer) it is cache-blocked: see [`blocked`]. Without,
/// per slice, `NR`-column panels of `B` are packed on the stack one at a
/// time, each swept by every `MR`-row tile of `A` read in place.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn driver<S: Simd, const MR: usize, const NV: usize, const MR2: usize>(
    s: S,
    m: usize,
    n: usize,
    k: usize,
    a: Strided<'_, S::T>,
    b: Strided<'_, S::T>,
    c: &mut Out<'_, S::T>,
    acc: bool,
    buf: Option<&mut [MaybeUninit<S::T>]>,
) {
    let nr = NV * S::LANES;
    assert!(MR * nr <= TILE && nr <= 32 && MR <= 16 && MR2 <= 16 && NC.is_multiple_of(nr));
    assert!(c.rows == m && c.cols == n);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !acc {
            for i in 0..m {
                c.row(i, 0, n).fill(S::T::default());
            }
        }
        return;
    }
    // Equal slices: 784 = 4 × 196 rather than 3 × 256 + 16.
    let kc = k.div_ceil(k.div_ceil(KC));
    // B(p, j) = Bᵀ(j, p): B panels pack like A tiles with the roles swapped.
    let bt = Strided {
        data: b.data,
        rs: b.cs,
        cs: b.rs,
    };
    if let Some(buf) = buf {
        return blocked::<S, MR, NV, MR2>(s, m, n, k, kc, a, bt, c, acc, buf);
    }
    let mut bbuf = Buf::<S::T, B_BUF>::new();
    let mut abuf = Buf::<S::T, A_BUF>::new();
    // One depth slice into a large `C`: see `streams` (not for the narrow
    // last panel, a sliver of `C`).
    let stream_c = kc == k && streams(m * n);
    let mut pc = 0;
    while pc < k {
        let kb = kc.min(k - pc);
        let accum = acc || pc > 0;
        let mut jc = 0;
        while jc < n {
            let nb = nr.min(n - jc);
            if nb <= S::LANES && NV > 1 {
                // A narrow last panel (n = 10): one vector per row. `MR` rows,
                // not the taller `MR2`: since `C` became an `Out`, the 16-row
                // tile ran 32×10×64 at 2.7 µs against 0.95 µs with 8 rows
                // (same arithmetic per element, so results are unchanged).
                let bp = pack::<S>(s, &mut bbuf.0, bt, jc, pc, nb, kb, S::LANES);
                sweep::<S, MR, 1>(s, m, kb, pc, jc, nb, a, bp, &mut abuf.0, c, accum, false);
            } else {
                let bp = pack::<S>(s, &mut bbuf.0, bt, jc, pc, nb, kb, nr);
                sweep::<S, MR, NV>(s, m, kb, pc, jc, nb, a, bp, &mut abuf.0, c, accum, stream_c);
            }
            jc += nr;
        }
        pc += kb;
    }
}

/// The cache-blocked product (the BLIS loop order): per `NC`-column block of
/// `B` and `KC`-deep slice, the `KC × NC` block of `B` is packed into
/// `NR`-wide panels; per `MC`-row block of `A`, that block is packed into
/// `MR`-row panels (so the tile reads one stream), and every panel of `B`
/// sweeps every panel of `A`. A narrow last panel (at most one vector) is
/// swept by the taller `MR2` tiles reading `A` in place, as in the panel path.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn blocked<S: Simd, const MR: usize, const NV: usize, const MR2: usize>(
    s: S,
    m: usize,
    n: usize,
    k: usize,
    kc: usize,
    a: Strided<'_, S::T>,
    bt: Strided<'_, S::T>,
    c: &mut Out<'_, S::T>,
    acc: bool,
    buf: &mut [MaybeUninit<S::T>],
) {
    let l = S::LANES;
    let nr = NV * l;
    let mc = MC / MR * MR;
    // Cache-line aligned blocks: the buffer has 16 spare elements.
    let off = buf.as_ptr().align_offset(64).min(16);
    let (bbuf, abuf) = buf[off..].split_at_mut(KC * (NC + 16));
    let mut tiny = Buf::<S::T, A_BUF>::new();
    // A weight gradient (one depth slice, a large `C`): each tile prefetches
    // the next tile's lines (see `streams`; results unchanged).
    let stream_c = kc == k && streams(m * n);
    let mut jc = 0;
    while jc < n {
        let nb = NC.min(n - jc);
        // Columns in full-width panels; the rest (at most one vector) narrow.
        let rem = nb % nr;
        let wide = if rem != 0 && rem <= l && NV > 1 {
            nb - rem
        } else {
            nb
        };
        let mut pc = 0;
        while pc < k {
            let kb = kc.min(k - pc);
            let accum = acc || pc > 0;
            let (bw, bn) = bbuf.split_at_mut(wide.div_ceil(nr) * nr * kb);
            let bw = pack::<S>(s, bw, bt, jc, pc, wide, kb, nr);
            let mut ic = 0;
            while ic < m && wide > 0 {
                let mb = mc.min(m - ic);
                let ap = pack::<S>(s, abuf, a, ic, pc, mb, kb, MR);
                for (t, bp) in bw.chunks_exact(kb * nr).enumerate() {
                    let j = jc + t * nr;
                    let cols = nr.min(jc + wide - j);
                    for (q, apt) in ap.chunks_exact(kb * MR).enumerate() {
                        let i = ic + q * MR;
                        let rows = MR.min(m - i);
                        if stream_c {
                            let (ni, nj) = if i + MR < ic + mb {
                                (i + MR, j)
                            } else {
                                (ic, j + nr)
                            };
                            prefetch_tile(c, ni, nj, MR, nr);
                        }
                        tile::<S, MR, NV>(s, kb, APacked(apt), bp, c, i, j, rows, cols, accum);
                    }
                }
                ic += mb;
            }
            if wide < nb {
                let bp = pack::<S>(s, bn, bt, jc + wide, pc, nb - wide, kb, l);
                sweep::<S, MR2, 1>(
                    s,
                    m,
                    kb,
                    pc,
                    jc + wide,
                    nb - wide,
                    a,
                    bp,
                    &mut tiny.0,
                    c,
                    accum,
                    false,
                );
            }
            pc += kb;
        }
        jc += nb;
    }
}

/// Every `MR`-row tile of `A` against one packed `B` panel (columns
/// `jc..jc+nb`, steps `pc..pc+kb`).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn sweep<S: Simd, const MR: usize, const NV: usize>(
    s: S,
    m: usize,
    kb: usize,
    pc: usize,
    jc: usize,
    nb: usize,
    a: Strided<'_, S::T>,
    bp: &[S::T],
    abuf: &mut [MaybeUninit<S::T>],
    c: &mut Out<'_, S::T>,
    accum: bool,
    stream_c: bool,
) {
    let mut ir = 0;
    while ir < m {
        let rows = MR.min(m - ir);
        let base = ir * a.rs + pc * a.cs;
        // One depth slice into a large `C` (see `streams`): the next tile's
        // lines.
        if stream_c {
            prefetch_tile(c, ir + MR, jc, MR, nb);
        }
        if a.cs == 1 {
            // Rows past `m` repeat the last one; their results are dropped.
            let rows_of = std::array::from_fn(|r| &a.data[base + r.min(rows - 1) * a.rs..][..kb]);
            tile::<S, MR, NV>(s, kb, ARows(rows_of), bp, c, ir, jc, rows, nb, accum);
        } else if a.rs == 1 && rows == MR {
            let cols = ACols {
                data: &a.data[base..],
                cs: a.cs,
            };
            tile::<S, MR, NV>(s, kb, cols, bp, c, ir, jc, rows, nb, accum);
        } else {
            let ap = pack::<S>(s, abuf, a, ir, pc, rows, kb, MR);
            tile::<S, MR, NV>(s, kb, APacked(ap), bp, c, ir, jc, rows, nb, accum);
        }
        ir += MR;
    }
}

/// Where a tile reads `A(r, p)` for its `MR` rows `r`.
trait ATile<T, const MR: usize> {
    /// `[A(0, p), …, A(MR-1, p)]`.
    fn col(&self, p: usize) -> [T; MR];
}

/// Row-major `A`: one slice of `kb` elements per row.
struct ARows<'a, T, const MR: usize>([&'a [T]; MR]);

impl<T: Copy, const MR: usize> ATile<T, MR> for ARows<'_, T, MR> {
    #[inline(always)]
    fn col(&self, p: usize) -> [T; MR] {
        std::array::from_fn(|r| self.0[r][p])
    }
}

/// Transposed `A`: the `MR` values of step `p` are contiguous at `p * cs`.
struct ACols<'a, T> {
    data: &'a [T],
    cs: usize,
}

impl<T: Copy, const MR: usize> ATile<T, MR> for ACols<'_, T> {
    #[inline(always)]
    fn col(&self, p: usize) -> [T; MR] {
        let x = &self.data[p * self.cs..][..MR];
        std::array::from_fn(|r| x[r])
    }
}

/// A tile packed by [`pack`]: `MR` values per step.
struct APacked<'a, T>(&'a [T]);

impl<T: Copy, const MR: usize> ATile<T, MR> for APacked<'_, T> {
    #[inline(always)]
    fn col(&self, p: usize) -> [T; MR] {
        let x = &self.0[p * MR..][..MR];
        std::array::from_fn(|r| x[r])
    }
}

/// Packs rows `i0..i0+rows` × columns `p0..p0+kb` of `x` into tiles of `r`
/// rows: tile `t` holds, for each `p`, the `r` values `x(i0 + t*r + q, p0 + p)`,
/// zero past `rows`. Returns the packed, fully initialised prefix of `buf`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn pack<'b, S: Simd>(
    s: S,
    buf: &'b mut [MaybeUninit<S::T>],
    x: Strided<'_, S::T>,
    i0: usize,
    p0: usize,
    rows: usize,
    kb: usize,
    r: usize,
) -> &'b [S::T] {
    let tiles = rows.div_ceil(r);
    let len = tiles * r * kb;
    let out = &mut buf[..len];
    if x.rs == 1 {
        // Step `p` of every tile is contiguous in `x`. Four steps at a
        // time, tile by tile: each tile gets four consecutive steps (one run
        // of writes) while four rows of `x` are read as parallel streams.
        // One step at a time wrote each step to every tile, `kb · r`
        // elements apart (the same L1 set): N6's 64×4096×4096 product ran
        // at 82-93 GFLOP/s, against 106-113 this way. (One tile, as in the
        // panel path: all steps in one run.)
        let pb = if tiles > 1 { 4 } else { kb };
        let mut q = 0;
        while q < kb {
            let qe = (q + pb).min(kb);
            for t in 0..tiles {
                let c0 = t * r;
                let live = r.min(rows - c0);
                for p in q..qe {
                    let src = &x.data[i0 + c0 + (p0 + p) * x.cs..][..live];
                    let d = &mut out[(t * kb + p) * r..][..r];
                    for (d, &v) in d.iter_mut().zip(src) {
                        d.write(v);
                    }
                    for d in &mut d[live..] {
                        d.write(S::T::default());
                    }
                }
            }
            q = qe;
        }
    } else {
        for t in 0..tiles {
            let dst = &mut out[t * r * kb..][..r * kb];
            let live = r.min(rows - t * r);
            let base = (i0 + t * r) * x.rs + p0 * x.cs;
            let mut q0 = 0;
            if x.cs == 1 {
                // Rows contiguous in `p`: 8 × 8 blocks transposed in registers
                // (a scalar store per element would cost as much as the
                // multiply-adds that use it when `m` is 64).
                while q0 + 8 <= live {
                    let src: [&[S::T]; 8] =
                        std::array::from_fn(|u| &x.data[base + (q0 + u) * x.rs..][..kb]);
                    let mut p = 0;
                    while p + 8 <= kb {
                        s.transpose8(src, p, &mut dst[p * r + q0..], r);
                        p += 8;
                    }
                    for p in p..kb {
                        for (u, s) in src.iter().enumerate() {
                            dst[p * r + q0 + u].write(s[p]);
                        }
                    }
                    q0 += 8;
                }
            }
            for q in q0..r {
                if q < live {
                    let row = base + q * x.rs;
                    for p in 0..kb {
                        dst[p * r + q].write(x.data[row + p * x.cs]);
                    }
                } else {
                    for p in 0..kb {
                        dst[p * r + q].write(S::T::default());
                    }
                }
            }
        }
    }
    // SAFETY: the loops above wrote every element of `out` (each tile's `r * kb`
    // elements: `live` rows from `x`, the rest zero), and `MaybeUninit<T>` has
    // the layout of `T`.
    unsafe { std::slice::from_raw_parts(out.as_ptr().cast::<S::T>(), len) }
}

/// Whether a one-slice product (a weight gradient) into a `C` of `len`
/// elements is bound by its first writes to `C`, which stall on memory, so
/// that each tile prefetching the next tile's lines pays: N6's 4096×4096
/// weight gradient ran 1.5× as fast with it; at N5's 1024×1024 and 784×4096
/// it cost a few percent.
fn streams(len: usize) -> bool {
    len >= 1 << 23
}

/// Prefetches the cache lines of the `rows × cols` tile of `c` at `(i, j)`
/// (clipped to `c`), in one burst before the tile before it runs: that
/// leaves the tile's loop (and its register allocation) as it is, where a
/// prefetch inside the loop cost small products up to 16 %.
#[inline(always)]
fn prefetch_tile<T>(c: &Out<'_, T>, i: usize, j: usize, rows: usize, cols: usize) {
    if i >= c.rows || j >= c.cols {
        return;
    }
    let size = std::mem::size_of::<T>();
    // One more line for a row that does not start on a line boundary.
    let lines = (cols.min(c.cols - j) * size).div_ceil(64) + 1;
    for r in 0..rows.min(c.rows - i) {
        let row = c
            .ptr
            .wrapping_add((i + r) * c.ldc + j)
            .cast_const()
            .cast::<u8>();
        for line in 0..lines {
            let at = row.wrapping_add(line * 64);
            #[cfg(target_arch = "x86_64")]
            // SAFETY: a prefetch is a hint: it never faults and changes no
            // memory, whatever the address.
            unsafe {
                use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
                _mm_prefetch::<_MM_HINT_T0>(at.cast());
            }
            #[cfg(not(target_arch = "x86_64"))]
            let _ = at;
        }
    }
}

/// One `MR × NR` register tile: `C[i..i+rows][j..j+cols] (+)= A_tile · B_panel`
/// over `kb` steps.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn tile<S: Simd, const MR: usize, const NV: usize>(
    s: S,
    kb: usize,
    a: impl ATile<S::T, MR>,
    b: &[S::T],
    c: &mut Out<'_, S::T>,
    i: usize,
    j: usize,
    rows: usize,
    cols: usize,
    accum: bool,
) {
    let l = S::LANES;
    let nr = NV * l;
    let mut t = [[s.zero(); NV]; MR];
    // A macro, not a closure: the accumulators must stay in registers.
    macro_rules! step {
        ($p:expr, $bp:expr) => {
            let mut bv = [s.zero(); NV];
            for (v, x) in bv.iter_mut().enumerate() {
                *x = s.load(&$bp[v * l..]);
            }
            let ap = a.col($p);
            for (row, &ar) in t.iter_mut().zip(&ap) {
                let av = s.splat(ar);
                for (x, &bb) in row.iter_mut().zip(&bv) {
                    *x = s.fma(av, bb, *x);
                }
            }
        };
    }
    for (p, bp) in b[..kb * nr].chunks_exact(nr).enumerate() {
        step!(p, bp);
    }
    if rows == MR && cols == nr {
        for (r, row) in t.iter().enumerate() {
            let cr = c.row(i + r, j, nr);
            for (v, &x) in row.iter().enumerate() {
                let d = &mut cr[v * l..];
                let x = if accum { s.add(x, s.load(d)) } else { x };
                s.store(x, d);
            }
        }
    } else {
        let mut tmp = [S::T::default(); TILE];
        for (r, row) in t.iter().enumerate() {
            for (v, &x) in row.iter().enumerate() {
                s.store(x, &mut tmp[r * nr + v * l..]);
            }
        }
        for r in 0..rows {
            let cr = c.row(i + r, j, cols);
            for (d, &x) in cr.iter_mut().zip(&tmp[r * nr..]) {
                *d = if accum { S::add_t(*d, x) } else { x };
            }
        }
    }
}

/// A zeroed `Box<[T; N]>` built on the heap directly (no `N`-sized stack
/// temporary), for workspace buffers too large for the stack.
pub fn zeroed_box<T: Elem, const N: usize>() -> Box<[T; N]> {
    match vec![T::default(); N].into_boxed_slice().try_into() {
        Ok(b) => b,
        Err(_) => unreachable!("a vector of N elements converts to [T; N]"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(m: usize, n: usize, k: usize, a: Strided<'_, f64>, b: Strided<'_, f64>) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                for p in 0..k {
                    c[i * n + j] += a.data[i * a.rs + p * a.cs] * b.data[p * b.rs + j * b.cs];
                }
            }
        }
        c
    }

    fn data(n: usize, seed: usize) -> Vec<f64> {
        (0..n)
            .map(|i| ((i * 37 + seed * 11) % 17) as f64 - 8.0)
            .collect()
    }

    /// Row-major `r×c` view of `d`, or of `d` holding the transpose.
    fn view(d: &[f64], r: usize, c: usize, trans: bool) -> Strided<'_, f64> {
        let (rs, cs) = if trans { (1, r) } else { (c, 1) };
        Strided { data: d, rs, cs }
    }

    fn f32s(x: &[f64]) -> Vec<f32> {
        x.iter().map(|&v| v as f32).collect()
    }

    /// `v`'s strides over `d` (the f32 copy of `v`'s data).
    fn like<'a>(d: &'a [f32], v: Strided<'_, f64>) -> Strided<'a, f32> {
        Strided {
            data: d,
            rs: v.rs,
            cs: v.cs,
        }
    }

    /// A one-slice product into a `C` large enough to be prefetched tile by
    /// tile (`streams`), with partial tiles at the right and bottom edges,
    /// through both plans and every build.
    #[test]
    fn a_streamed_output_matches_naive() {
        let (m, n, k) = (2051, 4101, 3);
        assert!(streams(m * n));
        let ad = data(m * k, 4);
        let bd = data(k * n, 5);
        for ta in [false, true] {
            let a = view(&ad, m, k, ta);
            let b = view(&bd, k, n, false);
            let want = f32s(&naive(m, n, k, a, b));
            let (af, bf) = (f32s(&ad), f32s(&bd));
            let (a32, b32) = (like(&af, a), like(&bf, b));
            for isa in [Isa::Best, Isa::Avx2, Isa::Portable] {
                for plan in [Plan::Panel, Plan::Blocked] {
                    let mut c = vec![f32::NAN; m * n];
                    gemm_plan(plan, isa, m, n, k, a32, b32, &mut c, false);
                    assert!(c == want, "{plan:?} {isa:?} ta={ta}");
                }
            }
        }
    }

    /// Every build (widest, AVX2, portable) and blocking plan in f32 and f64
    /// against a naive product: shapes with every remainder of the row tile, column panel, row
    /// block and depth slice; plain and transposed operands; overwrite and
    /// accumulate. Small integers keep every sum exact in f32.
    #[test]
    fn matches_naive_for_all_tile_remainders_and_strides() {
        let shapes = [
            (1, 1, 1),
            (5, 3, 2),
            (7, 45, 9),
            (9, 33, 17),
            (4, 70, 3),
            (13, 16, 8),
            (70, 47, 300),
            (130, 10, 64),
            (3, 100, 520),
            // Past one block of `A` rows and of `B` columns (the blocked
            // plan's `MC` and `NC`), with partial wide and narrow panels.
            (137, 1050, 9),
            (9, 1041, 3),
            (130, 40, 600),
        ];
        for &(m, n, k) in &shapes {
            let ad = data(m * k, 1);
            let bd = data(k * n, 2);
            let init = data(m * n, 3);
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                let a = view(&ad, m, k, ta);
                let b = view(&bd, k, n, tb);
                let want = naive(m, n, k, a, b);
                let (af, bf) = (f32s(&ad), f32s(&bd));
                let (a32, b32) = (like(&af, a), like(&bf, b));
                for acc in [false, true] {
                    let w: Vec<f64> = (0..m * n)
                        .map(|q| want[q] + if acc { init[q] } else { 0.0 })
                        .collect();
                    let at = format!("{m}x{n}x{k} ta={ta} tb={tb} acc={acc}");
                    for isa in [Isa::Best, Isa::Avx2, Isa::Portable] {
                        let mut c = init.clone();
                        gemm_with(isa, m, n, k, a, b, &mut c, acc);
                        assert_eq!(c, w, "f64 {isa:?} {at}");
                        let mut c = f32s(&init);
                        gemm_with(isa, m, n, k, a32, b32, &mut c, acc);
                        assert_eq!(c, f32s(&w), "f32 {isa:?} {at}");
                        for plan in [Plan::Panel, Plan::Blocked] {
                            let mut c = init.clone();
                            gemm_plan(plan, isa, m, n, k, a, b, &mut c, acc);
                            assert_eq!(c, w, "f64 {plan:?} {isa:?} {at}");
                            let mut c = f32s(&init);
                            gemm_plan(plan, isa, m, n, k, a32, b32, &mut c, acc);
                            assert_eq!(c, f32s(&w), "f32 {plan:?} {isa:?} {at}");
                        }
                    }
                    if !tb {
                        let mut c = init.clone();
                        gemm(m, n, k, a, &bd, &mut c, acc);
                        assert_eq!(c, w, "gemm f64 {at}");
                        let mut c = f32s(&init);
                        gemm(m, n, k, a32, &bf, &mut c, acc);
                        assert_eq!(c, f32s(&w), "gemm f32 {at}");
                    }
                    let mut c = init.clone();
                    gemm_strided(m, n, k, a, b, &mut c, acc);
                    assert_eq!(c, w, "gemm_strided f64 {at}");
                }
            }
        }
    }

    /// The automatic plan on the N4-N6 products (`a_rows`/`b_rows` false for
    /// a transposed operand), as measured in the doc comments of the
    /// thresholds.
    #[test]
    fn the_automatic_plan_blocks_where_it_measured_faster() {
        let auto = |m, n, k, a_rows, b_rows| Plan::Auto.blocked(m, n, k, a_rows, b_rows);
        // Forward products: blocked once `B` is large.
        assert!(auto(64, 1024, 784, true, true));
        assert!(auto(64, 4096, 4096, true, true));
        assert!(!auto(128, 256, 784, true, true));
        // Weight gradients: blocked once `C` is large.
        assert!(auto(1024, 1024, 64, false, true));
        assert!(auto(512, 512, 64, false, true));
        assert!(!auto(784, 256, 128, false, true));
        // Input gradients with few rows: panels, however large `B`.
        assert!(!auto(64, 4096, 4096, true, false));
        assert!(!auto(256, 1024, 1024, true, false));
        assert!(auto(512, 1024, 1024, true, false));
        // One panel wide: never blocked.
        assert!(!auto(4096, 32, 4096, false, true));
        assert!(!Plan::Panel.blocked(4096, 4096, 4096, true, true));
        assert!(Plan::Blocked.blocked(1, 1, 1, true, true));
    }

    #[test]
    fn a_shape_whose_size_overflows_panics() {
        let a = Strided {
            data: &[][..],
            rs: 0,
            cs: 1,
        };
        let r = std::panic::catch_unwind(|| {
            gemm_with::<f32>(
                Isa::Best,
                1 << (usize::BITS - 1),
                2,
                0,
                a,
                a,
                &mut [],
                false,
            )
        });
        assert!(r.is_err());
    }

    #[test]
    fn empty_depth_overwrites_or_keeps() {
        let mut c = vec![1.0f32; 6];
        let a = Strided {
            data: &[][..],
            rs: 0,
            cs: 1,
        };
        gemm(2, 3, 0, a, &[], &mut c, true);
        assert_eq!(c, vec![1.0; 6]);
        gemm(2, 3, 0, a, &[], &mut c, false);
        assert_eq!(c, vec![0.0; 6]);
    }
}
