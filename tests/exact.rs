//! The benchmark networks compiled and interpreted agree bit for bit in f32:
//! their products go to `matmul_small` (constant `N`, `K`) in generated code
//! and to the GEMM in the interpreter, their softmax rows are split into
//! passes in generated code only; each computes every element by the same
//! operations.

use gradc_testkit::nets::{n3, n3b, n4};

/// Deterministic values in [-scale, scale).
fn fill(xs: &mut [f32], seed: u64, scale: f32) {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for x in xs {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        *x = ((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale;
    }
}

/// One-hot rows of width `c`.
fn one_hot(ys: &mut [f32], c: usize) {
    for (r, row) in ys.chunks_mut(c).enumerate() {
        row.fill(0.0);
        row[(r * 7 + 3) % c] = 1.0;
    }
}

macro_rules! exact {
    ($net:ident $(::<$b:literal>)?) => {{
        let mut p = $net::Params::zeros_boxed();
        let mut i = $net::Inputs$(::<$b>)?::zeros_boxed();
        for (k, (_, s)) in p.slices_mut().into_iter().enumerate() {
            fill(s, 10 + k as u64, 1.0 / (s.len() as f32).sqrt().max(1.0));
        }
        let [(_, x), (_, y)] = i.slices_mut();
        fill(x, 1, 1.0);
        one_hot(y, 10);
        let mut g = $net::Grads::zeros_boxed();
        let mut gi = $net::Grads::zeros_boxed();
        let loss = $net::forward_backward(&p, &i, &mut g);
        let iloss = $net::interpreted_forward_backward(&p, &i, &mut gi);
        assert_eq!(loss.to_bits(), iloss.to_bits(), "{}: loss", stringify!($net));
        for ((name, c), (_, it)) in g.slices().iter().zip(gi.slices().iter()) {
            for (k, (c, it)) in c.iter().zip(it.iter()).enumerate() {
                assert_eq!(c.to_bits(), it.to_bits(), "{}: d{name}[{k}] {c} vs {it}", stringify!($net));
            }
        }
    }};
}

#[test]
fn n3_compiled_and_interpreted_agree_bit_for_bit() {
    exact!(n3);
}

/// The weight gradients' depth is `B`: `matmul_small_or_gemm` takes the
/// small kernel up to 128 and the GEMM past it. (Powers of two: the loss's
/// `1/B` is then exact, so the optimizer's one-rounding `s/B − y/B` and the
/// interpreter's chain rule through `(…)/B` agree; at B = 5 or 130 they
/// differ in the last bits of some gradients.)
#[test]
fn n3_with_a_batch_parameter_agrees_bit_for_bit() {
    exact!(n3b::<32>);
    exact!(n3b::<4>);
    exact!(n3b::<256>);
}

#[test]
fn n4_compiled_and_interpreted_agree_bit_for_bit() {
    exact!(n4);
}
