//! Products too small for the GEMM's blocking to pay (N3's 32×64×64 and
//! smaller): all of `B` is packed once, on the stack, in panels as wide as
//! the width allows (four vectors: one 64-column panel in f32 with AVX-512,
//! where the GEMM sweeps two panels of 32), and no blocking, thread or
//! depth-slice logic runs. Generated code calls [`matmul_small`] when
//! [`small_fits`] allows it.
//!
//! The register tiles are the GEMM's own (`sweep` and `tile` in the crate
//! root, the same instruction set chosen by the same detection), so every
//! element of `C` is the same chain of operations as in the GEMM: a
//! multiply-add chain from zero over `p = 0..K` in order, `K` being within
//! one depth slice. Results are bit-identical to [`crate::gemm_strided`],
//! which the interpreter calls for the same products.

use crate::simd::{Portable, Simd};
use crate::{pack, sweep, Buf, Elem, Isa, Out, Strided, A_BUF};

/// Elements of the stack buffer holding all of `B`, packed: `K` rows of at
/// most 64 (`N` rounded up to whole panels).
const B_ALL: usize = 128 * 64;

/// Whether a product with width `n` and inner dimension `k` may go to
/// [`matmul_small`]: `n` at most 64 and `k` at most 128, so all of `B`
/// fits one stack buffer of 32 KiB in f32.
pub const fn small_fits(n: usize, k: usize) -> bool {
    k >= 1 && k <= 128 && n >= 1 && n <= 64
}

/// Element types [`matmul_small`] computes in (f32 and f64, as the GEMM).
#[doc(hidden)]
pub trait SmallElem: Elem {
    /// [`matmul_small_with`]: instantiated where it is called, so the shape
    /// is constant there.
    fn small_const<const N: usize, const K: usize, const TA: bool, const TB: bool>(
        isa: Isa,
        m: usize,
        a: &[Self],
        b: &[Self],
        c: &mut [Self],
    );
    /// [`matmul_small_dyn_with`]: compiled in this crate, at its optimisation
    /// level.
    #[allow(clippy::too_many_arguments)]
    fn small_dyn(
        isa: Isa,
        m: usize,
        n: usize,
        k: usize,
        ta: bool,
        tb: bool,
        a: &[Self],
        b: &[Self],
        c: &mut [Self],
    );
}

/// `c[m×n] = op(a) · op(b)` with `n = N` and `k = K` constants: `a` stored
/// `[m, K]` (`[K, m]` when `TA`), `b` stored `[K, N]` (`[N, K]` when `TB`),
/// `c` row-major. Bit-identical to [`crate::gemm_strided`] on the same
/// operands. Does not compile unless `small_fits(N, K)`; panics if a buffer
/// is too short.
#[inline]
pub fn matmul_small<
    T: SmallElem,
    const N: usize,
    const K: usize,
    const TA: bool,
    const TB: bool,
>(
    m: usize,
    a: &[T],
    b: &[T],
    c: &mut [T],
) {
    matmul_small_with::<T, N, K, TA, TB>(Isa::Best, m, a, b, c)
}

/// [`matmul_small`] through a chosen build (tests compare each with the
/// GEMM's build of the same name, [`crate::gemm_with`]).
#[doc(hidden)]
#[inline]
pub fn matmul_small_with<
    T: SmallElem,
    const N: usize,
    const K: usize,
    const TA: bool,
    const TB: bool,
>(
    isa: Isa,
    m: usize,
    a: &[T],
    b: &[T],
    c: &mut [T],
) {
    const { assert!(small_fits(N, K), "matmul_small: K or N out of range") };
    T::small_const::<N, K, TA, TB>(isa, m, a, b, c)
}

/// [`matmul_small`] with the shape as values: the same results, all of its
/// code compiled in this crate. Generated code calls it in builds with debug
/// assertions (dev builds), where [`matmul_small`], generic over the shape,
/// would be compiled at the user's optimisation level; a dev build that
/// optimises `gradc-runtime` (README, "Debug builds") runs this optimised.
/// Panics unless `small_fits(n, k)` or if a buffer is too short.
#[allow(clippy::too_many_arguments)]
#[inline]
pub fn matmul_small_dyn<T: SmallElem>(
    m: usize,
    n: usize,
    k: usize,
    ta: bool,
    tb: bool,
    a: &[T],
    b: &[T],
    c: &mut [T],
) {
    T::small_dyn(Isa::Best, m, n, k, ta, tb, a, b, c)
}

/// [`matmul_small_dyn`] through a chosen build (tests).
#[doc(hidden)]
#[allow(clippy::too_many_arguments)]
#[inline]
pub fn matmul_small_dyn_with<T: SmallElem>(
    isa: Isa,
    m: usize,
    n: usize,
    k: usize,
    ta: bool,
    tb: bool,
    a: &[T],
    b: &[T],
    c: &mut [T],
) {
    T::small_dyn(isa, m, n, k, ta, tb, a, b, c)
}

/// [`matmul_small`] when `small_fits(N, K)`, else the GEMM (as
/// `matmul_tn` and friends call it): for a depth `K` that is the batch size
/// `B` of a const-generic network, known only per instantiation. Either way
/// bit-identical to [`crate::gemm_strided`].
#[inline]
pub fn matmul_small_or_gemm<
    T: SmallElem,
    const N: usize,
    const K: usize,
    const TA: bool,
    const TB: bool,
>(
    m: usize,
    a: &[T],
    b: &[T],
    c: &mut [T],
) {
    if const { small_fits(N, K) } {
        T::small_const::<N, K, TA, TB>(Isa::Best, m, a, b, c)
    } else {
        let (a, b) = views((m, N, K), (TA, TB), a, b);
        crate::gemm_strided(m, N, K, a, b, c, false)
    }
}

/// [`matmul_small_or_gemm`] with the shape as values (dev builds, as
/// [`matmul_small_dyn`]).
#[allow(clippy::too_many_arguments)]
#[inline]
pub fn matmul_small_or_gemm_dyn<T: SmallElem>(
    m: usize,
    n: usize,
    k: usize,
    ta: bool,
    tb: bool,
    a: &[T],
    b: &[T],
    c: &mut [T],
) {
    if small_fits(n, k) {
        T::small_dyn(Isa::Best, m, n, k, ta, tb, a, b, c)
    } else {
        let (a, b) = views((m, n, k), (ta, tb), a, b);
        crate::gemm_strided(m, n, k, a, b, c, false)
    }
}

/// `op(a)` and `op(b)` as strided views, as `matmul_tn` and friends make them.
#[inline(always)]
fn views<'a, T>(
    (m, n, k): (usize, usize, usize),
    (ta, tb): (bool, bool),
    a: &'a [T],
    b: &'a [T],
) -> (Strided<'a, T>, Strided<'a, T>) {
    let (ars, acs) = if ta { (1, m) } else { (k, 1) };
    let (brs, bcs) = if tb { (1, k) } else { (n, 1) };
    (
        Strided {
            data: a,
            rs: ars,
            cs: acs,
        },
        Strided {
            data: b,
            rs: brs,
            cs: bcs,
        },
    )
}

macro_rules! small_elem {
    ($t:ident, $avx512:ident, $avx2:ident) => {
        impl SmallElem for $t {
            #[inline]
            fn small_const<const N: usize, const K: usize, const TA: bool, const TB: bool>(
                isa: Isa,
                m: usize,
                a: &[$t],
                b: &[$t],
                c: &mut [$t],
            ) {
                small_body!($t, $avx512, $avx2, N, K, TA, TB, isa, m, N, K, TA, TB, a, b, c)
            }

            fn small_dyn(
                isa: Isa,
                m: usize,
                n: usize,
                k: usize,
                ta: bool,
                tb: bool,
                a: &[$t],
                b: &[$t],
                c: &mut [$t],
            ) {
                small_body!($t, $avx512, $avx2, 0, 0, false, false, isa, m, n, k, ta, tb, a, b, c)
            }
        }
    };
}

/// The dispatch of both entry points; `$cn`, `$ck`, `$cta`, `$ctb` are the
/// constant shape and transposes (`$cn` 0 when they are only known at run
/// time), passed on to the tiles.
macro_rules! small_body {
    ($t:ident, $avx512:ident, $avx2:ident, $cn:expr, $ck:expr, $cta:expr, $ctb:expr, $isa:ident, $m:ident, $n:expr, $k:expr, $ta:expr, $tb:expr, $a:ident, $b:ident, $c:ident) => {{
        let (isa, m, n, k) = ($isa, $m, $n, $k);
        assert!(
            small_fits(n, k),
            "matmul_small: k = {k} or n = {n} out of range"
        );
        let (ta, tb, c) = ($ta, $tb, $c);
        if m.saturating_mul(k * n) >= crate::MIN_MACS {
            // Tall enough for threads to pay: the GEMM (the same results).
            let (a, b) = views((m, n, k), (ta, tb), $a, $b);
            return match isa {
                Isa::Best => crate::gemm_strided(m, n, k, a, b, c, false),
                _ => crate::gemm_with(isa, m, n, k, a, b, c, false),
            };
        }
        #[cfg(target_arch = "x86_64")]
        if isa != Isa::Portable {
            use crate::simd::{$avx2, $avx512};
            if let Some(s) = $avx512::detect().filter(|_| isa == Isa::Best) {
                // SAFETY: the token `s` exists, so the CPU has the
                // entry point's features (its only requirement).
                return unsafe {
                    x86::avx512::<_, { $cn }, { $ck }, { $cta }, { $ctb }>(
                        s, m, n, k, ta, tb, $a, $b, c,
                    )
                };
            }
            if let Some(s) = $avx2::detect() {
                // SAFETY: as above.
                return unsafe {
                    x86::avx2::<_, { $cn }, { $ck }, { $cta }, { $ctb }>(
                        s, m, n, k, ta, tb, $a, $b, c,
                    )
                };
            }
        }
        // The GEMM's portable tile.
        kernel::<_, 4, 8>(Portable::<$t>::new(), m, n, k, ta, tb, $a, $b, c)
    }};
}
small_elem!(f32, Avx512F32, Avx2F32);
small_elem!(f64, Avx512F64, Avx2F64);

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::kernel;
    use crate::simd::Simd;

    // 32 registers: 8 × 1 or 8 × 2 accumulators, as the GEMM, or 4 × 4 (one
    // 64-column panel in f32 instead of the GEMM's two of 32).
    #[target_feature(enable = "avx512f,avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    pub(super) fn avx512<
        S: Simd,
        const CN: usize,
        const CK: usize,
        const CTA: bool,
        const CTB: bool,
    >(
        s: S,
        m: usize,
        n: usize,
        k: usize,
        ta: bool,
        tb: bool,
        a: &[S::T],
        b: &[S::T],
        c: &mut [S::T],
    ) {
        // Constants where the caller's shape is (the loops then unroll).
        let (n, k, ta, tb) = if CN > 0 {
            (CN, CK, CTA, CTB)
        } else {
            (n, k, ta, tb)
        };
        if n <= S::LANES {
            kernel::<S, 8, 1>(s, m, n, k, ta, tb, a, b, c)
        } else if n <= 2 * S::LANES {
            kernel::<S, 8, 2>(s, m, n, k, ta, tb, a, b, c)
        } else {
            kernel::<S, 4, 4>(s, m, n, k, ta, tb, a, b, c)
        }
    }

    // 16 registers: 6 × 1 or 6 × 2 accumulators, as the GEMM.
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    pub(super) fn avx2<
        S: Simd,
        const CN: usize,
        const CK: usize,
        const CTA: bool,
        const CTB: bool,
    >(
        s: S,
        m: usize,
        n: usize,
        k: usize,
        ta: bool,
        tb: bool,
        a: &[S::T],
        b: &[S::T],
        c: &mut [S::T],
    ) {
        let (n, k, ta, tb) = if CN > 0 {
            (CN, CK, CTA, CTB)
        } else {
            (n, k, ta, tb)
        };
        if n <= S::LANES {
            kernel::<S, 6, 1>(s, m, n, k, ta, tb, a, b, c)
        } else {
            kernel::<S, 6, 2>(s, m, n, k, ta, tb, a, b, c)
        }
    }
}

/// All of `B` packed into `NV`-vector panels on the stack, then every panel
/// swept by `MR`-row tiles of `A` read in place, as the GEMM's panel path
/// does for one depth slice.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn kernel<S: Simd, const MR: usize, const NV: usize>(
    s: S,
    m: usize,
    n: usize,
    k: usize,
    ta: bool,
    tb: bool,
    a: &[S::T],
    b: &[S::T],
    c: &mut [S::T],
) {
    let (a, b) = views((m, n, k), (ta, tb), a, b);
    let nr = NV * S::LANES;
    // Panels of at most 64 columns, so `k` rows of `n` rounded up to whole
    // panels fit `B_ALL` (64 is a multiple of every panel width).
    assert!(nr <= 64 && 64 % nr == 0 && MR <= 16 && small_fits(n, k));
    // B(p, j) = Bᵀ(j, p): panels pack like `A` tiles with the roles swapped.
    let bt = Strided {
        data: b.data,
        rs: b.cs,
        cs: b.rs,
    };
    let mut bbuf = Buf::<S::T, B_ALL>::new();
    let bp = pack::<S>(s, &mut bbuf.0, bt, 0, 0, n, k, nr);
    let mut abuf = Buf::<S::T, A_BUF>::new();
    let mut c = Out::new(c, m, n);
    for (t, panel) in bp.chunks_exact(k * nr).enumerate() {
        let j = t * nr;
        sweep::<S, MR, NV>(
            s,
            m,
            k,
            0,
            j,
            nr.min(n - j),
            a,
            panel,
            &mut abuf.0,
            &mut c,
            false,
            // C of a small product stays in cache.
            false,
        );
    }
}
