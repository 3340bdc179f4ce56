//! Own register-blocked kernel vs `matrixmultiply` on the N4 layer shapes (f32).
//! `cargo bench -p gradc-runtime --bench gemm`.

use criterion::{criterion_group, criterion_main, Criterion};
use gradc_runtime::{gemm, Strided};
use std::hint::black_box;
use std::time::Duration;

fn shapes(c: &mut Criterion) {
    // (m, n, k, a transposed): N4 forward layer 1/2, weight gradient of layer 1, dX of layer 2.
    for &(m, n, k, ta) in &[
        (128, 256, 784, false),
        (128, 128, 256, false),
        (784, 256, 128, true),
        (128, 256, 128, false),
    ] {
        let a: Vec<f32> = (0..m * k).map(|i| (i % 13) as f32 * 0.1).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i % 7) as f32 * 0.1).collect();
        let mut out = vec![0.0f32; m * n];
        let (rs, cs) = if ta { (1, m) } else { (k, 1) };
        let flops = 2.0 * (m * n * k) as f64;
        let mut g = c.benchmark_group(format!("{m}x{n}x{k}{}", if ta { "tn" } else { "" }));
        g.throughput(criterion::Throughput::Elements(flops as u64));
        g.bench_function("own", |bch| {
            bch.iter(|| {
                gemm(
                    m,
                    n,
                    k,
                    Strided {
                        data: black_box(&a),
                        rs,
                        cs,
                    },
                    black_box(&b),
                    &mut out,
                    false,
                )
            })
        });
        g.bench_function("matrixmultiply", |bch| {
            bch.iter(|| {
                // SAFETY: a is m×k with strides (rs, cs), b is k×n row-major, out is m×n.
                unsafe {
                    matrixmultiply::sgemm(
                        m,
                        k,
                        n,
                        1.0,
                        black_box(a.as_ptr()),
                        rs as isize,
                        cs as isize,
                        black_box(b.as_ptr()),
                        n as isize,
                        1,
                        0.0,
                        out.as_mut_ptr(),
                        n as isize,
                        1,
                    )
                }
            })
        });
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(1));
    targets = shapes
}
criterion_main!(benches);
