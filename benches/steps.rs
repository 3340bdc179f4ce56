//! Criterion benchmarks for issue 4: compiled, interpreted and hand-written steps
//! of N1-N4, then the ratio table. `cargo bench --bench steps`.

mod common;

use common::*;
use criterion::{criterion_group, Criterion};
use std::hint::black_box;
use std::time::Duration;

macro_rules! bench_net {
    ($c:ident, $name:literal, $setup:ident, $net:ident, $hand:expr) => {{
        let (p, i, mut g) = $setup();
        let mut group = $c.benchmark_group($name);
        group.bench_function("compiled", |b| {
            b.iter(|| $net::forward_backward(black_box(&p), black_box(&i), &mut g))
        });
        group.bench_function("interpreted", |b| {
            b.iter(|| $net::interpreted_forward_backward(black_box(&p), black_box(&i), &mut g))
        });
        #[allow(unused_mut)]
        let mut hand = $hand;
        group.bench_function("hand", |b| {
            b.iter(|| hand(black_box(&*p), black_box(&*i), &mut *g))
        });
        group.finish();
    }};
}

fn steps(c: &mut Criterion) {
    bench_net!(c, "N1", setup_n1, n1, hand_n1);
    bench_net!(c, "N2", setup_n2, n2, hand_n2);
    let mut s3 = hand_scratch_n3();
    bench_net!(
        c,
        "N3",
        setup_n3,
        n3,
        |p: &n3::Params, i: &n3::Inputs, g: &mut n3::Grads| hand_n3(p, i, g, &mut s3)
    );
    let mut s4 = hand_scratch_n4();
    bench_net!(
        c,
        "N4",
        setup_n4,
        n4,
        |p: &n4::Params, i: &n4::Inputs, g: &mut n4::Grads| hand_n4(p, i, g, &mut s4)
    );
    // N4 with the two-thread GEMM on (gradc::set_threads(2)), then off again.
    assert_eq!(gradc::set_threads(2), 2);
    bench_net!(
        c,
        "N4 2 threads",
        setup_n4,
        n4,
        |p: &n4::Params, i: &n4::Inputs, g: &mut n4::Grads| hand_n4(p, i, g, &mut s4)
    );
    gradc::set_threads(1);
}

criterion_group! {
    name = benches;
    // Two shared cores: short runs.
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    targets = steps
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    println!();
    check_hand();
    print_table(Duration::from_millis(400));
}
