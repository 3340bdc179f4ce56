//! Products too small for the GEMM's packing to pay (N3's 32×64×64 and
//! smaller): loops with the inner dimension `K` and the width `N` as
//! constants, so LLVM unrolls them into whole vectors and keeps a block of
//! rows of `C` in registers. Generated code calls [`matmul_small`] when the
//! shape allows it ([`small_fits`]).
//!
//! Every element is computed exactly as the GEMM computes it (its `driver`
//! and `tile`): a multiply-add chain from zero over `p = 0..K` in
//! order, fused where the GEMM's kernel fuses (its AVX-512 and AVX2+FMA
//! builds), separate multiply and add where it does not (the portable build),
//! chosen by the same feature detection. `K` is at most one GEMM depth slice,
//! so no slices are added. Results are bit-identical to [`crate::gemm_strided`],
//! which the interpreter calls for the same products.

use crate::{Elem, Isa, Strided};

/// The largest `K × N` the kernel handles: a transposed `B` is copied into a
/// `K × N` stack array (16 KiB in f32).
pub const SMALL_MAX_KN: usize = 4096;

/// Whether a product with inner dimension `k` and width `n` may go to
/// [`matmul_small`]: `k` within one GEMM depth slice, `n` at most 64 (a row
/// block of `C` fits the registers) and `K × N` within [`SMALL_MAX_KN`].
pub const fn small_fits(n: usize, k: usize) -> bool {
    k >= 1 && k <= crate::KC && n >= 1 && n <= 64 && k * n <= SMALL_MAX_KN
}

/// Scalar arithmetic of the kernel: `madd` as the GEMM build of the same
/// feature set computes it.
#[doc(hidden)]
pub trait SmallElem: Elem + std::ops::Mul<Output = Self> + std::ops::Add<Output = Self> {
    /// `a · b + c` rounded once.
    fn fused(a: Self, b: Self, c: Self) -> Self;
}

impl SmallElem for f32 {
    #[inline(always)]
    fn fused(a: f32, b: f32, c: f32) -> f32 {
        a.mul_add(b, c)
    }
}

impl SmallElem for f64 {
    #[inline(always)]
    fn fused(a: f64, b: f64, c: f64) -> f64 {
        a.mul_add(b, c)
    }
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
    let len = m.checked_mul(K).expect("m·K overflows");
    if m.saturating_mul(K * N) >= crate::MIN_MACS {
        // Tall enough for threads to pay: the GEMM (the same results).
        let (ars, acs) = if TA { (1, m) } else { (K, 1) };
        let (brs, bcs) = if TB { (1, K) } else { (N, 1) };
        let a = Strided {
            data: a,
            rs: ars,
            cs: acs,
        };
        let b = Strided {
            data: b,
            rs: brs,
            cs: bcs,
        };
        return match isa {
            Isa::Best => crate::gemm_strided(m, N, K, a, b, c, false),
            _ => crate::gemm_with(isa, m, N, K, a, b, c, false),
        };
    }
    let (a, b, c) = (&a[..len], &b[..K * N], &mut c[..m * N]);
    #[cfg(target_arch = "x86_64")]
    if isa != Isa::Portable {
        if isa == Isa::Best && x86::has_avx512() {
            // SAFETY: the CPU has the features the function enables.
            return unsafe { x86::avx512::<T, N, K, TA, TB>(m, a, b, c) };
        }
        if x86::has_avx2() {
            // SAFETY: as above.
            return unsafe { x86::avx2::<T, N, K, TA, TB>(m, a, b, c) };
        }
    }
    kernel::<T, false, N, K, TA, TB, 4>(m, a, b, c)
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{kernel, SmallElem};

    /// The GEMM's AVX-512 build runs here (the same detection).
    #[inline]
    pub(super) fn has_avx512() -> bool {
        crate::simd::Avx512F32::detect().is_some()
    }

    /// The GEMM's AVX2+FMA build runs here (the same detection).
    #[inline]
    pub(super) fn has_avx2() -> bool {
        crate::simd::Avx2F32::detect().is_some()
    }

    // 32 vector registers: 4 rows of up to 64 lanes of accumulators.
    #[target_feature(enable = "avx512f,avx2,fma")]
    pub(super) fn avx512<
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
        if N <= 16 {
            kernel::<T, true, N, K, TA, TB, 8>(m, a, b, c)
        } else {
            kernel::<T, true, N, K, TA, TB, 4>(m, a, b, c)
        }
    }

    // 16 vector registers: 2 rows.
    #[target_feature(enable = "avx2,fma")]
    pub(super) fn avx2<
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
        kernel::<T, true, N, K, TA, TB, 2>(m, a, b, c)
    }
}

/// The loops: `B` made row-major (copied when `TB`), then `R` rows of `C` at
/// a time, each element a chain over `p` in order.
#[inline(always)]
fn kernel<
    T: SmallElem,
    const FUSED: bool,
    const N: usize,
    const K: usize,
    const TA: bool,
    const TB: bool,
    const R: usize,
>(
    m: usize,
    a: &[T],
    b: &[T],
    c: &mut [T],
) {
    if TB {
        // B(p, j) = b[j·K + p], copied row-major.
        let mut copy = [[T::default(); N]; K];
        for (j, col) in b.chunks_exact(K).enumerate() {
            for (p, &v) in col.iter().enumerate() {
                copy[p][j] = v;
            }
        }
        rows::<T, FUSED, N, K, TA, R>(m, a, &copy, c);
    } else {
        let bt: &[[T; N]; K] = b.as_chunks::<N>().0.try_into().expect("B has K rows");
        rows::<T, FUSED, N, K, TA, R>(m, a, bt, c);
    }
}

/// `R` rows of `C` at a time against the row-major `B`.
#[inline(always)]
fn rows<
    T: SmallElem,
    const FUSED: bool,
    const N: usize,
    const K: usize,
    const TA: bool,
    const R: usize,
>(
    m: usize,
    a: &[T],
    bt: &[[T; N]; K],
    c: &mut [T],
) {
    let (crows, _) = c.as_chunks_mut::<N>();
    let a_at = |i: usize, p: usize| if TA { a[p * m + i] } else { a[i * K + p] };
    let mut i = 0;
    while i + R <= m {
        let mut acc = [[T::default(); N]; R];
        for (p, brow) in bt.iter().enumerate() {
            // Loaded once for the `R` rows.
            let brow: [T; N] = *brow;
            for (r, row) in acc.iter_mut().enumerate() {
                let av = a_at(i + r, p);
                for (x, &bv) in row.iter_mut().zip(&brow) {
                    *x = madd::<T, FUSED>(av, bv, *x);
                }
            }
        }
        for (r, row) in acc.iter().enumerate() {
            crows[i + r] = *row;
        }
        i += R;
    }
    while i < m {
        let mut acc = [T::default(); N];
        for (p, brow) in bt.iter().enumerate() {
            let av = a_at(i, p);
            for (x, &bv) in acc.iter_mut().zip(brow) {
                *x = madd::<T, FUSED>(av, bv, *x);
            }
        }
        crows[i] = acc;
        i += 1;
    }
}

#[inline(always)]
fn madd<T: SmallElem, const FUSED: bool>(a: T, b: T, c: T) -> T {
    if FUSED {
        T::fused(a, b, c)
    } else {
        a * b + c
    }
}
