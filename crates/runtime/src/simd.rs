//! Vector operations behind one trait, one implementation per instruction set
//! and element type. A value of an implementing type is a token: the x86 ones
//! are only made by `detect()` after the CPU reported the features, which is
//! what makes their intrinsic calls sound.

use crate::Elem;
use std::marker::PhantomData;
use std::mem::MaybeUninit;

/// `LANES` elements of `T` in one register.
pub(crate) trait Simd: Copy {
    type T: Elem;
    type V: Copy;
    const LANES: usize;
    fn zero(self) -> Self::V;
    fn splat(self, x: Self::T) -> Self::V;
    /// `a * b + c`.
    fn fma(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    fn add(self, a: Self::V, b: Self::V) -> Self::V;
    fn add_t(a: Self::T, b: Self::T) -> Self::T;
    /// The first `LANES` elements of `x` (panics if shorter).
    fn load(self, x: &[Self::T]) -> Self::V;
    /// Into the first `LANES` elements of `x` (panics if shorter).
    fn store(self, v: Self::V, x: &mut [Self::T]);
    /// `dst[v * r + u] = src[u][p + v]` for `u, v < 8`: an 8 × 8 block
    /// transposed, as packing a row-major operand into tiles needs.
    #[inline(always)]
    fn transpose8(
        self,
        src: [&[Self::T]; 8],
        p: usize,
        dst: &mut [MaybeUninit<Self::T>],
        r: usize,
    ) {
        transpose8_scalar(src, p, dst, r)
    }
}

#[inline(always)]
fn transpose8_scalar<T: Copy>(src: [&[T]; 8], p: usize, dst: &mut [MaybeUninit<T>], r: usize) {
    let blk: [[T; 8]; 8] = std::array::from_fn(|u| std::array::from_fn(|v| src[u][p + v]));
    for v in 0..8 {
        for (u, d) in dst[v * r..][..8].iter_mut().enumerate() {
            d.write(blk[u][v]);
        }
    }
}

/// Plain Rust, one element per "vector": the kernel's fixed-size loops over
/// these are what LLVM vectorises for the baseline target.
#[derive(Clone, Copy)]
pub(crate) struct Portable<T>(PhantomData<T>);

impl<T> Portable<T> {
    pub(crate) fn new() -> Self {
        Portable(PhantomData)
    }
}

macro_rules! portable {
    ($t:ty) => {
        impl Simd for Portable<$t> {
            type T = $t;
            type V = $t;
            const LANES: usize = 1;
            #[inline(always)]
            fn zero(self) -> $t {
                0.0
            }
            #[inline(always)]
            fn splat(self, x: $t) -> $t {
                x
            }
            // No FMA in the baseline target: `mul_add` would be a libm call.
            #[inline(always)]
            fn fma(self, a: $t, b: $t, c: $t) -> $t {
                a * b + c
            }
            #[inline(always)]
            fn add(self, a: $t, b: $t) -> $t {
                a + b
            }
            #[inline(always)]
            fn add_t(a: $t, b: $t) -> $t {
                a + b
            }
            #[inline(always)]
            fn load(self, x: &[$t]) -> $t {
                x[0]
            }
            #[inline(always)]
            fn store(self, v: $t, x: &mut [$t]) {
                x[0] = v;
            }
        }
    };
}
portable!(f32);
portable!(f64);

#[cfg(target_arch = "x86_64")]
pub(crate) use x86::*;

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::Simd;
    use std::arch::x86_64::*;
    use std::mem::MaybeUninit;

    macro_rules! isa {
        (
            $name:ident, $t:ty, $v:ty, $lanes:literal, [$($feat:tt),*],
            $zero:ident, $splat:ident, $fma:ident, $add:ident, $load:ident, $store:ident
            $(, $transpose:ident)?
        ) => {
            /// Token: proof that the running CPU has the features.
            #[derive(Clone, Copy)]
            pub(crate) struct $name(());

            impl $name {
                #[inline]
                pub(crate) fn detect() -> Option<Self> {
                    ($(std::arch::is_x86_feature_detected!($feat))&&*).then_some($name(()))
                }
            }

            // Every method is `inline(always)` and only reached through the
            // `#[target_feature]` entry points in `crate::x86`, so the intrinsics
            // compile to single instructions there.
            impl Simd for $name {
                type T = $t;
                type V = $v;
                const LANES: usize = $lanes;
                #[inline(always)]
                fn zero(self) -> $v {
                    // SAFETY: `self` exists only if the CPU has the features.
                    unsafe { $zero() }
                }
                #[inline(always)]
                fn splat(self, x: $t) -> $v {
                    // SAFETY: as in `zero`.
                    unsafe { $splat(x) }
                }
                #[inline(always)]
                fn fma(self, a: $v, b: $v, c: $v) -> $v {
                    // SAFETY: as in `zero`.
                    unsafe { $fma(a, b, c) }
                }
                #[inline(always)]
                fn add(self, a: $v, b: $v) -> $v {
                    // SAFETY: as in `zero`.
                    unsafe { $add(a, b) }
                }
                #[inline(always)]
                fn add_t(a: $t, b: $t) -> $t {
                    a + b
                }
                #[inline(always)]
                fn load(self, x: &[$t]) -> $v {
                    let x = &x[..$lanes];
                    // SAFETY: CPU features as in `zero`; `x` holds `$lanes`
                    // elements, exactly the unaligned load's width.
                    unsafe { $load(x.as_ptr()) }
                }
                #[inline(always)]
                fn store(self, v: $v, x: &mut [$t]) {
                    let x = &mut x[..$lanes];
                    // SAFETY: CPU features as in `zero`; `x` holds `$lanes`
                    // elements, exactly the unaligned store's width.
                    unsafe { $store(x.as_mut_ptr(), v) }
                }
                $(
                #[inline(always)]
                fn transpose8(self, src: [&[$t]; 8], p: usize, dst: &mut [MaybeUninit<$t>], r: usize) {
                    // SAFETY: as in `zero`: the token proves AVX (every ISA
                    // here has it).
                    unsafe { $transpose(src, p, dst, r) }
                }
                )?
            }
        };
    }

    /// The f32 8 × 8 transpose in AVX registers: unpack pairs, shuffle
    /// quads, swap 128-bit halves (24 shuffles instead of 64 scalar moves).
    /// Not a `#[target_feature]` function, so that it inlines into the
    /// packing loop; it is only reached from the AVX entry points.
    ///
    /// # Safety
    /// The CPU has AVX.
    #[inline(always)]
    unsafe fn transpose8_f32(src: [&[f32]; 8], p: usize, dst: &mut [MaybeUninit<f32>], r: usize) {
        let row = |u: usize| {
            let x = &src[u][p..p + 8];
            // SAFETY: AVX (the caller's contract); `x` holds the 8 elements
            // the unaligned load reads.
            unsafe { _mm256_loadu_ps(x.as_ptr()) }
        };
        // SAFETY: AVX (the caller's contract); register operations only.
        let cols = unsafe {
            let (r0, r1, r2, r3) = (row(0), row(1), row(2), row(3));
            let (r4, r5, r6, r7) = (row(4), row(5), row(6), row(7));
            let (t0, t1) = (_mm256_unpacklo_ps(r0, r1), _mm256_unpackhi_ps(r0, r1));
            let (t2, t3) = (_mm256_unpacklo_ps(r2, r3), _mm256_unpackhi_ps(r2, r3));
            let (t4, t5) = (_mm256_unpacklo_ps(r4, r5), _mm256_unpackhi_ps(r4, r5));
            let (t6, t7) = (_mm256_unpacklo_ps(r6, r7), _mm256_unpackhi_ps(r6, r7));
            let s0 = _mm256_shuffle_ps::<0x44>(t0, t2);
            let s1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
            let s2 = _mm256_shuffle_ps::<0x44>(t1, t3);
            let s3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
            let s4 = _mm256_shuffle_ps::<0x44>(t4, t6);
            let s5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
            let s6 = _mm256_shuffle_ps::<0x44>(t5, t7);
            let s7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
            [
                _mm256_permute2f128_ps::<0x20>(s0, s4),
                _mm256_permute2f128_ps::<0x20>(s1, s5),
                _mm256_permute2f128_ps::<0x20>(s2, s6),
                _mm256_permute2f128_ps::<0x20>(s3, s7),
                _mm256_permute2f128_ps::<0x31>(s0, s4),
                _mm256_permute2f128_ps::<0x31>(s1, s5),
                _mm256_permute2f128_ps::<0x31>(s2, s6),
                _mm256_permute2f128_ps::<0x31>(s3, s7),
            ]
        };
        for (v, col) in cols.into_iter().enumerate() {
            let d = &mut dst[v * r..][..8];
            // SAFETY: AVX (the caller's contract); `d` holds the 8 elements
            // the unaligned store writes; `MaybeUninit<f32>` has the layout
            // of `f32`.
            unsafe { _mm256_storeu_ps(d.as_mut_ptr().cast::<f32>(), col) }
        }
    }

    isa!(
        Avx512F32,
        f32,
        __m512,
        16,
        ["avx512f", "avx2", "fma"],
        _mm512_setzero_ps,
        _mm512_set1_ps,
        _mm512_fmadd_ps,
        _mm512_add_ps,
        _mm512_loadu_ps,
        _mm512_storeu_ps,
        transpose8_f32
    );
    isa!(
        Avx512F64,
        f64,
        __m512d,
        8,
        ["avx512f", "avx2", "fma"],
        _mm512_setzero_pd,
        _mm512_set1_pd,
        _mm512_fmadd_pd,
        _mm512_add_pd,
        _mm512_loadu_pd,
        _mm512_storeu_pd
    );
    isa!(
        Avx2F32,
        f32,
        __m256,
        8,
        ["avx2", "fma"],
        _mm256_setzero_ps,
        _mm256_set1_ps,
        _mm256_fmadd_ps,
        _mm256_add_ps,
        _mm256_loadu_ps,
        _mm256_storeu_ps,
        transpose8_f32
    );
    isa!(
        Avx2F64,
        f64,
        __m256d,
        4,
        ["avx2", "fma"],
        _mm256_setzero_pd,
        _mm256_set1_pd,
        _mm256_fmadd_pd,
        _mm256_add_pd,
        _mm256_loadu_pd,
        _mm256_storeu_pd
    );
}
