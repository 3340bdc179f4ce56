//! `forward_backward` allocates nothing: small networks keep their buffers on the
//! stack, large ones in a workspace (caller-owned, or one per thread made on the
//! thread's first call). Counted through a global allocator, per thread (the
//! two-thread GEMM is checked alone in `tests/no_alloc_threads.rs`).

use gradc::network;
// XOR, and XOR for any batch size (every buffer fits the stack for small `B`).
use gradc_testkit::nets::{n1b as xor_b, xor};
use gradc_testkit::CountingAlloc;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Buffers of 64 × 96 elements: above the stack limit, so they go to the workspace,
/// and matmuls large enough for the run-time GEMM kernel.
#[network]
fn wide(
    #[input] x: [[f32; 48]; 64],
    #[input] y: [[f32; 10]; 64],
    w1: [[f32; 96]; 48],
    b1: [f32; 96],
    w2: [[f32; 10]; 96],
    b2: [f32; 10],
) -> f32 {
    let h = relu(x.matmul(w1) + b1);
    cross_entropy(h.matmul(w2) + b2, y)
}

/// `wide` with its logits marked `#[output]`, for `predict`.
#[network]
fn wide_out<const B: usize>(
    #[input] x: [[f32; 48]; B],
    #[input] y: [[f32; 10]; B],
    w1: [[f32; 96]; 48],
    b1: [f32; 96],
    w2: [[f32; 10]; 96],
    b2: [f32; 10],
) -> f32 {
    let h = relu(x.matmul(w1) + b1);
    #[output]
    let logits = h.matmul(w2) + b2;
    cross_entropy(logits, y)
}

/// `wide` for any batch size: `c·B` buffers on the stack for small `B`, in the
/// workspace for large ones.
#[network]
fn wide_b<const B: usize>(
    #[input] x: [[f32; 48]; B],
    #[input] y: [[f32; 10]; B],
    w1: [[f32; 96]; 48],
    b1: [f32; 96],
    w2: [[f32; 10]; 96],
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

#[test]
fn small_network_allocates_nothing() {
    let p = xor::Params {
        w1: [[0.5, -0.3], [0.2, 0.8]],
        c: [0.1, -0.1],
        w2: [1.0, -1.0],
        b: 0.0,
    };
    let i = xor::Inputs {
        x: [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]],
        y: [0.0, 1.0, 1.0, 0.0],
    };
    let mut g = xor::Grads::zeros();
    let before = CountingAlloc::count();
    let loss = xor::forward_backward(&p, &i, &mut g);
    assert_eq!(CountingAlloc::count(), before);
    assert!(loss.is_finite());
}

#[test]
fn large_network_allocates_only_its_workspace() {
    assert!(
        wide::GRADIENT_CODE.contains("struct Workspace"),
        "{}",
        wide::GRADIENT_CODE
    );
    let mut p = wide::Params::zeros_boxed();
    for (k, (_, s)) in p.slices_mut().into_iter().enumerate() {
        fill(s, k as u32);
    }
    let mut i = wide::Inputs::zeros_boxed();
    fill(i.x.as_flattened_mut(), 7);
    for (r, row) in i.y.iter_mut().enumerate() {
        row[r % 10] = 1.0;
    }
    let mut g = wide::Grads::zeros_boxed();

    // Caller-owned workspace: the call itself never allocates.
    let mut ws = wide::Workspace::new();
    let before = CountingAlloc::count();
    let l1 = wide::forward_backward_with(&p, &i, &mut g, &mut ws);
    let l2 = wide::forward_backward_with(&p, &i, &mut g, &mut ws);
    assert_eq!(CountingAlloc::count(), before);
    // Reused scratch must not leak state between calls.
    assert_eq!(l1, l2);

    // The per-thread workspace: allocated by the first call only.
    let first = wide::forward_backward(&p, &i, &mut g);
    let before = CountingAlloc::count();
    let again = wide::forward_backward(&p, &i, &mut g);
    assert_eq!(CountingAlloc::count(), before);
    assert_eq!((first, again), (l1, l1));

    // And it computes what the interpreter does.
    let mut ig = wide::Grads::zeros_boxed();
    let il = wide::interpreted_forward_backward(&p, &i, &mut ig);
    assert!((il - l1).abs() <= 1e-5 * il.abs().max(1.0), "{il} vs {l1}");
    for ((_, a), (_, b)) in g.slices().iter().zip(ig.slices().iter()) {
        for (u, v) in a.iter().zip(b.iter()) {
            assert!((u - v).abs() <= 1e-4 * v.abs().max(1e-2), "{u} vs {v}");
        }
    }
}

#[test]
fn batch_generic_networks_allocate_nothing_in_a_step() {
    fn wide_at<const B: usize>() {
        let mut p = wide_b::Params::zeros_boxed();
        for (k, (_, s)) in p.slices_mut().into_iter().enumerate() {
            fill(s, k as u32);
        }
        let mut i = wide_b::Inputs::<B>::zeros_boxed();
        fill(i.x.as_flattened_mut(), 5);
        for (r, row) in i.y.iter_mut().enumerate() {
            row[r % 10] = 1.0;
        }
        let mut g = wide_b::Grads::zeros_boxed();
        let mut ws = wide_b::Workspace::<B>::new();
        let before = CountingAlloc::count();
        let l1 = wide_b::forward_backward_with(&p, &i, &mut g, &mut ws);
        let l2 = wide_b::forward_backward_with(&p, &i, &mut g, &mut ws);
        assert_eq!(CountingAlloc::count(), before, "B = {B}");
        assert_eq!(l1, l2);
        let first = wide_b::forward_backward(&p, &i, &mut g);
        let before = CountingAlloc::count();
        let again = wide_b::forward_backward(&p, &i, &mut g);
        assert_eq!(CountingAlloc::count(), before, "B = {B}");
        assert_eq!((first, again), (l1, l1));
    }
    wide_at::<2>();
    wide_at::<64>();
    wide_at::<300>();

    // Small batch, every buffer on the stack: not even the first call allocates.
    let p = xor_b::Params {
        w1: [[0.5, -0.3], [0.2, 0.8]],
        c: [0.1, -0.1],
        w2: [1.0, -1.0],
        b: 0.0,
    };
    let i = xor_b::Inputs::<4> {
        x: [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]],
        y: [0.0, 1.0, 1.0, 0.0],
    };
    let mut g = xor_b::Grads::zeros();
    let before = CountingAlloc::count();
    let loss = xor_b::forward_backward(&p, &i, &mut g);
    assert_eq!(CountingAlloc::count(), before);
    let lit = xor::Params {
        w1: p.w1,
        c: p.c,
        w2: p.w2,
        b: p.b,
    };
    let mut g2 = xor::Grads::zeros();
    let l2 = xor::forward_backward(&lit, &xor::Inputs { x: i.x, y: i.y }, &mut g2);
    assert_eq!(loss, l2);
}

#[test]
fn predict_allocates_nothing_after_a_threads_first_call() {
    fn run<const B: usize>() {
        let mut p = wide_out::Params::zeros_boxed();
        for (k, (_, s)) in p.slices_mut().into_iter().enumerate() {
            fill(s, k as u32);
        }
        let mut f = wide_out::Features::<B>::zeros_boxed();
        fill(f.x.as_flattened_mut(), 3);
        let first = wide_out::predict(&p, &f);
        let before = CountingAlloc::count();
        let again = wide_out::predict(&p, &f);
        assert_eq!(CountingAlloc::count(), before, "B = {B}");
        assert_eq!(first, again);
        // Caller-owned scratch: the call itself never allocates.
        let mut ws = wide_out::PredictWorkspace::<B>::new();
        let before = CountingAlloc::count();
        let owned = wide_out::predict_with(&p, &f, &mut ws);
        assert_eq!(CountingAlloc::count(), before, "B = {B}");
        assert_eq!(owned, first);
    }
    // Large batches use the per-thread `PredictWorkspace`, small ones the stack.
    run::<1>();
    run::<64>();
    run::<300>();
}
