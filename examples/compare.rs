//! Compiled vs interpreted backprop on identical inputs, for four networks:
//!
//! - N1: the slide-14 XOR network (2-2-1 ReLU, MSE, batch 4, f32);
//! - N2: the slides' 2-2-2 sigmoid network (one sample, f64);
//! - N3: the digits MLP (64-64-10 ReLU, softmax cross-entropy, batch 32, f32) on real
//!   digits;
//! - N4: an MNIST-sized MLP (784-256-128-10 ReLU, cross-entropy, batch 128, f32) on
//!   random data.
//!
//! For each it checks that the loss and every gradient agree and prints the largest
//! difference; the run fails (exit code 1) if any difference exceeds
//! [`TOLERANCE_ULPS`] units of the element type's precision. It then times one step of each (the median of several timed runs) and
//! prints a table. GFLOP/s divides the FLOP count of the optimized fused pass
//! (`report().flops_optimized`) by the time per step, for both columns, so the two
//! rates compare the same useful work.
//!
//! Run: `cargo run --release --example compare`

use gradc::train::{init, Init, Rng};
use gradc::{Float, Network, Tensors};
// The benchmark networks, shared with the tests and benches (N2 here is the
// slides' network itself: f64, no biases).
use gradc_testkit::nets::{
    n1 as n1_xor, n3 as n3_digits, n4 as n4_mnist, slides_222 as n2_sigmoid,
};
use std::hint::black_box;
use std::time::Instant;

/// How far compiled and interpreted results may be apart, relative to the largest
/// interpreted magnitude, in units of the element type's machine epsilon: the two
/// sum in different orders (GEMM blocking, fused loops), nothing more.
const TOLERANCE_ULPS: f64 = 64.0;

/// One row of the table.
struct Row {
    name: &'static str,
    params: usize,
    /// `TOLERANCE_ULPS` machine epsilons of the element type.
    tolerance: f64,
    loss_diff: f64,
    grad_diff: f64,
    compiled: f64,
    interpreted: f64,
    flops: u64,
}

/// Seconds per call of `f`: the median of 5 runs, each long enough (≥ 20 ms) for
/// the clock to be accurate.
fn time_per_call(mut f: impl FnMut()) -> f64 {
    let started = Instant::now();
    f();
    let once = started.elapsed().as_secs_f64().max(1e-9);
    let reps = ((0.02 / once).ceil() as usize).clamp(1, 10_000_000);
    let mut runs: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..reps {
                f();
            }
            t.elapsed().as_secs_f64() / reps as f64
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    runs[2]
}

/// Relative difference of two tensors: max |a − b| over max |b| (the scale of the
/// reference), so tiny entries do not blow it up.
fn rel_diff<T: Float>(a: &[T], b: &[T]) -> f64 {
    let scale = b.iter().map(|v| v.to_f64().abs()).fold(0.0, f64::max);
    let diff = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x.to_f64() - y.to_f64()).abs())
        .fold(0.0, f64::max);
    if scale == 0.0 {
        diff
    } else {
        diff / scale
    }
}

/// Random parameters: He-normal weight matrices, small uniform biases and vectors.
fn random_params<N: Network>(seed: u64) -> Box<N::Params> {
    let mut p = N::Params::zeros_boxed();
    init(&mut *p, Init::HeNormal, seed);
    let mut rng = Rng::new(seed ^ 0xB1A5);
    for ((_, dims), values) in N::PARAMS.iter().zip(p.tensors_mut()) {
        if dims.len() < 2 {
            values
                .iter_mut()
                .for_each(|v| *v = N::Elem::from_f64(rng.uniform(-0.5, 0.5)));
        }
    }
    p
}

fn compare<N: Network>(name: &'static str, params: &N::Params, inputs: &N::Inputs) -> Row {
    let mut grads = N::Grads::zeros_boxed();
    let mut igrads = N::Grads::zeros_boxed();
    let loss = N::forward_backward(params, inputs, &mut grads);
    let iloss = N::interpreted_forward_backward(params, inputs, &mut igrads);
    let loss_diff = rel_diff(&[loss], &[iloss]);
    let grad_diff = grads
        .tensors()
        .iter()
        .zip(igrads.tensors())
        .map(|(a, b)| rel_diff(a, b))
        .fold(0.0, f64::max);
    let compiled = time_per_call(|| {
        black_box(N::forward_backward(
            black_box(params),
            black_box(inputs),
            &mut grads,
        ));
    });
    let interpreted = time_per_call(|| {
        black_box(N::interpreted_forward_backward(
            black_box(params),
            black_box(inputs),
            &mut igrads,
        ));
    });
    let epsilon = if std::mem::size_of::<N::Elem>() == 4 {
        f64::from(f32::EPSILON)
    } else {
        f64::EPSILON
    };
    Row {
        name,
        params: <N::Params as Tensors>::numel(),
        tolerance: TOLERANCE_ULPS * epsilon,
        loss_diff,
        grad_diff,
        compiled,
        interpreted,
        flops: N::report().flops_optimized,
    }
}

/// Seconds in a readable unit.
fn dur(s: f64) -> String {
    if s < 1e-6 {
        format!("{:.0} ns", s * 1e9)
    } else if s < 1e-3 {
        format!("{:.2} µs", s * 1e6)
    } else {
        format!("{:.2} ms", s * 1e3)
    }
}

fn main() -> std::process::ExitCode {
    let mut rows = Vec::new();

    let x1 = n1_xor::Inputs {
        x: [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]],
        y: [0.0, 1.0, 1.0, 0.0],
    };
    rows.push(compare::<n1_xor::Net>(
        "N1 XOR 2-2-1",
        &random_params::<n1_xor::Net>(1),
        &x1,
    ));

    let x2 = n2_sigmoid::Inputs {
        x: [0.35, 0.9],
        y: [0.5, 0.0],
    };
    rows.push(compare::<n2_sigmoid::Net>(
        "N2 sigmoid 2-2-2",
        &random_params::<n2_sigmoid::Net>(2),
        &x2,
    ));

    // N3 on the first 32 real digits (one-hot labels), when the data feature is on.
    let mut x3 = n3_digits::Inputs::zeros_boxed();
    fill_digits(&mut x3);
    rows.push(compare::<n3_digits::Net>(
        "N3 digits 64-64-10",
        &random_params::<n3_digits::Net>(3),
        &x3,
    ));

    // N4: ~1 MB of parameters and 400 KB of inputs, all on the heap.
    let mut x4 = n4_mnist::Inputs::zeros_boxed();
    let mut rng = Rng::new(4);
    x4.x.as_flattened_mut()
        .iter_mut()
        .for_each(|v| *v = rng.next_f64() as f32);
    for row in x4.y.iter_mut() {
        row[rng.below(10)] = 1.0;
    }
    rows.push(compare::<n4_mnist::Net>(
        "N4 MLP 784-256-128-10",
        &random_params::<n4_mnist::Net>(4),
        &x4,
    ));

    println!(
        "compiled vs interpreted forward+backward, identical inputs (batch: N1 4, N2 1, N3 32, N4 128)\n"
    );
    println!("agreement (max |compiled − interpreted| / max |interpreted|):");
    let mut disagree = Vec::new();
    for r in &rows {
        let ok = r.loss_diff <= r.tolerance && r.grad_diff <= r.tolerance;
        println!(
            "  {:<24} loss {:.1e}   gradients {:.1e}   (tolerance {:.1e}{})",
            r.name,
            r.loss_diff,
            r.grad_diff,
            r.tolerance,
            if ok { "" } else { ": EXCEEDED" }
        );
        if !ok {
            disagree.push(r.name);
        }
    }
    println!(
        "\n{:<24} {:>8} {:>12} {:>12} {:>9} {:>10} {:>10}",
        "network", "params", "compiled", "interpreted", "speed-up", "GFLOP/s c", "GFLOP/s i"
    );
    for r in &rows {
        println!(
            "{:<24} {:>8} {:>12} {:>12} {:>8.1}x {:>10.2} {:>10.2}",
            r.name,
            r.params,
            dur(r.compiled),
            dur(r.interpreted),
            r.interpreted / r.compiled,
            r.flops as f64 / r.compiled / 1e9,
            r.flops as f64 / r.interpreted / 1e9,
        );
    }
    println!(
        "\ntime = one step (loss and all gradients), median of 5 timed runs; \
         GFLOP/s = report().flops_optimized / time"
    );
    if disagree.is_empty() {
        std::process::ExitCode::SUCCESS
    } else {
        eprintln!(
            "compare: compiled and interpreted disagree beyond tolerance on {}",
            disagree.join(", ")
        );
        std::process::ExitCode::FAILURE
    }
}

#[cfg(feature = "data")]
fn fill_digits(inputs: &mut n3_digits::Inputs) {
    let digits = gradc::data::load_digits(gradc::data::digits_path()).expect("vendored digits");
    let first: Vec<usize> = (0..32).collect();
    digits
        .fill_batch(
            &first,
            inputs.x.as_flattened_mut(),
            inputs.y.as_flattened_mut(),
        )
        .expect("batch buffers fit");
}

#[cfg(not(feature = "data"))]
fn fill_digits(inputs: &mut n3_digits::Inputs) {
    let mut rng = Rng::new(3);
    for (x, y) in inputs.x.iter_mut().zip(inputs.y.iter_mut()) {
        x.iter_mut().for_each(|v| *v = rng.next_f64() as f32);
        y[rng.below(10)] = 1.0;
    }
}
