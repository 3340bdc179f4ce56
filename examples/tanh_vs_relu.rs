//! N7 (issue 13): a 10-layer width-64 `tanh` network, batch 32, against its
//! ReLU twin, compiled, one training step each (loss and every gradient),
//! in GFLOP/s; the ratio is what the transcendental kernels buy.
//!
//! Run: `cargo run --release --example tanh_vs_relu`.

#[path = "../benches/common/mod.rs"]
mod common;

use common::{best, fill};
use gradc::network;
use std::hint::black_box;
use std::time::Duration;

#[network]
fn deep_tanh(
    #[input] x: [[f32; 64]; 32],
    #[input] y: [[f32; 64]; 32],
    ws: [[[f32; 64]; 64]; 10],
    bs: [[f32; 64]; 10],
) -> f32 {
    let mut h = x;
    for k in 0..10 {
        h = tanh(h.matmul(ws[k]) + bs[k]);
    }
    mse(h, y)
}

#[network]
fn deep_relu(
    #[input] x: [[f32; 64]; 32],
    #[input] y: [[f32; 64]; 32],
    ws: [[[f32; 64]; 64]; 10],
    bs: [[f32; 64]; 10],
) -> f32 {
    let mut h = x;
    for k in 0..10 {
        h = relu(h.matmul(ws[k]) + bs[k]);
    }
    mse(h, y)
}

/// Multiply-adds count 2: forward and weight gradients of all ten layers,
/// input gradients of layers 2 to 10.
const FLOPS: f64 = 2.0 * 32.0 * 64.0 * 64.0 * (10.0 + 10.0 + 9.0);

macro_rules! step_time {
    ($net:ident) => {{
        let mut p = $net::Params::zeros_boxed();
        let mut i = $net::Inputs::zeros_boxed();
        for (k, (_, s)) in p.slices_mut().into_iter().enumerate() {
            fill(s, 10 + k as u64, 0.2);
        }
        let [(_, x), (_, y)] = i.slices_mut();
        fill(x, 1, 1.0);
        fill(y, 2, 1.0);
        let mut g = $net::Grads::zeros_boxed();
        move || {
            best(Duration::from_millis(200), || {
                black_box($net::forward_backward(black_box(&p), black_box(&i), &mut g));
            })
        }
    }};
}

fn main() {
    let mut tanh = step_time!(deep_tanh);
    let mut relu = step_time!(deep_relu);
    // Interleaved rounds, best per network: load on the shared machine hits both.
    let (mut t, mut r) = (Duration::MAX, Duration::MAX);
    for _ in 0..5 {
        t = t.min(tanh());
        r = r.min(relu());
    }
    let gflops = |d: Duration| FLOPS / d.as_secs_f64() / 1e9;
    println!(
        "N7 10×64 batch 32, one step: tanh {:.1} GFLOP/s ({:.1} µs), relu {:.1} GFLOP/s ({:.1} µs), tanh/relu {:.2}",
        gflops(t),
        t.as_secs_f64() * 1e6,
        gflops(r),
        r.as_secs_f64() * 1e6,
        r.as_secs_f64() / t.as_secs_f64()
    );
}
