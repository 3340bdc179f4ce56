//! Issue 14's benchmark networks: N5 784-1024-1024-10 and N6 784-4096-4096-10
//! (batch 64), N7 (10 and 100 width-64 layers, batch 32, written with a `for`
//! loop over stacked weights, `tanh` and a ReLU twin), each against a
//! hand-written step that calls no gradc kernel: N5/N6 through the
//! `matrixmultiply` crate's GEMM, N3 and N7 as constant-size loops. Also a
//! measured single-core f32 FMA peak.

use super::{best, fast_exp, fill, fmt, n3, one_hot, softmax_ce};
use gradc::network;
use std::hint::black_box;
use std::time::{Duration, Instant};

#[network]
pub fn n5(
    #[input] x: [[f32; 784]; 64],
    #[input] y: [[f32; 10]; 64],
    w1: [[f32; 1024]; 784],
    b1: [f32; 1024],
    w2: [[f32; 1024]; 1024],
    b2: [f32; 1024],
    w3: [[f32; 10]; 1024],
    b3: [f32; 10],
) -> f32 {
    let h1 = relu(x.matmul(w1) + b1);
    let h2 = relu(h1.matmul(w2) + b2);
    cross_entropy(h2.matmul(w3) + b3, y)
}

#[network]
pub fn n6(
    #[input] x: [[f32; 784]; 64],
    #[input] y: [[f32; 10]; 64],
    w1: [[f32; 4096]; 784],
    b1: [f32; 4096],
    w2: [[f32; 4096]; 4096],
    b2: [f32; 4096],
    w3: [[f32; 10]; 4096],
    b3: [f32; 10],
) -> f32 {
    let h1 = relu(x.matmul(w1) + b1);
    let h2 = relu(h1.matmul(w2) + b2);
    cross_entropy(h2.matmul(w3) + b3, y)
}

macro_rules! deep {
    ($name:ident, $act:ident, $layers:literal) => {
        #[network]
        pub fn $name(
            #[input] x: [[f32; 64]; 32],
            #[input] y: [[f32; 64]; 32],
            ws: [[[f32; 64]; 64]; $layers],
            bs: [[f32; 64]; $layers],
        ) -> f32 {
            let mut h = x;
            for k in 0..$layers {
                h = $act(h.matmul(ws[k]) + bs[k]);
            }
            mse(h, y)
        }
    };
}
deep!(n7_tanh10, tanh, 10);
deep!(n7_relu10, relu, 10);
deep!(n7_tanh100, tanh, 100);
deep!(n7_relu100, relu, 100);

/// FLOPs of one step of an MLP with softmax cross-entropy (multiply-add = 2):
/// forward and weight gradients of every layer, input gradients of all but
/// the first (as `N4_FLOPS` counts).
pub fn mlp_flops(batch: usize, dims: &[usize]) -> f64 {
    let macs: Vec<f64> = dims.windows(2).map(|w| (w[0] * w[1]) as f64).collect();
    let all: f64 = macs.iter().sum();
    2.0 * batch as f64 * (2.0 * all + all - macs[0])
}

/// FLOPs of one N7 step with `layers` layers, counted the same way.
pub fn deep_flops(layers: usize) -> f64 {
    2.0 * 32.0 * 64.0 * 64.0 * (3 * layers - 1) as f64
}

// ---------------------------------------------------------------------------
// The machine's peak.

/// Single-core f32 FMA peak in GFLOP/s: 12 independent vector FMA chains
/// (enough to hide the FMA latency), AVX-512 or AVX2+FMA, whichever the CPU has.
pub fn fma_peak() -> f64 {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        let iters = 20_000_000u64;
        // The factors come through `black_box`: with constants LLVM may fold
        // the chains (1·a + b can round to 1 again) and remove the loop.
        let run = |f: &dyn Fn(u64, f32, f32) -> f32, lanes: f64| {
            let t = best(Duration::from_millis(300), || {
                black_box(f(
                    black_box(iters / 64),
                    black_box(0.999_9),
                    black_box(1e-4),
                ));
            });
            (iters / 64) as f64 * 12.0 * lanes * 2.0 / t.as_secs_f64() / 1e9
        };
        if has!("avx512f") {
            // SAFETY: the CPU has AVX-512F, the function's one requirement.
            return run(&|n, a, b| unsafe { x86::fma_chains_avx512(n, a, b) }, 16.0);
        }
        if has!("avx2") && has!("fma") {
            // SAFETY: the CPU has AVX2 and FMA, the function's requirements.
            return run(&|n, a, b| unsafe { x86::fma_chains_avx2(n, a, b) }, 8.0);
        }
    }
    f64::NAN
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx512f")]
    pub fn fma_chains_avx512(n: u64, a: f32, b: f32) -> f32 {
        let (a, b) = (_mm512_set1_ps(a), _mm512_set1_ps(b));
        let mut acc = [_mm512_set1_ps(1.0); 12];
        for _ in 0..n {
            for v in &mut acc {
                *v = _mm512_fmadd_ps(*v, a, b);
            }
        }
        let s = acc
            .iter()
            .fold(_mm512_setzero_ps(), |s, v| _mm512_add_ps(s, *v));
        _mm512_reduce_add_ps(s)
    }

    #[target_feature(enable = "avx2,fma")]
    pub fn fma_chains_avx2(n: u64, a: f32, b: f32) -> f32 {
        let (a, b) = (_mm256_set1_ps(a), _mm256_set1_ps(b));
        let mut acc = [_mm256_set1_ps(1.0); 12];
        for _ in 0..n {
            for v in &mut acc {
                *v = _mm256_fmadd_ps(*v, a, b);
            }
        }
        let s = acc
            .iter()
            .fold(_mm256_setzero_ps(), |s, v| _mm256_add_ps(s, *v));
        _mm256_cvtss_f32(s)
    }
}

// ---------------------------------------------------------------------------
// Hand-written N5/N6: matrixmultiply's sgemm for every product.

/// `c[m×n] = β·c + A·B` with `A(i,p) = a[i*ars + p*acs]`, `B(p,j) = b[p*brs + j*bcs]`
/// through `matrixmultiply::sgemm` (a transposed operand is swapped strides).
#[allow(clippy::too_many_arguments)]
fn mm(
    m: usize,
    n: usize,
    k: usize,
    (a, ars, acs): (&[f32], usize, usize),
    (b, brs, bcs): (&[f32], usize, usize),
    c: &mut [f32],
    acc: bool,
) {
    let last = |rs: usize, cs: usize, r: usize, q: usize| (r - 1) * rs + (q - 1) * cs;
    assert!(m > 0 && n > 0 && k > 0 && c.len() >= m * n);
    assert!(a.len() > last(ars, acs, m, k) && b.len() > last(brs, bcs, k, n));
    let beta = if acc { 1.0 } else { 0.0 };
    // SAFETY: the asserts keep every element the strides reach inside the
    // slices; `c` is a distinct `&mut`, so it aliases neither operand.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            ars as isize,
            acs as isize,
            b.as_ptr(),
            brs as isize,
            bcs as isize,
            beta,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

/// Scratch of [`hand_mlp`]: activations and their gradients.
pub struct MlpScratch {
    h1: Vec<f32>,
    h2: Vec<f32>,
    z: Vec<f32>,
    dz: Vec<f32>,
    d2: Vec<f32>,
    d1: Vec<f32>,
}

impl MlpScratch {
    pub fn new(b: usize, h: usize) -> Self {
        let v = |n: usize| vec![0.0f32; n];
        MlpScratch {
            h1: v(b * h),
            h2: v(b * h),
            z: v(b * 10),
            dz: v(b * 10),
            d2: v(b * h),
            d1: v(b * h),
        }
    }
}

/// Flat views of an MLP's parameters, gradients and data.
pub struct Mlp<'a> {
    pub w: [&'a [f32]; 3],
    pub b: [&'a [f32]; 3],
}

pub struct MlpGrads<'a> {
    pub w: [&'a mut [f32]; 3],
    pub b: [&'a mut [f32]; 3],
}

fn bias_relu(z: &mut [f32], b: &[f32], relu: bool) {
    for r in z.chunks_exact_mut(b.len()) {
        for (v, &c) in r.iter_mut().zip(b) {
            *v = if relu { (*v + c).max(0.0) } else { *v + c };
        }
    }
}

fn col_sums(dz: &[f32], gb: &mut [f32]) {
    gb.fill(0.0);
    for r in dz.chunks_exact(gb.len()) {
        for (g, &d) in gb.iter_mut().zip(r) {
            *g += d;
        }
    }
}

fn relu_mask(d: &mut [f32], h: &[f32]) {
    for (d, &h) in d.iter_mut().zip(h) {
        *d = if h > 0.0 { *d } else { 0.0 };
    }
}

/// One step of a 784-h-h-10 ReLU MLP with softmax cross-entropy, batch `bt`.
pub fn hand_mlp(
    bt: usize,
    h: usize,
    p: &Mlp<'_>,
    x: &[f32],
    y: &[f32],
    g: &mut MlpGrads<'_>,
    s: &mut MlpScratch,
) -> f32 {
    let i = x.len() / bt;
    mm(bt, h, i, (x, i, 1), (p.w[0], h, 1), &mut s.h1, false);
    bias_relu(&mut s.h1, p.b[0], true);
    mm(bt, h, h, (&s.h1, h, 1), (p.w[1], h, 1), &mut s.h2, false);
    bias_relu(&mut s.h2, p.b[1], true);
    mm(bt, 10, h, (&s.h2, h, 1), (p.w[2], 10, 1), &mut s.z, false);
    bias_relu(&mut s.z, p.b[2], false);
    let loss = softmax_ce(&s.z, y, 10, &mut s.dz);
    mm(h, 10, bt, (&s.h2, 1, h), (&s.dz, 10, 1), g.w[2], false);
    col_sums(&s.dz, g.b[2]);
    mm(bt, h, 10, (&s.dz, 10, 1), (p.w[2], 1, 10), &mut s.d2, false);
    relu_mask(&mut s.d2, &s.h2);
    mm(h, h, bt, (&s.h1, 1, h), (&s.d2, h, 1), g.w[1], false);
    col_sums(&s.d2, g.b[1]);
    mm(bt, h, h, (&s.d2, h, 1), (p.w[1], 1, h), &mut s.d1, false);
    relu_mask(&mut s.d1, &s.h1);
    mm(i, h, bt, (x, 1, i), (&s.d1, h, 1), g.w[0], false);
    col_sums(&s.d1, g.b[0]);
    loss
}

macro_rules! mlp_views {
    ($p:expr, $g:expr) => {
        (
            Mlp {
                w: [
                    $p.w1.as_flattened(),
                    $p.w2.as_flattened(),
                    $p.w3.as_flattened(),
                ],
                b: [&$p.b1[..], &$p.b2[..], &$p.b3[..]],
            },
            MlpGrads {
                w: [
                    $g.w1.as_flattened_mut(),
                    $g.w2.as_flattened_mut(),
                    $g.w3.as_flattened_mut(),
                ],
                b: [&mut $g.b1[..], &mut $g.b2[..], &mut $g.b3[..]],
            },
        )
    };
}

pub fn hand_n5(p: &n5::Params, i: &n5::Inputs, g: &mut n5::Grads, s: &mut MlpScratch) -> f32 {
    let (pv, mut gv) = mlp_views!(p, g);
    hand_mlp(
        64,
        1024,
        &pv,
        i.x.as_flattened(),
        i.y.as_flattened(),
        &mut gv,
        s,
    )
}

pub fn hand_n6(p: &n6::Params, i: &n6::Inputs, g: &mut n6::Grads, s: &mut MlpScratch) -> f32 {
    let (pv, mut gv) = mlp_views!(p, g);
    hand_mlp(
        64,
        4096,
        &pv,
        i.x.as_flattened(),
        i.y.as_flattened(),
        &mut gv,
        s,
    )
}

// ---------------------------------------------------------------------------
// Constant-size loops (N3, N7): what a careful engineer writes for one fixed
// shape, every bound a constant, rows of the right operand innermost so each
// loop vectorises.

/// `out = x·w` (`acc`: `out += x·w`).
#[inline(always)]
fn nn<const M: usize, const K: usize, const N: usize>(
    x: &[[f32; K]; M],
    w: &[[f32; N]; K],
    out: &mut [[f32; N]; M],
    acc: bool,
) {
    for r in 0..M {
        let o = &mut out[r];
        if !acc {
            *o = [0.0; N];
        }
        for k in 0..K {
            let a = x[r][k];
            for j in 0..N {
                o[j] += a * w[k][j];
            }
        }
    }
}

/// `gw = xᵀ·d`.
#[inline(always)]
fn tn<const M: usize, const K: usize, const N: usize>(
    x: &[[f32; K]; M],
    d: &[[f32; N]; M],
    gw: &mut [[f32; N]; K],
) {
    *gw = [[0.0; N]; K];
    for r in 0..M {
        for k in 0..K {
            let a = x[r][k];
            for j in 0..N {
                gw[k][j] += a * d[r][j];
            }
        }
    }
}

/// `t = wᵀ`, so `d·wᵀ` becomes a row-major `nn` product.
#[inline(always)]
fn transpose<const K: usize, const N: usize>(w: &[[f32; N]; K], t: &mut [[f32; K]; N]) {
    for k in 0..K {
        for j in 0..N {
            t[j][k] = w[k][j];
        }
    }
}

#[inline(always)]
fn col_sum<const M: usize, const N: usize>(d: &[[f32; N]; M], gb: &mut [f32; N]) {
    *gb = [0.0; N];
    for r in d {
        for j in 0..N {
            gb[j] += r[j];
        }
    }
}

/// Vectorisable `tanh` through the bench's `exp`: 1 − 2/(e^{2x} + 1).
#[inline(always)]
fn fast_tanh(x: f32) -> f32 {
    1.0 - 2.0 / (fast_exp(2.0 * x.clamp(-20.0, 20.0)) + 1.0)
}

/// N3 as constant-size loops, every buffer on the stack.
pub fn hand_n3_loops(p: &n3::Params, i: &n3::Inputs, g: &mut n3::Grads) -> f32 {
    let mut h = [[0.0f32; 64]; 32];
    nn(&i.x, &p.w1, &mut h, false);
    for r in &mut h {
        for j in 0..64 {
            r[j] = (r[j] + p.b1[j]).max(0.0);
        }
    }
    let mut z = [[0.0f32; 10]; 32];
    nn(&h, &p.w2, &mut z, false);
    for r in &mut z {
        for j in 0..10 {
            r[j] += p.b2[j];
        }
    }
    let mut dz = [[0.0f32; 10]; 32];
    let loss = softmax_ce(
        z.as_flattened(),
        i.y.as_flattened(),
        10,
        dz.as_flattened_mut(),
    );
    tn(&h, &dz, &mut g.w2);
    col_sum(&dz, &mut g.b2);
    let mut w2t = [[0.0f32; 64]; 10];
    transpose(&p.w2, &mut w2t);
    let mut dh = [[0.0f32; 64]; 32];
    nn(&dz, &w2t, &mut dh, false);
    for (d, hr) in dh.iter_mut().zip(&h) {
        for j in 0..64 {
            d[j] = if hr[j] > 0.0 { d[j] } else { 0.0 };
        }
    }
    tn(&i.x, &dh, &mut g.w1);
    col_sum(&dh, &mut g.b1);
    loss
}

/// Scratch of an N7 step with `L` layers: every layer's output.
pub struct DeepScratch<const L: usize> {
    hs: Box<[[[f32; 64]; 32]]>,
}

impl<const L: usize> DeepScratch<L> {
    pub fn new() -> Self {
        DeepScratch {
            hs: vec![[[0.0f32; 64]; 32]; L + 1].into_boxed_slice(),
        }
    }
}

impl<const L: usize> Default for DeepScratch<L> {
    fn default() -> Self {
        Self::new()
    }
}

/// One N7 step (`tanh` or ReLU layers, mean squared error) as constant-size loops.
#[allow(clippy::too_many_arguments)]
pub fn hand_deep<const L: usize>(
    tanh: bool,
    ws: &[[[f32; 64]; 64]; L],
    bs: &[[f32; 64]; L],
    x: &[[f32; 64]; 32],
    y: &[[f32; 64]; 32],
    gws: &mut [[[f32; 64]; 64]; L],
    gbs: &mut [[f32; 64]; L],
    s: &mut DeepScratch<L>,
) -> f32 {
    let hs = &mut s.hs;
    hs[0] = *x;
    for k in 0..L {
        let (prev, next) = hs.split_at_mut(k + 1);
        let out = &mut next[0];
        nn(&prev[k], &ws[k], out, false);
        for r in out.iter_mut() {
            for j in 0..64 {
                let v = r[j] + bs[k][j];
                r[j] = if tanh { fast_tanh(v) } else { v.max(0.0) };
            }
        }
    }
    let n = (32 * 64) as f32;
    let mut loss = 0.0;
    let mut d = [[0.0f32; 64]; 32];
    for ((dr, hr), yr) in d.iter_mut().zip(&hs[L]).zip(y) {
        for j in 0..64 {
            let e = hr[j] - yr[j];
            loss += e * e;
            dr[j] = 2.0 * e / n;
        }
    }
    let mut wt = [[0.0f32; 64]; 64];
    for k in (0..L).rev() {
        let h = &hs[k + 1];
        for (dr, hr) in d.iter_mut().zip(h) {
            for j in 0..64 {
                dr[j] *= if tanh {
                    1.0 - hr[j] * hr[j]
                } else if hr[j] > 0.0 {
                    1.0
                } else {
                    0.0
                };
            }
        }
        tn(&hs[k], &d, &mut gws[k]);
        col_sum(&d, &mut gbs[k]);
        if k > 0 {
            transpose(&ws[k], &mut wt);
            let mut dx = [[0.0f32; 64]; 32];
            nn(&d, &wt, &mut dx, false);
            d = dx;
        }
    }
    loss / n
}

// ---------------------------------------------------------------------------
// The tables.

/// Interleaved rounds, best per cell.
const ROUNDS: u32 = 5;

fn gf(flops: f64, d: Duration) -> f64 {
    flops / d.as_secs_f64() / 1e9
}

/// Times `cells` in `ROUNDS` interleaved rounds, best per cell.
fn interleaved(budget: Duration, cells: &mut [&mut dyn FnMut()]) -> Vec<Duration> {
    let mut t = vec![Duration::MAX; cells.len()];
    for _ in 0..ROUNDS {
        for (c, f) in t.iter_mut().zip(cells.iter_mut()) {
            *c = (*c).min(best(budget / ROUNDS, &mut **f));
        }
    }
    t
}

/// Largest difference relative to each tensor's largest magnitude.
fn rel(a: &[(&str, &[f32])], b: &[(&str, &[f32])], la: f32, lb: f32) -> f32 {
    super::max_rel_diff(a, b, la, lb)
}

/// N5/N6 (compiled at 1 and 2 threads, hand-written), N3 against a
/// constant-loop step, N7 tanh and ReLU at 10 and 100 layers against
/// constant-loop steps; GFLOP/s and the fraction of the measured peak.
pub fn print_wide(budget: Duration) {
    let peak = fma_peak();
    println!();
    println!("Measured single-core f32 FMA peak: {peak:.1} GFLOP/s");
    println!();
    println!(
        "| net | compiled | hand-written | compiled/hand | compiled GFLOP/s (% of peak) | hand GFLOP/s | compiled, 2 threads (speed-up) |"
    );
    println!("|---|---|---|---|---|---|---|");
    macro_rules! wide {
        ($net:ident, $hand:ident, $h:expr, $name:expr) => {{
            let (p, i, mut g) = setup!($net, Some(10));
            let mut g2 = g.clone();
            let mut s = MlpScratch::new(64, $h);
            let l = $net::forward_backward(&p, &i, &mut g);
            let l2 = $hand(&p, &i, &mut g2, &mut s);
            let diff = rel(&g.slices(), &g2.slices(), l, l2);
            let flops = mlp_flops(64, &[784, $h, $h, 10]);
            let two = gradc::set_threads(2) == 2;
            gradc::set_threads(1);
            let mut c1 = || {
                black_box($net::forward_backward(black_box(&p), black_box(&i), &mut g));
            };
            let mut hh = || {
                black_box($hand(black_box(&p), black_box(&i), &mut g2, &mut s));
            };
            let t = interleaved(budget, &mut [&mut c1, &mut hh]);
            // Two threads in their own interleaved rounds with one thread.
            let mut t2 = [Duration::MAX; 2];
            if two {
                let iters = ((budget / 10).as_secs_f64() / t[0].as_secs_f64()).max(1.0) as u32;
                for _ in 0..ROUNDS {
                    for (cell, threads) in [(0, 1), (1, 2)] {
                        gradc::set_threads(threads);
                        let start = Instant::now();
                        for _ in 0..iters {
                            black_box($net::forward_backward(black_box(&p), black_box(&i), &mut g));
                        }
                        t2[cell] = t2[cell].min(start.elapsed() / iters);
                    }
                }
                gradc::set_threads(1);
            }
            println!(
                "| {} | {} | {} | {:.2} | {:.1} ({:.0} %) | {:.1} | {} |",
                $name,
                fmt(t[0]),
                fmt(t[1]),
                t[0].as_secs_f64() / t[1].as_secs_f64(),
                gf(flops, t[0]),
                100.0 * gf(flops, t[0]) / peak,
                gf(flops, t[1]),
                if two {
                    format!(
                        "{} ({:.1} GFLOP/s, {:.2}x)",
                        fmt(t2[1]),
                        gf(flops, t2[1]),
                        t2[0].as_secs_f64() / t2[1].as_secs_f64()
                    )
                } else {
                    "helper thread unavailable".to_string()
                }
            );
            diff
        }};
    }
    let d5 = wide!(n5, hand_n5, 1024, "N5 784-1024-1024-10, batch 64");
    let d6 = wide!(n6, hand_n6, 4096, "N6 784-4096-4096-10, batch 64");

    let d3 = print_n3_loops(budget, peak);

    // Tanh and ReLU twins (compiled and hand-written) in the same interleaved
    // rounds, so a burst of load elsewhere hits both sides of the ratio.
    macro_rules! deep_row {
        ($tanh_net:ident, $relu_net:ident, $l:literal) => {{
            macro_rules! one {
                ($net:ident, $tanh:expr) => {{
                    let (mut p, i, mut g) = setup!($net, None::<usize>);
                    // Weights that keep activations of order 1 through 100
                    // layers (the shared setup's scale shrinks them into
                    // subnormals, which time the CPU, not the code).
                    fill(p.ws.as_flattened_mut().as_flattened_mut(), 10, if $tanh { 0.2 } else { 0.3 });
                    let mut g2 = g.clone();
                    let mut s = DeepScratch::<$l>::new();
                    let l = $net::forward_backward(&p, &i, &mut g);
                    let l2 = hand_deep::<$l>($tanh, &p.ws, &p.bs, &i.x, &i.y, &mut g2.ws, &mut g2.bs, &mut s);
                    let diff = rel(&g.slices(), &g2.slices(), l, l2);
                    let (ph, ih) = (p.clone(), i.clone());
                    let c = move || {
                        black_box($net::forward_backward(black_box(&p), black_box(&i), &mut g));
                    };
                    let h = move || {
                        black_box(hand_deep::<$l>($tanh, black_box(&ph.ws), &ph.bs, &ih.x, &ih.y, &mut g2.ws, &mut g2.bs, &mut s));
                    };
                    (c, h, diff)
                }};
            }
            let (mut ct, mut ht, dt) = one!($tanh_net, true);
            let (mut cr, mut hr, dr) = one!($relu_net, false);
            let t = interleaved(budget, &mut [&mut ct, &mut ht, &mut cr, &mut hr]);
            let flops = deep_flops($l);
            for (name, t) in [("tanh", &t[0..2]), ("relu", &t[2..4])] {
                println!(
                    "| N7 {} layers of 64, {name}, batch 32 | {} | {} | {:.2} | {:.1} ({:.0} %) | {:.1} | |",
                    $l,
                    fmt(t[0]),
                    fmt(t[1]),
                    t[0].as_secs_f64() / t[1].as_secs_f64(),
                    gf(flops, t[0]),
                    100.0 * gf(flops, t[0]) / peak,
                    gf(flops, t[1]),
                );
            }
            (t[2].as_secs_f64() / t[0].as_secs_f64(), [("tanh", dt), ("relu", dr)])
        }};
    }
    let (r10, dd10) = deep_row!(n7_tanh10, n7_relu10, 10);
    let (r100, dd100) = deep_row!(n7_tanh100, n7_relu100, 100);
    println!();
    println!("N7 compiled, tanh GFLOP/s / ReLU GFLOP/s: 10 layers {r10:.2}, 100 layers {r100:.2}");
    println!(
        "hand-written vs compiled, max relative difference: N5 {d5:.1e}, N6 {d6:.1e}, N3 (loops) {d3:.1e}, N7-10 {:.1e}/{:.1e}, N7-100 {:.1e}/{:.1e} (tanh/relu)",
        dd10[0].1, dd10[1].1, dd100[0].1, dd100[1].1
    );
}

/// The N3 row of [`print_wide`]: compiled against a constant-loop step (no
/// gradc kernel) in interleaved rounds. Returns their largest relative difference.
pub fn print_n3_loops(budget: Duration, peak: f64) -> f32 {
    let (p, i, mut g) = super::setup_n3();
    let mut g2 = g.clone();
    let l = n3::forward_backward(&p, &i, &mut g);
    let l2 = hand_n3_loops(&p, &i, &mut g2);
    let d3 = rel(&g.slices(), &g2.slices(), l, l2);
    let mut c = || {
        black_box(n3::forward_backward(black_box(&p), black_box(&i), &mut g));
    };
    let mut h = || {
        black_box(hand_n3_loops(black_box(&p), black_box(&i), &mut g2));
    };
    let t3 = interleaved(budget, &mut [&mut c, &mut h]);
    println!(
        "| N3 64-64-10, batch 32, vs constant loops | {} | {} | {:.2} | {:.1} ({:.0} %) | {:.1} | |",
        fmt(t3[0]),
        fmt(t3[1]),
        t3[0].as_secs_f64() / t3[1].as_secs_f64(),
        gf(super::N3_FLOPS, t3[0]),
        100.0 * gf(super::N3_FLOPS, t3[0]) / peak,
        gf(super::N3_FLOPS, t3[1]),
    );
    d3
}
