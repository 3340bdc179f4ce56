//! Why the N7 100-layer ReLU step written by hand and the compiled one
//! disagree (bench_table's "N7-100 .../4.6e-2") while the tanh twin agrees to
//! 6e-7: both are compared with an f64 reference of the same step, and every
//! pre-activation whose sign (so whose ReLU mask) differs between an f32
//! forward pass and the f64 one is counted. The f64 backward pass run with an
//! f32 pass's masks shows how much of that pass's gradient error the flipped
//! masks explain.
//!
//! Run: `cargo run --release --example n7_kinks`.

#[path = "../benches/common/mod.rs"]
mod common;

use common::{fill, hand_deep, max_rel_diff, n7_relu100, DeepScratch};
use gradc::__private::rt;

const L: usize = 100;
const R: usize = 32;
const W: usize = 64;

/// Pre-activations of every layer and the final output, in f64.
struct Pass {
    z: Vec<Vec<f64>>,
    out: Vec<f64>,
}

/// The forward pass in f64 from f32 parameters.
fn forward64(ws: &[f32], bs: &[f32], x: &[f32]) -> Pass {
    let mut h: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
    let mut z = Vec::new();
    for k in 0..L {
        let mut zk = vec![0.0f64; R * W];
        for r in 0..R {
            for p in 0..W {
                let a = h[r * W + p];
                for j in 0..W {
                    zk[r * W + j] += a * f64::from(ws[k * W * W + p * W + j]);
                }
            }
            for j in 0..W {
                zk[r * W + j] += f64::from(bs[k * W + j]);
            }
        }
        h = zk.iter().map(|&v| v.max(0.0)).collect();
        z.push(zk);
    }
    Pass { z, out: h }
}

/// The forward pass in f32, products by `mm` (the order of the sums is what
/// differs between the hand-written step and the compiled one).
fn forward32(ws: &[f32], bs: &[f32], x: &[f32], mm: fn(&[f32], &[f32], &mut [f32])) -> Pass {
    let mut h = x.to_vec();
    let mut z = Vec::new();
    for k in 0..L {
        let mut zk = vec![0.0f32; R * W];
        mm(&h, &ws[k * W * W..(k + 1) * W * W], &mut zk);
        for r in 0..R {
            for j in 0..W {
                zk[r * W + j] += bs[k * W + j];
            }
        }
        h = zk.iter().map(|&v| if v > 0.0 { v } else { 0.0 }).collect();
        z.push(zk.iter().map(|&v| f64::from(v)).collect());
    }
    Pass {
        z,
        out: h.iter().map(|&v| f64::from(v)).collect(),
    }
}

/// The hand-written step's loop order: `o[j] += a·w[p][j]`, p ascending.
fn mm_loops(x: &[f32], w: &[f32], o: &mut [f32]) {
    for r in 0..R {
        for p in 0..W {
            let a = x[r * W + p];
            for j in 0..W {
                o[r * W + j] += a * w[p * W + j];
            }
        }
    }
}

/// The compiled step's product: the runtime GEMM.
fn mm_gemm(x: &[f32], w: &[f32], o: &mut [f32]) {
    rt::matmul(R, W, W, x, w, o);
}

/// Loss and gradients (`ws` then `bs`) in f64 from the f64 forward pass
/// `f`, with the ReLU masks `z > 0` of the pass `masks`.
fn backward64(
    ws: &[f32],
    x: &[f32],
    y: &[f32],
    f: &Pass,
    masks: &Pass,
) -> (f64, Vec<f64>, Vec<f64>) {
    let n = (R * W) as f64;
    let h_of = |k: usize| -> Vec<f64> {
        if k == 0 {
            x.iter().map(|&v| f64::from(v)).collect()
        } else {
            f.z[k - 1].iter().map(|&v| v.max(0.0)).collect()
        }
    };
    let mut loss = 0.0;
    let mut d: Vec<f64> = f
        .out
        .iter()
        .zip(y)
        .map(|(&o, &t)| {
            let e = o - f64::from(t);
            loss += e * e;
            2.0 * e / n
        })
        .collect();
    let (mut gw, mut gb) = (vec![0.0f64; L * W * W], vec![0.0f64; L * W]);
    for k in (0..L).rev() {
        for (dv, &zv) in d.iter_mut().zip(&masks.z[k]) {
            if zv <= 0.0 {
                *dv = 0.0;
            }
        }
        let h = h_of(k);
        for r in 0..R {
            for p in 0..W {
                for j in 0..W {
                    gw[k * W * W + p * W + j] += h[r * W + p] * d[r * W + j];
                }
            }
            for j in 0..W {
                gb[k * W + j] += d[r * W + j];
            }
        }
        let mut dx = vec![0.0f64; R * W];
        for r in 0..R {
            for p in 0..W {
                dx[r * W + p] = (0..W)
                    .map(|j| d[r * W + j] * f64::from(ws[k * W * W + p * W + j]))
                    .sum();
            }
        }
        d = dx;
    }
    (loss / n, gw, gb)
}

/// Units whose mask differs from the f64 pass's: layer, row, column, the f64
/// and f32 pre-activations, and |z| relative to the layer's largest |z|.
fn flips(a: &Pass, reference: &Pass) -> Vec<(usize, usize, usize, f64, f64, f64)> {
    let mut out = Vec::new();
    for (k, (za, zr)) in a.z.iter().zip(&reference.z).enumerate() {
        let scale = zr.iter().fold(0.0f64, |s, v| s.max(v.abs()));
        for (e, (u, v)) in za.iter().zip(zr).enumerate() {
            if (*u > 0.0) != (*v > 0.0) {
                out.push((k, e / W, e % W, *v, *u, v.abs() / scale));
            }
        }
    }
    out
}

fn main() {
    // The bench_table setup of the N7-100 ReLU row.
    let mut p = n7_relu100::Params::zeros_boxed();
    let mut i = n7_relu100::Inputs::zeros_boxed();
    for (k, (_, s)) in p.slices_mut().into_iter().enumerate() {
        let scale = 1.0 / (s.len() as f32).sqrt().max(1.0);
        fill(s, 10 + k as u64, scale.max(0.05));
    }
    fill(p.ws.as_flattened_mut().as_flattened_mut(), 10, 0.3);
    {
        let [(_, x), (_, y)] = i.slices_mut();
        fill(x, 1, 1.0);
        fill(y, 2, 1.0);
    }
    let ws = p.ws.as_flattened().as_flattened();
    let bs = p.bs.as_flattened();
    let (x, y) = (i.x.as_flattened(), i.y.as_flattened());

    let mut gc = n7_relu100::Grads::zeros_boxed();
    let lc = n7_relu100::forward_backward(&p, &i, &mut gc);
    let mut gi = n7_relu100::Grads::zeros_boxed();
    let li = n7_relu100::interpreted_forward_backward(&p, &i, &mut gi);
    let mut gh = n7_relu100::Grads::zeros_boxed();
    let mut s = DeepScratch::<L>::new();
    let lh = hand_deep::<L>(
        false, &p.ws, &p.bs, &i.x, &i.y, &mut gh.ws, &mut gh.bs, &mut s,
    );

    let f64pass = forward64(ws, bs, x);
    let loops = forward32(ws, bs, x, mm_loops);
    let gemm = forward32(ws, bs, x, mm_gemm);
    let (l64, gw64, gb64) = backward64(ws, x, y, &f64pass, &f64pass);
    let as32 = |v: &[f64]| v.iter().map(|&u| u as f32).collect::<Vec<f32>>();
    let (gw64, gb64) = (as32(&gw64), as32(&gb64));
    let reference = [("ws", &gw64[..]), ("bs", &gb64[..])];
    let l64 = l64 as f32;

    println!("N7 100 layers of 64, ReLU, batch 32: gradients, max difference relative to each tensor's largest");
    println!(
        "compiled vs interpreted: {:.1e}",
        max_rel_diff(&gc.slices(), &gi.slices(), lc, li)
    );
    println!(
        "compiled vs hand-written: {:.1e}",
        max_rel_diff(&gc.slices(), &gh.slices(), lc, lh)
    );
    println!(
        "compiled vs f64: {:.1e}",
        max_rel_diff(&gc.slices(), &reference, lc, l64)
    );
    println!(
        "interpreted vs f64: {:.1e}",
        max_rel_diff(&gi.slices(), &reference, li, l64)
    );
    println!(
        "hand-written vs f64: {:.1e}",
        max_rel_diff(&gh.slices(), &reference, lh, l64)
    );
    println!();
    println!("ReLU masks that differ from the f64 pass's ({} units), |z| of those relative to their layer's largest |z|:", L * R * W);
    for (name, pass, g, l) in [
        ("GEMM order (compiled)", &gemm, &gc, lc),
        ("loop order (hand-written)", &loops, &gh, lh),
    ] {
        let f = flips(pass, &f64pass);
        // The f64 step with this pass's masks: what the flips alone do.
        let (lm, gwm, gbm) = backward64(ws, x, y, &f64pass, pass);
        let masked = [("ws", &as32(&gwm)[..]), ("bs", &as32(&gbm)[..])];
        println!(
            "{name}: {} flipped; the f64 step with these masks vs the f64 step: {:.1e}, vs this f32 step: {:.1e}",
            f.len(),
            max_rel_diff(&masked, &reference, lm as f32, l64),
            max_rel_diff(&g.slices(), &masked, l, lm as f32),
        );
        for (k, r, j, z64, z32, rel) in f.iter().take(10) {
            println!(
                "  layer {k} row {r} column {j}: z = {z64:.3e} in f64, {z32:.3e} in f32 ({rel:.1e} of the layer's largest |z|)"
            );
        }
    }
}
