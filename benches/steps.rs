//! Criterion benchmarks for issues 4 and 14: compiled, interpreted and
//! hand-written steps of N1-N4, compiled and hand-written steps of N5-N7, then
//! the tables. `cargo bench --bench steps`.

#[macro_use]
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
    wide_steps(c);
}

/// Issue 14's networks: compiled and hand-written steps (no interpreter: an
/// N6 step takes a fifth of a second), N5/N6 also with two threads.
fn wide_steps(c: &mut Criterion) {
    macro_rules! pair {
        ($name:expr, $net:ident, $classes:expr, $hand:expr) => {{
            let (p, i, mut g) = setup!($net, $classes);
            let mut group = c.benchmark_group($name);
            group.sample_size(10);
            group.bench_function("compiled", |b| {
                b.iter(|| $net::forward_backward(black_box(&p), black_box(&i), &mut g))
            });
            #[allow(unused_mut)]
            let mut hand = $hand;
            group.bench_function("hand", |b| {
                b.iter(|| hand(black_box(&*p), black_box(&*i), &mut *g))
            });
            if stringify!($net).starts_with("n7") {
                group.finish();
            } else {
                assert_eq!(gradc::set_threads(2), 2);
                group.bench_function("compiled, 2 threads", |b| {
                    b.iter(|| $net::forward_backward(black_box(&p), black_box(&i), &mut g))
                });
                gradc::set_threads(1);
                group.finish();
            }
        }};
    }
    let mut s5 = MlpScratch::new(64, 1024);
    pair!(
        "N5",
        n5,
        Some(10),
        |p: &n5::Params, i: &n5::Inputs, g: &mut n5::Grads| { hand_n5(p, i, g, &mut s5) }
    );
    let mut s6 = MlpScratch::new(64, 4096);
    pair!(
        "N6",
        n6,
        Some(10),
        |p: &n6::Params, i: &n6::Inputs, g: &mut n6::Grads| { hand_n6(p, i, g, &mut s6) }
    );
    pair!("N3 vs constant loops", n3, Some(10), hand_n3_loops);
    macro_rules! deep {
        ($name:expr, $net:ident, $l:literal, $tanh:expr) => {{
            let mut s = DeepScratch::<$l>::new();
            pair!(
                $name,
                $net,
                None::<usize>,
                |p: &$net::Params, i: &$net::Inputs, g: &mut $net::Grads| {
                    hand_deep::<$l>(
                        $tanh, &p.ws, &p.bs, &i.x, &i.y, &mut g.ws, &mut g.bs, &mut s,
                    )
                }
            );
        }};
    }
    deep!("N7 10 tanh", n7_tanh10, 10, true);
    deep!("N7 10 relu", n7_relu10, 10, false);
    deep!("N7 100 tanh", n7_tanh100, 100, true);
    deep!("N7 100 relu", n7_relu100, 100, false);
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
    print_wide(Duration::from_millis(400));
}
