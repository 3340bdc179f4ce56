//! `matmul_small` (constant `N`, `K`) against the GEMM on N3's products (one
//! thread, f32, interleaved rounds, best per cell):
//! `cargo run --release -p gradc-runtime --example small`.

use gradc_runtime::{gemm_strided, matmul_small, Strided};
use std::hint::black_box;
use std::time::{Duration, Instant};

fn best(mut f: impl FnMut()) -> Duration {
    let mut t = Duration::MAX;
    for _ in 0..11 {
        let s = Instant::now();
        for _ in 0..2000 {
            f();
        }
        t = t.min(s.elapsed() / 2000);
    }
    t
}

macro_rules! row {
    ($name:literal, $m:literal, $n:literal, $k:literal, $ta:literal, $tb:literal) => {{
        let a: Vec<f32> = (0..$m * $k).map(|i| (i % 13) as f32 * 0.1 - 0.6).collect();
        let b: Vec<f32> = (0..$k * $n).map(|i| (i % 7) as f32 * 0.1 - 0.3).collect();
        let (mut c1, mut c2) = (vec![0.0f32; $m * $n], vec![0.0f32; $m * $n]);
        let (ars, acs) = if $ta { (1, $m) } else { ($k, 1) };
        let (brs, bcs) = if $tb { (1, $k) } else { ($n, 1) };
        let mut g = || {
            let a = Strided {
                data: black_box(&a[..]),
                rs: ars,
                cs: acs,
            };
            let b = Strided {
                data: black_box(&b[..]),
                rs: brs,
                cs: bcs,
            };
            gemm_strided($m, $n, $k, a, b, &mut c1, false);
        };
        let mut s = || {
            matmul_small::<f32, $n, $k, $ta, $tb>($m, black_box(&a), black_box(&b), &mut c2);
        };
        let (mut tg, mut ts) = (Duration::MAX, Duration::MAX);
        for _ in 0..5 {
            tg = tg.min(best(&mut g));
            ts = ts.min(best(&mut s));
        }
        assert_eq!(c1, c2);
        let gf = |t: Duration| 2.0 * ($m * $n * $k) as f64 / t.as_secs_f64() / 1e9;
        println!(
            "| {} {}×{}×{} | {:.0} ns ({:.1}) | {:.0} ns ({:.1}) | {:.2} |",
            $name,
            $m,
            $n,
            $k,
            tg.as_secs_f64() * 1e9,
            gf(tg),
            ts.as_secs_f64() * 1e9,
            gf(ts),
            ts.as_secs_f64() / tg.as_secs_f64()
        );
    }};
}

fn main() {
    println!("| product | GEMM (GFLOP/s) | matmul_small (GFLOP/s) | small/GEMM |");
    println!("|---|---|---|---|");
    row!("fwd1", 32, 64, 64, false, false);
    row!("fwd2", 32, 10, 64, false, false);
    row!("dH (Bᵀ)", 32, 64, 10, false, true);
    row!("dW1 (Aᵀ)", 64, 64, 32, true, false);
    row!("dW2 (Aᵀ)", 64, 10, 32, true, false);
}
