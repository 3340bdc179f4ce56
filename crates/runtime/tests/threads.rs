//! The threaded GEMM: bit-identical to one thread for every tile remainder,
//! transpose, ISA and thread count; no deadlock over many calls; correct when
//! several user threads share the helpers; a panic in a helper's block reaches
//! the caller.

use gradc_runtime::{
    gemm, gemm_plan, gemm_strided, gemm_threads, gemm_two_threads, gemm_with, set_threads, threads,
    Elem, Isa, Plan, Strided, MAX_THREADS,
};

/// Pseudo-random values in [-1, 1) with full mantissas, so any change in the
/// order of operations would change bits.
fn data(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        })
        .collect()
}

/// Tests that need the helper to themselves run one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn view<T>(d: &[T], r: usize, c: usize, trans: bool) -> Strided<'_, T> {
    let (rs, cs) = if trans { (1, r) } else { (c, 1) };
    Strided { data: d, rs, cs }
}

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

fn bits<T: Into<f64> + Copy>(x: &[T]) -> Vec<u64> {
    x.iter().map(|&v| v.into().to_bits()).collect()
}

#[allow(clippy::too_many_arguments)]
fn check<T: Elem + Into<f64>>(
    m: usize,
    n: usize,
    k: usize,
    ad: &[T],
    bd: &[T],
    init: &[T],
    ta: bool,
    tb: bool,
    want: &[f64],
) -> usize {
    let mut helped = 0;
    let a = view(ad, m, k, ta);
    let b = view(bd, k, n, tb);
    for acc in [false, true] {
        for isa in [Isa::Best, Isa::Avx2, Isa::Portable] {
            let at = format!(
                "{} {m}x{n}x{k} ta={ta} tb={tb} acc={acc} {isa:?}",
                std::any::type_name::<T>()
            );
            let mut one = init.to_vec();
            gemm_with(isa, m, n, k, a, b, &mut one, acc);
            let mut two = init.to_vec();
            let used = gemm_two_threads(isa, m, n, k, a, b, &mut two, acc);
            helped += used - 1;
            assert_eq!(bits(&two), bits(&one), "{at}");
            // And against an independent product (loose: f32 rounding).
            for (q, (&x, &w)) in two.iter().zip(want).enumerate() {
                let w = w + if acc { init[q].into() } else { 0.0 };
                assert!(
                    (x.into() - w).abs() <= 1e-4 * (k as f64).max(1.0),
                    "{at} [{q}]"
                );
            }
        }
    }
    helped
}

#[test]
fn two_threads_match_one_bit_for_bit() {
    let _serial = serial();
    let shapes = [
        (2, 1, 1),
        (3, 5, 2),
        (9, 45, 9),
        (17, 33, 17),
        (16, 10, 300),
        (33, 70, 3),
        (70, 47, 260),
        (130, 10, 64),
        (9, 3, 0),
    ];
    let mut helped = 0;
    for &(m, n, k) in &shapes {
        let ad = data(m * k, 1);
        let bd = data(k * n, 2);
        let init = data(m * n, 3);
        let f = |x: &[f64]| x.iter().map(|&v| v as f32).collect::<Vec<f32>>();
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let want = naive(m, n, k, view(&ad, m, k, ta), view(&bd, k, n, tb));
            helped += check(m, n, k, &ad, &bd, &init, ta, tb, &want);
            let (a32, b32) = (f(&ad), f(&bd));
            let a64: Vec<f64> = a32.iter().map(|&v| v as f64).collect();
            let b64: Vec<f64> = b32.iter().map(|&v| v as f64).collect();
            let want = naive(m, n, k, view(&a64, m, k, ta), view(&b64, k, n, tb));
            helped += check(m, n, k, &a32, &b32, &f(&init), ta, tb, &want);
        }
    }
    // The helper computed some of the bottom halves (the rest it had not
    // picked up by the time the caller finished the top half).
    assert!(helped > 0);
}

#[test]
fn set_threads_clamps_and_large_products_split_identically() {
    let _serial = serial();
    assert_eq!(set_threads(0), 1);
    assert_eq!(set_threads(MAX_THREADS + 5), MAX_THREADS);
    assert_eq!(set_threads(3), 3);
    assert_eq!(threads(), 3);
    // Above the size threshold: `gemm` / `gemm_strided` take the split path,
    // by columns (n ≥ m) and by rows.
    for (m, n, k) in [(128, 256, 64), (300, 100, 40)] {
        assert!(m * n * k >= gradc_runtime::MIN_MACS);
        let ad = data(m * k, 4);
        let bd = data(k * n, 5);
        let a = view(&ad, m, k, false);
        let mut one = vec![0.0; m * n];
        gemm_plan(
            Plan::Panel,
            Isa::Best,
            m,
            n,
            k,
            a,
            view(&bd, k, n, false),
            &mut one,
            false,
        );
        for _ in 0..3 {
            let mut c = vec![0.0; m * n];
            gemm(m, n, k, a, &bd, &mut c, false);
            assert_eq!(bits(&c), bits(&one));
            let mut c = vec![0.0; m * n];
            gemm_strided(m, n, k, a, view(&bd, k, n, false), &mut c, false);
            assert_eq!(bits(&c), bits(&one));
        }
    }
    set_threads(1);
}

/// 1, 2 and 3 threads and both blocking plans agree bit for bit on shapes of
/// the wide networks' products (blocked, split by columns or rows, with
/// partial panels and row blocks), in f32 with full mantissas.
#[test]
fn one_two_and_three_threads_agree_bit_for_bit() {
    let _serial = serial();
    let shapes = [
        (64, 1100, 300, false, false),
        (64, 1030, 520, false, true),
        (200, 1050, 64, true, false),
        (1100, 70, 33, false, false),
        (37, 1041, 257, true, true),
        // One depth slice into a large C: split by rows.
        (2048, 1030, 20, true, false),
        (700, 1030, 64, true, false),
    ];
    for (m, n, k, ta, tb) in shapes {
        let f = |x: Vec<f64>| x.into_iter().map(|v| v as f32).collect::<Vec<f32>>();
        let ad = f(data(m * k, 10));
        let bd = f(data(k * n, 11));
        let init = f(data(m * n, 12));
        let a = view(&ad, m, k, ta);
        let b = view(&bd, k, n, tb);
        for acc in [false, true] {
            let mut one = init.clone();
            gemm_plan(Plan::Panel, Isa::Best, m, n, k, a, b, &mut one, acc);
            let mut blocked = init.clone();
            gemm_plan(Plan::Blocked, Isa::Best, m, n, k, a, b, &mut blocked, acc);
            assert_eq!(bits(&blocked), bits(&one), "{m}x{n}x{k} blocked");
            for t in [1, 2, 3] {
                let mut c = init.clone();
                gemm_threads(t, Isa::Best, m, n, k, a, b, &mut c, acc);
                assert_eq!(
                    bits(&c),
                    bits(&one),
                    "{m}x{n}x{k} ta={ta} tb={tb} {t} threads"
                );
            }
        }
        // And close to an independent f64 product.
        let a64: Vec<f64> = ad.iter().map(|&v| v as f64).collect();
        let b64: Vec<f64> = bd.iter().map(|&v| v as f64).collect();
        let want = naive(m, n, k, view(&a64, m, k, ta), view(&b64, k, n, tb));
        let mut c = vec![0.0f32; m * n];
        gemm_threads(3, Isa::Best, m, n, k, a, b, &mut c, false);
        for (q, (&x, &w)) in c.iter().zip(&want).enumerate() {
            assert!((x as f64 - w).abs() <= 1e-4 * k as f64, "{m}x{n}x{k} [{q}]");
        }
    }
}

#[test]
fn many_calls_from_several_threads() {
    let _serial = serial();
    set_threads(2);
    let (m, n, k) = (24, 40, 16);
    let ad = data(m * k, 6);
    let bd = data(k * n, 7);
    let a = view(&ad, m, k, false);
    let b = view(&bd, k, n, true);
    let mut want = vec![0.0; m * n];
    gemm_with(Isa::Best, m, n, k, a, b, &mut want, false);
    let want = bits(&want);
    let twos = std::thread::scope(|s| {
        let workers: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    let mut twos = 0;
                    let mut c = vec![0.0; m * n];
                    for _ in 0..300 {
                        c.fill(f64::NAN);
                        twos += gemm_two_threads(Isa::Best, m, n, k, a, b, &mut c, false) / 2;
                        assert_eq!(bits(&c), want);
                    }
                    twos
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap())
            .sum::<usize>()
    });
    // Some calls found the helper busy (or slow) and ran alone; some used it.
    assert!(twos > 0);
}

#[test]
fn a_panic_in_the_helpers_half_reaches_the_caller() {
    let _serial = serial();
    let (m, n, k) = (32, 8, 8);
    let ad = data(m * k, 8);
    let bd = data(k * n, 9);
    // `A` is one element short: only the bottom half (the helper's) reads it.
    let a = view(&ad[..m * k - 1], m, k, false);
    let b = view(&bd, k, n, false);
    let r = std::panic::catch_unwind(|| {
        let mut c = vec![0.0; m * n];
        gemm_two_threads(Isa::Best, m, n, k, a, b, &mut c, false)
    });
    assert!(r.is_err());
    // The helper is free again and still works.
    let a = view(&ad, m, k, false);
    let mut one = vec![0.0; m * n];
    gemm_with(Isa::Best, m, n, k, a, b, &mut one, false);
    let mut two = vec![0.0; m * n];
    gemm_two_threads(Isa::Best, m, n, k, a, b, &mut two, false);
    assert_eq!(bits(&two), bits(&one));
}
