//! With the two-thread GEMM on, a compiled step allocates nothing after warm-up,
//! on the calling thread or the helper. The helper's allocations show only in
//! the process-wide count, so this binary holds this one test: another test
//! running beside it would allocate on its own thread.

use gradc::network;
use gradc_runtime::{gemm_two_threads, Isa, Strided};
use gradc_testkit::CountingAlloc;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Matmuls of 128 × 256 × 128 multiply-adds: large enough for the two-thread GEMM.
#[network]
fn big(
    #[input] x: [[f32; 256]; 128],
    #[input] y: [[f32; 10]; 128],
    w1: [[f32; 128]; 256],
    b1: [f32; 128],
    w2: [[f32; 10]; 128],
    b2: [f32; 10],
) -> f32 {
    let h = relu(x.matmul(w1) + b1);
    cross_entropy(h.matmul(w2) + b2, y)
}

fn fill(xs: &mut [f32], seed: u32) {
    for (i, x) in xs.iter_mut().enumerate() {
        *x =
            ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) >> 20) as f32 / 4096.0 - 0.5;
    }
}

/// A row-major 64-column matrix.
fn rows64(data: &[f32]) -> Strided<'_, f32> {
    Strided {
        data,
        rs: 64,
        cs: 1,
    }
}

#[test]
fn two_threads_allocate_nothing_after_warm_up() {
    const { assert!(128 * 256 * 128 >= gradc_runtime::MIN_MACS) };
    let mut p = big::Params::zeros_boxed();
    for (k, (_, s)) in p.slices_mut().into_iter().enumerate() {
        fill(s, k as u32);
    }
    let mut i = big::Inputs::zeros_boxed();
    fill(i.x.as_flattened_mut(), 3);
    for (r, row) in i.y.iter_mut().enumerate() {
        row[r % 10] = 1.0;
    }
    let mut g1 = big::Grads::zeros_boxed();
    let mut ws = big::Workspace::new();
    let one = big::forward_backward_with(&p, &i, &mut g1, &mut ws);

    // Starting the helper thread allocates; its first jobs may too (thread
    // start-up). Warm up until it has finished at least one job: a split
    // product reports 2 threads only when the helper computed its half.
    assert_eq!(gradc::set_threads(2), 2);
    let (a, b) = (vec![0.5f32; 64 * 64], vec![0.25f32; 64 * 64]);
    let mut c = vec![0.0f32; 64 * 64];
    let (a, b) = (rows64(&a), rows64(&b));
    let helped =
        (0..10_000).any(|_| gemm_two_threads(Isa::Best, 64, 64, 64, a, b, &mut c, false) == 2);
    assert!(helped, "the helper ran a job");
    let mut g2 = big::Grads::zeros_boxed();
    big::forward_backward_with(&p, &i, &mut g2, &mut ws);
    let before = CountingAlloc::total();
    let mut two = 0.0;
    for _ in 0..20 {
        two = big::forward_backward_with(&p, &i, &mut g2, &mut ws);
    }
    assert_eq!(CountingAlloc::total(), before);
    gradc::set_threads(1);

    // Bit-identical to one thread.
    assert_eq!(one.to_bits(), two.to_bits());
    for ((_, a), (_, b)) in g1.slices().iter().zip(g2.slices().iter()) {
        assert!(a
            .iter()
            .zip(b.iter())
            .all(|(u, v)| u.to_bits() == v.to_bits()));
    }
}
