//! Vector operations behind one trait, one implementation per instruction set
//! and element type. A value of an implementing type is a token: the x86 ones
//! are only made by `detect()` after the CPU reported the features, which is
//! what makes their intrinsic calls sound.

use crate::Elem;
use std::marker::PhantomData;

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

    macro_rules! isa {
        (
            $name:ident, $t:ty, $v:ty, $lanes:literal, [$($feat:tt),*],
            $zero:ident, $splat:ident, $fma:ident, $add:ident, $load:ident, $store:ident
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
            }
        };
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
        _mm512_storeu_ps
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
        _mm256_storeu_ps
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
