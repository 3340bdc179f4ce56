//! Run-time kernels for gradc-generated code.
//!
//! Generated code stays straight-line Rust with constant shapes; the one thing it
//! hands to this crate is dense matrix multiplication, where register blocking and
//! the widest vector unit of the running CPU matter most. [`gemm`] picks an
//! AVX-512 or AVX2+FMA build of the same safe kernel at run time (feature
//! detection, cached by std), so a plain `cargo build --release` still uses the
//! machine's vector units; other targets get the portable build.

/// The element types gradc generates code for.
pub trait Elem: Copy + Default + Send + Sync + 'static + sealed::Sealed {
    #[doc(hidden)]
    fn madd<const FMA: bool>(a: Self, b: Self, c: Self) -> Self;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

macro_rules! elem {
    ($t:ty) => {
        impl Elem for $t {
            #[inline(always)]
            fn madd<const FMA: bool>(a: Self, b: Self, c: Self) -> Self {
                // `mul_add` is one instruction only where FMA is enabled; elsewhere
                // it is a slow libm call, so the portable build multiplies and adds.
                if FMA {
                    a.mul_add(b, c)
                } else {
                    a * b + c
                }
            }
        }
    };
}
elem!(f32);
elem!(f64);

/// Strided view of the left operand: element `(i, p)` is `a[i * rs + p * cs]`, so a
/// transposed operand is the same buffer with its strides swapped.
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
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU supports AVX-512F and FMA (checked just above), the
            // only requirement of calling a `#[target_feature]` function.
            unsafe { x86::gemm_avx512(m, n, k, a, b, c, acc) };
            return;
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU supports AVX2 and FMA (checked just above).
            unsafe { x86::gemm_avx2(m, n, k, a, b, c, acc) };
            return;
        }
    }
    kernel::gemm::<T, 4, 8, false>(m, n, k, a, b, c, acc);
}

/// The same product through the portable build only (for tests and benchmarks).
pub fn gemm_portable<T: Elem>(
    m: usize,
    n: usize,
    k: usize,
    a: Strided<'_, T>,
    b: &[T],
    c: &mut [T],
    acc: bool,
) {
    kernel::gemm::<T, 4, 8, false>(m, n, k, a, b, c, acc);
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{kernel, Elem, Strided};

    // Register budget: R rows × W columns of accumulators. AVX-512 has 32 vector
    // registers: 4 × 32 f32 = 8 zmm. AVX2 has 16: 4 × 16 f32 = 8 ymm.
    #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
    pub(crate) fn gemm_avx512<T: Elem>(
        m: usize,
        n: usize,
        k: usize,
        a: Strided<'_, T>,
        b: &[T],
        c: &mut [T],
        acc: bool,
    ) {
        if std::mem::size_of::<T>() == 4 {
            kernel::gemm::<T, 4, 16, true>(m, n, k, a, b, c, acc)
        } else {
            kernel::gemm::<T, 4, 16, true>(m, n, k, a, b, c, acc)
        }
    }

    #[target_feature(enable = "avx2,fma")]
    pub(crate) fn gemm_avx2<T: Elem>(
        m: usize,
        n: usize,
        k: usize,
        a: Strided<'_, T>,
        b: &[T],
        c: &mut [T],
        acc: bool,
    ) {
        if std::mem::size_of::<T>() == 4 {
            kernel::gemm::<T, 4, 16, true>(m, n, k, a, b, c, acc)
        } else {
            kernel::gemm::<T, 4, 8, true>(m, n, k, a, b, c, acc)
        }
    }
}

mod kernel {
    use super::{Elem, Strided};

    /// Column tiles of width `W` (then narrower tiles for the remainder), each
    /// swept by blocks of `R` rows whose `R × W` accumulators stay in registers
    /// for the whole `k` loop.
    #[inline(always)]
    pub(crate) fn gemm<T: Elem, const R: usize, const W: usize, const FMA: bool>(
        m: usize,
        n: usize,
        k: usize,
        a: Strided<'_, T>,
        b: &[T],
        c: &mut [T],
        acc: bool,
    ) {
        let mut j = 0;
        while j < n {
            let left = n - j;
            j += if left >= W {
                tile::<T, R, W, FMA>(m, n, k, a, b, c, acc, j)
            } else if left >= 8 {
                tile::<T, R, 8, FMA>(m, n, k, a, b, c, acc, j)
            } else if left >= 4 {
                tile::<T, R, 4, FMA>(m, n, k, a, b, c, acc, j)
            } else {
                tile::<T, R, 1, FMA>(m, n, k, a, b, c, acc, j)
            };
        }
    }

    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn tile<T: Elem, const R: usize, const W: usize, const FMA: bool>(
        m: usize,
        n: usize,
        k: usize,
        a: Strided<'_, T>,
        b: &[T],
        c: &mut [T],
        acc: bool,
        j: usize,
    ) -> usize {
        let mut i = 0;
        while i + R <= m {
            block::<T, R, W, FMA>(n, k, a, b, c, acc, i, j);
            i += R;
        }
        while i < m {
            block::<T, 1, W, FMA>(n, k, a, b, c, acc, i, j);
            i += 1;
        }
        W
    }

    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn block<T: Elem, const R: usize, const W: usize, const FMA: bool>(
        n: usize,
        k: usize,
        a: Strided<'_, T>,
        b: &[T],
        c: &mut [T],
        acc: bool,
        i: usize,
        j: usize,
    ) {
        let mut t = [[T::default(); W]; R];
        if acc {
            for (r, row) in t.iter_mut().enumerate() {
                row.copy_from_slice(&c[(i + r) * n + j..][..W]);
            }
        }
        let mut arow = [0usize; R];
        for (r, o) in arow.iter_mut().enumerate() {
            *o = (i + r) * a.rs;
        }
        for p in 0..k {
            let Ok(brow) = <&[T; W]>::try_from(&b[p * n + j..][..W]) else {
                unreachable!("the slice has length W")
            };
            let pc = p * a.cs;
            for r in 0..R {
                let av = a.data[arow[r] + pc];
                for q in 0..W {
                    t[r][q] = T::madd::<FMA>(av, brow[q], t[r][q]);
                }
            }
        }
        for (r, row) in t.iter().enumerate() {
            c[(i + r) * n + j..][..W].copy_from_slice(row);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(m: usize, n: usize, k: usize, a: Strided<'_, f64>, b: &[f64]) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                for p in 0..k {
                    c[i * n + j] += a.data[i * a.rs + p * a.cs] * b[p * n + j];
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

    #[test]
    fn matches_naive_for_all_tile_remainders_and_strides() {
        for &(m, n, k) in &[(1, 1, 1), (5, 3, 2), (7, 45, 9), (9, 33, 17), (4, 70, 3)] {
            let ad = data(m * k, 1);
            let b = data(k * n, 2);
            for trans in [false, true] {
                let a = if trans {
                    Strided {
                        data: &ad[..],
                        rs: 1,
                        cs: m,
                    }
                } else {
                    Strided {
                        data: &ad[..],
                        rs: k,
                        cs: 1,
                    }
                };
                let want = naive(m, n, k, a, &b);
                for acc in [false, true] {
                    let init = data(m * n, 3);
                    let mut c = init.clone();
                    gemm(m, n, k, a, &b, &mut c, acc);
                    let mut c2 = init.clone();
                    gemm_portable(m, n, k, a, &b, &mut c2, acc);
                    let af: Vec<f32> = ad.iter().map(|&x| x as f32).collect();
                    let bf: Vec<f32> = b.iter().map(|&x| x as f32).collect();
                    let mut cf: Vec<f32> = init.iter().map(|&x| x as f32).collect();
                    let a32 = Strided {
                        data: &af[..],
                        rs: a.rs,
                        cs: a.cs,
                    };
                    gemm(m, n, k, a32, &bf, &mut cf, acc);
                    for q in 0..m * n {
                        let w = want[q] + if acc { init[q] } else { 0.0 };
                        // Small integers: exact in f32 and f64.
                        assert_eq!(
                            (c[q], c2[q], cf[q] as f64),
                            (w, w, w),
                            "{m}x{n}x{k} t={trans} acc={acc} at {q}"
                        );
                    }
                }
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

/// A global allocator that counts allocations on the current thread, for tests
/// that prove a call allocates nothing (`#[global_allocator] static A:
/// CountingAlloc = CountingAlloc;` then [`CountingAlloc::count`] around the call).
#[derive(Debug, Clone, Copy, Default)]
pub struct CountingAlloc;

thread_local! {
    static ALLOCS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

impl CountingAlloc {
    /// Allocations (including reallocations) made by this thread so far.
    pub fn count() -> u64 {
        ALLOCS.with(|c| c.get())
    }

    fn bump() {
        // `try_with`: during thread teardown the counter may be gone already.
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees carry over; counting touches only a
// const-initialised thread-local `Cell`, which never allocates.
unsafe impl std::alloc::GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        Self::bump();
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        unsafe { std::alloc::System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        Self::bump();
        // SAFETY: forwarded unchanged; the caller upholds `alloc_zeroed`'s contract.
        unsafe { std::alloc::System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        Self::bump();
        // SAFETY: forwarded unchanged; the caller upholds `realloc`'s contract.
        unsafe { std::alloc::System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: forwarded unchanged; the caller upholds `dealloc`'s contract.
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
}
