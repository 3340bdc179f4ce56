//! The four benchmark networks (issue 4; defined in `gradc_testkit::nets`), their
//! hand-written reference steps and a ratio table. Shared by `benches/steps.rs`
//! (criterion) and `examples/bench_table.rs` (the table alone, for users).
//!
//! A "step" is loss plus every parameter gradient, no optimizer update, f32.

#![allow(clippy::needless_range_loop)] // hand-written steps index like the math they transcribe
#![allow(dead_code)]

pub use gradc_testkit::nets::{n1, n1b, n2, n3, n3b, n4, n4b};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// FLOPs of one N4 step (multiply-add = 2): forward and weight gradients of all
/// three layers, input gradients of layers 2 and 3.
pub const N4_FLOPS: f64 = 2.0
    * 128.0
    * (2.0 * (784.0 * 256.0 + 256.0 * 128.0 + 128.0 * 10.0) + 256.0 * 128.0 + 128.0 * 10.0);

/// FLOPs of one N3 step, counted like [`N4_FLOPS`].
pub const N3_FLOPS: f64 = 2.0 * 32.0 * (2.0 * (64.0 * 64.0 + 64.0 * 10.0) + 64.0 * 10.0);

/// Deterministic pseudo-random fill in [-scale, scale).
pub fn fill(xs: &mut [f32], seed: u64, scale: f32) {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for x in xs {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        *x = ((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale;
    }
}

/// One-hot rows of width `c`.
pub fn one_hot(ys: &mut [f32], c: usize, seed: u64) {
    for (r, row) in ys.chunks_mut(c).enumerate() {
        row.fill(0.0);
        row[(r * 7 + seed as usize) % c] = 1.0;
    }
}

macro_rules! setup {
    ($net:ident, $classes:expr) => {{
        let mut p = $net::Params::zeros_boxed();
        let mut i = $net::Inputs::zeros_boxed();
        for (k, (_, s)) in p.slices_mut().into_iter().enumerate() {
            let scale = 1.0 / (s.len() as f32).sqrt().max(1.0);
            fill(s, 10 + k as u64, scale.max(0.05));
        }
        let [(_, x), (_, y)] = i.slices_mut();
        fill(x, 1, 1.0);
        match $classes {
            Some(c) => one_hot(y, c, 3),
            None => fill(y, 2, 1.0),
        }
        let g = $net::Grads::zeros_boxed();
        (p, i, g)
    }};
}

mod wide;
#[allow(unused_imports)] // not every includer uses the wide networks
pub use wide::*;

pub fn setup_n1() -> (Box<n1::Params>, Box<n1::Inputs>, Box<n1::Grads>) {
    setup!(n1, None::<usize>)
}
pub fn setup_n2() -> (Box<n2::Params>, Box<n2::Inputs>, Box<n2::Grads>) {
    setup!(n2, None::<usize>)
}
pub fn setup_n3() -> (Box<n3::Params>, Box<n3::Inputs>, Box<n3::Grads>) {
    setup!(n3, Some(10))
}
pub fn setup_n4() -> (Box<n4::Params>, Box<n4::Inputs>, Box<n4::Grads>) {
    setup!(n4, Some(10))
}
pub fn setup_n1b() -> (Box<n1b::Params>, Box<n1b::Inputs<4>>, Box<n1b::Grads>) {
    setup!(n1b, None::<usize>)
}
pub fn setup_n3b() -> (Box<n3b::Params>, Box<n3b::Inputs<32>>, Box<n3b::Grads>) {
    setup!(n3b, Some(10))
}
pub fn setup_n4b() -> (Box<n4b::Params>, Box<n4b::Inputs<128>>, Box<n4b::Grads>) {
    setup!(n4b, Some(10))
}

// ---------------------------------------------------------------------------
// Hand-written steps: what a careful engineer writes for each fixed network.

#[inline(always)]
fn fma(a: f32, b: f32, c: f32) -> f32 {
    // Without the FMA target feature `mul_add` is a libm call: far slower.
    #[cfg(target_feature = "fma")]
    {
        a.mul_add(b, c)
    }
    #[cfg(not(target_feature = "fma"))]
    {
        a * b + c
    }
}

pub fn hand_n1(p: &n1::Params, i: &n1::Inputs, g: &mut n1::Grads) -> f32 {
    let (x, y) = (&i.x, &i.y);
    let mut h = [[0.0f32; 2]; 4];
    let mut dy = [0.0f32; 4];
    let mut loss = 0.0;
    for r in 0..4 {
        for j in 0..2 {
            let a = x[r][0] * p.w1[0][j] + x[r][1] * p.w1[1][j] + p.c[j];
            h[r][j] = if a > 0.0 { a } else { 0.0 };
        }
        let e = h[r][0] * p.w2[0] + h[r][1] * p.w2[1] + p.b - y[r];
        loss += e * e;
        dy[r] = 0.5 * e; // d(mean e²)/de = 2e/4
    }
    let mut gw1 = [[0.0f32; 2]; 2];
    let (mut gc, mut gw2, mut gb) = ([0.0f32; 2], [0.0f32; 2], 0.0f32);
    for r in 0..4 {
        gb += dy[r];
        for j in 0..2 {
            gw2[j] += h[r][j] * dy[r];
            let da = if h[r][j] > 0.0 { dy[r] * p.w2[j] } else { 0.0 };
            gc[j] += da;
            gw1[0][j] += x[r][0] * da;
            gw1[1][j] += x[r][1] * da;
        }
    }
    g.w1 = gw1;
    g.c = gc;
    g.w2 = gw2;
    g.b = gb;
    loss * 0.25
}

#[inline(always)]
fn sigmoid(z: f32) -> f32 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

pub fn hand_n2(p: &n2::Params, i: &n2::Inputs, g: &mut n2::Grads) -> f32 {
    let (x, y) = (&i.x, &i.y);
    let mut h = [0.0f32; 2];
    let mut o = [0.0f32; 2];
    for j in 0..2 {
        h[j] = sigmoid(x[0] * p.w1[0][j] + x[1] * p.w1[1][j] + p.b1[j]);
    }
    for j in 0..2 {
        o[j] = sigmoid(h[0] * p.w2[0][j] + h[1] * p.w2[1][j] + p.b2[j]);
    }
    let mut loss = 0.0;
    let mut dz2 = [0.0f32; 2];
    for j in 0..2 {
        let e = o[j] - y[j];
        loss += e * e;
        dz2[j] = e * o[j] * (1.0 - o[j]);
    }
    let mut dz1 = [0.0f32; 2];
    for k in 0..2 {
        let dh = dz2[0] * p.w2[k][0] + dz2[1] * p.w2[k][1];
        dz1[k] = dh * h[k] * (1.0 - h[k]);
    }
    for k in 0..2 {
        for j in 0..2 {
            g.w2[k][j] = h[k] * dz2[j];
            g.w1[k][j] = x[k] * dz1[j];
        }
    }
    g.b2 = dz2;
    g.b1 = dz1;
    0.5 * loss
}

use gradc::__private::rt;

/// `c[m×n] (+)= A·B` with `A(i,p) = a[i*ars + p*acs]` and `B(p,j) = b[p*brs + j*bcs]`
/// (a transposed operand is just swapped strides, no copy): the project's
/// register-blocked kernel `gradc_runtime::gemm_strided`, the best GEMM available
/// to a Rust engineer here (the compiled code calls the same kernel).
#[allow(clippy::too_many_arguments)]
fn gemm(
    m: usize,
    n: usize,
    k: usize,
    (a, ars, acs): (&[f32], usize, usize),
    (b, brs, bcs): (&[f32], usize, usize),
    c: &mut [f32],
    acc: bool,
) {
    let a = rt::Strided {
        data: a,
        rs: ars,
        cs: acs,
    };
    let b = rt::Strided {
        data: b,
        rs: brs,
        cs: bcs,
    };
    rt::gemm_strided(m, n, k, a, b, c, acc);
}

/// Vectorisable `exp` for f32 (Cody-Waite range reduction, degree-6 polynomial,
/// about 1-2 ulp on the softmax range); `x` below -87 gives 0. Rounds with the
/// 1.5·2²³ trick: `f32::round` is a libm call on baseline x86-64.
#[inline(always)]
fn fast_exp(x: f32) -> f32 {
    if x < -87.0 {
        return 0.0;
    }
    let x = x.min(88.0);
    const SHIFT: f32 = 12_582_912.0;
    let big = fma(x, std::f32::consts::LOG2_E, SHIFT);
    let k = big - SHIFT;
    let ki = (big.to_bits() as i32).wrapping_sub(SHIFT.to_bits() as i32);
    let r = fma(k, -0.693_145_75, x);
    let r = fma(k, -1.428_606_8e-6, r);
    let mut p = 1.0 / 720.0;
    p = fma(p, r, 1.0 / 120.0);
    p = fma(p, r, 1.0 / 24.0);
    p = fma(p, r, 1.0 / 6.0);
    p = fma(p, r, 0.5);
    p = fma(p, r, 1.0);
    p = fma(p, r, 1.0);
    p * f32::from_bits(((ki + 127) as u32) << 23)
}

/// Softmax cross-entropy over rows of `z` (width `c`) against one-hot/probability
/// rows `y`: returns the batch mean and writes `dz = (softmax(z) − y) / rows`.
fn softmax_ce(z: &[f32], y: &[f32], c: usize, dz: &mut [f32]) -> f32 {
    let rows = z.len() / c;
    let inv = 1.0 / rows as f32;
    let mut loss = 0.0;
    for ((zr, yr), dr) in z
        .chunks_exact(c)
        .zip(y.chunks_exact(c))
        .zip(dz.chunks_exact_mut(c))
    {
        let m = zr.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
        // Exponentials in their own loop so it vectorises; the sum after.
        for (d, &v) in dr.iter_mut().zip(zr) {
            *d = fast_exp(v - m);
        }
        let s: f32 = dr.iter().sum();
        let lse = m + s.ln();
        let (mut ysum, mut yz) = (0.0, 0.0);
        let is = inv / s;
        for ((d, &v), &t) in dr.iter_mut().zip(zr).zip(yr) {
            ysum += t;
            yz += t * v;
            *d = *d * is - t * inv;
        }
        loss += ysum * lse - yz;
    }
    loss * inv
}

/// `z = relu(x·w + b)` for one layer, bias and ReLU fused into one pass.
fn dense_relu(rows: usize, i: usize, o: usize, x: &[f32], w: &[f32], b: &[f32], z: &mut [f32]) {
    // Bias first, the product accumulates onto it; ReLU in one pass after.
    for r in z.chunks_exact_mut(o) {
        r.copy_from_slice(b);
    }
    gemm(rows, o, i, (x, i, 1), (w, o, 1), z, true);
    for v in z.iter_mut() {
        *v = v.max(0.0);
    }
}

fn dense(rows: usize, i: usize, o: usize, x: &[f32], w: &[f32], b: &[f32], z: &mut [f32]) {
    for r in z.chunks_exact_mut(o) {
        r.copy_from_slice(b);
    }
    gemm(rows, o, i, (x, i, 1), (w, o, 1), z, true);
}

/// Weight and bias gradients of one layer: `gw = xᵀ·dz`, `gb = Σ_rows dz`.
fn dense_grads(
    rows: usize,
    i: usize,
    o: usize,
    x: &[f32],
    dz: &[f32],
    gw: &mut [f32],
    gb: &mut [f32],
) {
    gemm(i, o, rows, (x, 1, i), (dz, o, 1), gw, false);
    gb.fill(0.0);
    for r in dz.chunks_exact(o) {
        for (g, &d) in gb.iter_mut().zip(r) {
            *g += d;
        }
    }
}

/// `dx = (dz·wᵀ) ⊙ [h > 0]`: `wᵀ` through strides; the ReLU mask in one pass
/// over `dx` right after the product (still in cache).
#[allow(clippy::too_many_arguments)]
fn back_relu(rows: usize, i: usize, o: usize, dz: &[f32], w: &[f32], h: &[f32], dx: &mut [f32]) {
    gemm(rows, i, o, (dz, o, 1), (w, 1, o), dx, false);
    // A select, not a conditional store, so it vectorises without masked stores.
    for (d, &hv) in dx.iter_mut().zip(h) {
        *d = if hv > 0.0 { *d } else { 0.0 };
    }
}

/// Scratch for the hand-written N3/N4 steps, allocated once by the caller.
pub struct HandScratch {
    h1: Vec<f32>,
    h2: Vec<f32>,
    z: Vec<f32>,
    dz: Vec<f32>,
    d2: Vec<f32>,
    d1: Vec<f32>,
}

impl HandScratch {
    pub fn new(b: usize, sizes: &[usize]) -> Self {
        let max = sizes.iter().copied().max().unwrap_or(0);
        let v = |n: usize| vec![0.0f32; n];
        HandScratch {
            h1: v(b * max),
            h2: v(b * max),
            z: v(b * max),
            dz: v(b * max),
            d2: v(b * max),
            d1: v(b * max),
        }
    }
}

pub fn hand_n3(p: &n3::Params, i: &n3::Inputs, g: &mut n3::Grads, s: &mut HandScratch) -> f32 {
    const B: usize = 32;
    let (x, y) = (i.x.as_flattened(), i.y.as_flattened());
    let h = &mut s.h1[..B * 64];
    dense_relu(B, 64, 64, x, p.w1.as_flattened(), &p.b1, h);
    let z = &mut s.z[..B * 10];
    dense(B, 64, 10, h, p.w2.as_flattened(), &p.b2, z);
    let dz = &mut s.dz[..B * 10];
    let loss = softmax_ce(z, y, 10, dz);
    dense_grads(B, 64, 10, h, dz, g.w2.as_flattened_mut(), &mut g.b2);
    let dh = &mut s.d1[..B * 64];
    back_relu(B, 64, 10, dz, p.w2.as_flattened(), h, dh);
    dense_grads(B, 64, 64, x, dh, g.w1.as_flattened_mut(), &mut g.b1);
    loss
}

pub fn hand_n4(p: &n4::Params, i: &n4::Inputs, g: &mut n4::Grads, s: &mut HandScratch) -> f32 {
    const B: usize = 128;
    let (x, y) = (i.x.as_flattened(), i.y.as_flattened());
    let h1 = &mut s.h1[..B * 256];
    dense_relu(B, 784, 256, x, p.w1.as_flattened(), &p.b1, h1);
    let h2 = &mut s.h2[..B * 128];
    dense_relu(B, 256, 128, h1, p.w2.as_flattened(), &p.b2, h2);
    let z = &mut s.z[..B * 10];
    dense(B, 128, 10, h2, p.w3.as_flattened(), &p.b3, z);
    let dz = &mut s.dz[..B * 10];
    let loss = softmax_ce(z, y, 10, dz);
    dense_grads(B, 128, 10, h2, dz, g.w3.as_flattened_mut(), &mut g.b3);
    let d2 = &mut s.d2[..B * 128];
    back_relu(B, 128, 10, dz, p.w3.as_flattened(), h2, d2);
    dense_grads(B, 256, 128, h1, d2, g.w2.as_flattened_mut(), &mut g.b2);
    let d1 = &mut s.d1[..B * 256];
    back_relu(B, 256, 128, d2, p.w2.as_flattened(), h1, d1);
    dense_grads(B, 784, 256, x, d1, g.w1.as_flattened_mut(), &mut g.b1);
    loss
}

pub fn hand_scratch_n3() -> HandScratch {
    HandScratch::new(32, &[64, 64, 10])
}
pub fn hand_scratch_n4() -> HandScratch {
    HandScratch::new(128, &[784, 256, 128, 10])
}

// ---------------------------------------------------------------------------
// The ratio table.

/// Best time per call of `f` over 11 samples, each long enough (~`budget`/11)
/// to swamp timer overhead. The minimum, not the median: the machine is shared
/// and other load only ever adds time.
pub fn best(budget: Duration, f: impl FnMut()) -> Duration {
    Duration::from_secs_f64(best_secs(budget, f))
}

/// [`best`] in seconds, below a nanosecond too: N1 and N2 take 10 to 30 ns,
/// where whole nanoseconds would be steps of 3 to 10 % in a ratio.
pub fn best_secs(budget: Duration, mut f: impl FnMut()) -> f64 {
    let t0 = Instant::now();
    f();
    let once = t0.elapsed().max(Duration::from_nanos(1));
    let per_sample = budget / 11;
    let iters = (per_sample.as_nanos() / once.as_nanos()).clamp(1, 10_000_000) as u32;
    (0..11)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..iters {
                f();
            }
            t.elapsed().as_secs_f64() / f64::from(iters)
        })
        .fold(f64::INFINITY, f64::min)
}

/// The vector features the build itself targets (`-C target-cpu`).
fn build_flags() -> &'static str {
    if cfg!(target_feature = "avx512f") {
        "AVX-512 (target-cpu=native or similar)"
    } else if cfg!(target_feature = "avx2") {
        "AVX2"
    } else {
        "default x86-64 baseline (SSE2)"
    }
}

/// Which build of the GEMM kernel run-time detection picks.
fn kernel_isa() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return "AVX-512";
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            return "AVX2+FMA";
        }
    }
    "portable"
}

fn fmt(d: Duration) -> String {
    fmt_secs(d.as_secs_f64())
}

fn fmt_secs(s: f64) -> String {
    let ns = s * 1e9;
    if ns < 1e3 {
        format!("{ns:.1} ns")
    } else if ns < 1e6 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{:.3} ms", ns / 1e6)
    }
}

/// Interleaved rounds per cell in [`print_table`] and [`print_generic`].
const ROUNDS: u32 = 5;

/// Times compiled, interpreted and hand-written steps of N1-N4 and prints the
/// ratio table (in interleaved rounds, best of 11 samples per round), then N4
/// with two threads and the `const B` table.
pub fn print_table(budget: Duration) {
    let mut s4 = print_steps(budget);
    print_threads(budget * 4, &mut s4);
    print_generic(budget);
}

/// The ratio table of [`print_table`] alone; returns the N4 scratch.
pub fn print_steps(budget: Duration) -> HandScratch {
    println!(
        "f32, one thread, best of {ROUNDS} interleaved rounds of 11 samples per cell; build: {}; run-time GEMM kernel: {}",
        build_flags(),
        kernel_isa()
    );
    println!(
        "hand-written = fused loops written for each network + gradc_runtime::gemm_strided \
         (the project's register-blocked GEMM, the same kernel compiled code calls)"
    );
    println!();
    println!("| net | compiled | interpreted | hand-written | compiled/hand | interp/compiled |");
    println!("|---|---|---|---|---|---|");
    let row = |name: &str, c: f64, i: f64, h: f64| {
        println!(
            "| {name} | {} | {} | {} | {:.2} | {:.1} |",
            fmt_secs(c),
            fmt_secs(i),
            fmt_secs(h),
            c / h,
            i / c
        );
    };
    // Five rounds, each timing compiled, interpreted and hand-written back to
    // back, best per cell: a burst of load on the shared machine hits all
    // three alike instead of skewing one cell's ratio.
    macro_rules! measure {
        ($setup:ident, $net:ident, $hand:expr) => {{
            let (p, i, mut g) = $setup();
            #[allow(unused_mut)]
            let mut hand = $hand;
            let (mut c, mut it, mut h) = (f64::INFINITY, f64::INFINITY, f64::INFINITY);
            for _ in 0..ROUNDS {
                c = c.min(best_secs(budget / ROUNDS, || {
                    black_box($net::forward_backward(black_box(&p), black_box(&i), &mut g));
                }));
                it = it.min(best_secs(budget / ROUNDS, || {
                    black_box($net::interpreted_forward_backward(
                        black_box(&p),
                        black_box(&i),
                        &mut g,
                    ));
                }));
                h = h.min(best_secs(budget / ROUNDS, || {
                    black_box(hand(black_box(&*p), black_box(&*i), &mut *g));
                }));
            }
            (c, it, h)
        }};
    }
    let (c, i, h) = measure!(setup_n1, n1, hand_n1);
    row("N1 xor 2-2-1, batch 4", c, i, h);
    let (c, i, h) = measure!(setup_n2, n2, hand_n2);
    row("N2 2-2-2 sigmoid, batch 1", c, i, h);
    let mut s3 = hand_scratch_n3();
    let (c3, i3, h3) = measure!(
        setup_n3,
        n3,
        |p: &n3::Params, i: &n3::Inputs, g: &mut n3::Grads| hand_n3(p, i, g, &mut s3)
    );
    row("N3 64-64-10, batch 32", c3, i3, h3);
    let mut s4 = hand_scratch_n4();
    let (c, i, h) = measure!(
        setup_n4,
        n4,
        |p: &n4::Params, i: &n4::Inputs, g: &mut n4::Grads| hand_n4(p, i, g, &mut s4)
    );
    row("N4 784-256-128-10, batch 128", c, i, h);
    println!();
    println!(
        "N3 compiled: {:.1} GFLOP/s, hand-written: {:.1} GFLOP/s ({:.2} MFLOP per step)",
        N3_FLOPS / c3 / 1e9,
        N3_FLOPS / h3 / 1e9,
        N3_FLOPS / 1e6
    );
    println!(
        "N4 compiled: {:.1} GFLOP/s, hand-written: {:.1} GFLOP/s ({:.0} MFLOP per step)",
        N4_FLOPS / c / 1e9,
        N4_FLOPS / h / 1e9,
        N4_FLOPS / 1e6
    );
    s4
}

/// The same networks defined once with `const B: usize`, at the batch sizes of
/// the literal definitions: compiled steps side by side, interleaved rounds.
pub fn print_generic(budget: Duration) {
    macro_rules! pair {
        ($lit:ident, $gen:ident, $setup_l:ident, $setup_g:ident) => {{
            let (p, i, mut g) = $setup_l();
            let (pb, ib, mut gb) = $setup_g();
            let mut t = [Duration::MAX; 2];
            for _ in 0..ROUNDS {
                t[0] = t[0].min(best(budget / ROUNDS, || {
                    black_box($lit::forward_backward(black_box(&p), black_box(&i), &mut g));
                }));
                t[1] = t[1].min(best(budget / ROUNDS, || {
                    black_box($gen::forward_backward(
                        black_box(&pb),
                        black_box(&ib),
                        &mut gb,
                    ));
                }));
            }
            t
        }};
    }
    println!();
    println!("One definition for every batch size (`fn net<const B: usize>`), compiled steps:");
    println!();
    println!("| net | literal batch | const B | const B / literal |");
    println!("|---|---|---|---|");
    let row = |name: &str, t: [Duration; 2]| {
        println!(
            "| {name} | {} | {} | {:.2} |",
            fmt(t[0]),
            fmt(t[1]),
            t[1].as_secs_f64() / t[0].as_secs_f64()
        );
    };
    row("N1, B = 4", pair!(n1, n1b, setup_n1, setup_n1b));
    row("N3, B = 32", pair!(n3, n3b, setup_n3, setup_n3b));
    row("N4, B = 128", pair!(n4, n4b, setup_n4, setup_n4b));
}

/// N4 compiled and hand-written steps with one thread and with
/// `gradc::set_threads(2)` (large GEMMs split over the calling thread and one
/// helper): 11 rounds, each timing all four back to back, best per cell, so
/// load changes on a shared machine hit both thread counts alike.
pub fn print_threads(budget: Duration, s4: &mut HandScratch) {
    if gradc::set_threads(2) != 2 {
        println!("N4, 2 threads: helper thread unavailable");
        return;
    }
    let (p, i, mut g) = setup_n4();
    let mut t = [Duration::MAX; 4];
    let iters = ((budget / 11 / 4).as_secs_f64() / 1e-3).max(1.0) as u32;
    for _ in 0..11 {
        for (cell, threads) in [(0, 1), (1, 2), (2, 1), (3, 2)] {
            gradc::set_threads(threads);
            let start = Instant::now();
            for _ in 0..iters {
                if cell < 2 {
                    black_box(n4::forward_backward(black_box(&p), black_box(&i), &mut g));
                } else {
                    black_box(hand_n4(black_box(&p), black_box(&i), &mut g, s4));
                }
            }
            t[cell] = t[cell].min(start.elapsed() / iters);
        }
    }
    gradc::set_threads(1);
    println!(
        "N4, 1 vs 2 threads (gradc::set_threads(2)), best of 11 interleaved rounds: \
         compiled {} -> {} ({:.1} GFLOP/s, {:.2}x), hand-written {} -> {} ({:.2}x)",
        fmt(t[0]),
        fmt(t[1]),
        N4_FLOPS / t[1].as_secs_f64() / 1e9,
        t[0].as_secs_f64() / t[1].as_secs_f64(),
        fmt(t[2]),
        fmt(t[3]),
        t[2].as_secs_f64() / t[3].as_secs_f64()
    );
}

/// Largest relative difference between two gradient sets (and losses), to check
/// that the hand-written steps compute what the compiled ones do.
pub fn max_rel_diff(a: &[(&str, &[f32])], b: &[(&str, &[f32])], la: f32, lb: f32) -> f32 {
    let mut m = (la - lb).abs() / la.abs().max(1e-3);
    for ((_, x), (_, y)) in a.iter().zip(b) {
        let scale = x.iter().fold(1e-6f32, |s, v| s.max(v.abs()));
        for (u, v) in x.iter().zip(y.iter()) {
            m = m.max((u - v).abs() / scale);
        }
    }
    m
}

/// Prints how far each hand-written step is from the compiled one.
pub fn check_hand() {
    macro_rules! check {
        ($setup:ident, $net:ident, $hand:expr) => {{
            let (p, i, mut g) = $setup();
            let mut g2 = g.clone();
            let l = $net::forward_backward(&p, &i, &mut g);
            #[allow(unused_mut)]
            let mut hand = $hand;
            let l2 = hand(&*p, &*i, &mut *g2);
            max_rel_diff(&g.slices(), &g2.slices(), l, l2)
        }};
    }
    let d1 = check!(setup_n1, n1, hand_n1);
    let d2 = check!(setup_n2, n2, hand_n2);
    let mut s3 = hand_scratch_n3();
    let d3 = check!(
        setup_n3,
        n3,
        |p: &n3::Params, i: &n3::Inputs, g: &mut n3::Grads| hand_n3(p, i, g, &mut s3)
    );
    let mut s4 = hand_scratch_n4();
    let d4 = check!(
        setup_n4,
        n4,
        |p: &n4::Params, i: &n4::Inputs, g: &mut n4::Grads| hand_n4(p, i, g, &mut s4)
    );
    println!("hand-written vs compiled, max relative difference: N1 {d1:.1e}, N2 {d2:.1e}, N3 {d3:.1e}, N4 {d4:.1e}");
}
