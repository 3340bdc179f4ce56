//! `matmul_small` (constant `N` and `K`) and `matmul_small_dyn` (the same
//! with the shape as values) against the GEMM they stand in for:
//! bit-identical for every build (AVX-512, AVX2+FMA, portable), element type,
//! transpose and remainder of its row blocks.

use gradc_runtime::{
    gemm_with, matmul_small_dyn_with, matmul_small_or_gemm, matmul_small_or_gemm_dyn,
    matmul_small_with, Isa, SmallElem, Strided,
};

fn data<T: From<f32>>(n: usize, seed: u32) -> Vec<T> {
    let mut s = seed.wrapping_mul(2_654_435_761) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            // Mixed signs and magnitudes, so rounding differences show.
            T::from((s >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0 + 1e-3 * (s % 7) as f32)
        })
        .collect()
}

/// The GEMM's result for `c = op(a)·op(b)`, `a` stored `[m, k]` or `[k, m]`.
#[allow(clippy::too_many_arguments)]
fn gemm<T: SmallElem>(
    isa: Isa,
    m: usize,
    n: usize,
    k: usize,
    a: &[T],
    b: &[T],
    ta: bool,
    tb: bool,
) -> Vec<T> {
    let (ars, acs) = if ta { (1, m) } else { (k, 1) };
    let (brs, bcs) = if tb { (1, k) } else { (n, 1) };
    let mut c = vec![T::default(); m * n];
    gemm_with(
        isa,
        m,
        n,
        k,
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
        &mut c,
        false,
    );
    c
}

fn bits<T: SmallElem + Into<f64>>(x: &[T]) -> Vec<u64> {
    x.iter().map(|&v| Into::<f64>::into(v).to_bits()).collect()
}

macro_rules! case {
    ($t:ty, $n:literal, $k:literal, $($m:literal),*) => {{
        for isa in [Isa::Best, Isa::Avx2, Isa::Portable] {
            for m in [$($m),*] {
                let a: Vec<$t> = data(m * $k, m as u32 + $n);
                let b: Vec<$t> = data($k * $n, $k + 7);
                macro_rules! one {
                    ($ta:literal, $tb:literal) => {{
                        let mut c = vec![<$t>::default(); m * $n];
                        matmul_small_with::<$t, $n, $k, $ta, $tb>(isa, m, &a, &b, &mut c);
                        let want = gemm(isa, m, $n, $k, &a, &b, $ta, $tb);
                        let mut d = vec![<$t>::default(); m * $n];
                        matmul_small_dyn_with(isa, m, $n, $k, $ta, $tb, &a, &b, &mut d);
                        assert_eq!(bits(&d), bits(&want), "dyn {} m={m} n={} k={}", stringify!($t), $n, $k);
                        assert_eq!(
                            bits(&c),
                            bits(&want),
                            "{} m={m} n={} k={} ta={} tb={} {isa:?}",
                            stringify!($t), $n, $k, $ta, $tb
                        );
                    }};
                }
                one!(false, false);
                one!(true, false);
                one!(false, true);
                one!(true, true);
            }
        }
    }};
}

#[test]
fn bit_identical_to_the_gemm() {
    case!(f32, 64, 64, 32, 1, 3, 5, 6);
    // Past `MIN_MACS`: the GEMM itself.
    case!(f32, 64, 64, 260);
    case!(f32, 10, 64, 32, 7);
    case!(f32, 64, 10, 32, 2);
    case!(f32, 10, 32, 64, 9);
    case!(f32, 64, 32, 64, 3);
    case!(f32, 1, 128, 4, 1);
    case!(f32, 33, 100, 13);
    case!(f32, 16, 1, 40);
    case!(f64, 64, 64, 32, 5);
    case!(f64, 10, 32, 64, 3);
    case!(f64, 7, 9, 11);
}

/// The comparison above can fail: on a CPU with FMA the fused chain and a
/// plain multiply-then-add loop differ somewhere on this data.
#[test]
fn unfused_loops_differ_where_the_kernel_fuses() {
    let (m, n, k) = (32, 64, 64);
    let a: Vec<f32> = data(m * k, 1);
    let b: Vec<f32> = data(k * n, 2);
    let mut c = vec![0.0f32; m * n];
    matmul_small_with::<f32, 64, 64, false, false>(Isa::Best, m, &a, &b, &mut c);
    let mut naive = vec![0.0f32; m * n];
    for i in 0..m {
        for j in 0..n {
            let mut t = 0.0f32;
            for p in 0..k {
                t += a[i * k + p] * b[p * n + j];
            }
            naive[i * n + j] = t;
        }
    }
    let fma =
        std::arch::is_x86_feature_detected!("fma") && std::arch::is_x86_feature_detected!("avx2");
    assert_eq!(c != naive, fma);
}

/// `matmul_small_or_gemm` (a depth known per instantiation, as a const
/// network's batch size) is the GEMM bit for bit on both sides of
/// `small_fits`, constant and dynamic.
#[test]
fn small_or_gemm_is_the_gemm_on_both_sides_of_the_limit() {
    macro_rules! depth {
        ($n:literal, $k:literal) => {{
            let m = 64;
            let a: Vec<f32> = data(m * $k, $k);
            let b: Vec<f32> = data($k * $n, $n);
            macro_rules! one {
                ($ta:literal, $tb:literal) => {{
                    let want = gemm(Isa::Best, m, $n, $k, &a, &b, $ta, $tb);
                    let mut c = vec![f32::NAN; m * $n];
                    matmul_small_or_gemm::<f32, $n, $k, $ta, $tb>(m, &a, &b, &mut c);
                    assert_eq!(bits(&c), bits(&want), "n={} k={} ta={}", $n, $k, $ta);
                    let mut d = vec![f32::NAN; m * $n];
                    matmul_small_or_gemm_dyn(m, $n, $k, $ta, $tb, &a, &b, &mut d);
                    assert_eq!(bits(&d), bits(&want), "dyn n={} k={} ta={}", $n, $k, $ta);
                }};
            }
            one!(false, false);
            one!(true, false);
            one!(false, true);
        }};
    }
    depth!(64, 5);
    depth!(10, 128);
    depth!(64, 129);
    depth!(10, 300);
}
