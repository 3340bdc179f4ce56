//! The lecture's general network (slide 40): loops over stacked layers, `let mut`
//! and assignment, layer closures. Checked against the slide-41 backward
//! algorithm written by hand, the interpreter, f64 finite differences, and the
//! same network written without the loop.

// The hand-written algorithms index like the slides; the unrolled twins take
// one argument per layer.
#![allow(clippy::needless_range_loop, clippy::too_many_arguments)]

use gradc::network;
use gradc_testkit::check::{check_gradients, seeded};

/// Slide 40's forward propagation as a loop: a(k) = h(k−1)·W(k) + b(k),
/// h(k) = f(a(k)), with f the sigmoid, l = 3, and an MSE loss.
#[network]
fn slide40(
    #[input] x: [f64; 4],
    #[input] y: [f64; 4],
    ws: [[[f64; 4]; 4]; 3],
    bs: [[f64; 4]; 3],
) -> f64 {
    let mut h = x;
    for k in 0..3 {
        let a = h.matmul(ws[k]) + bs[k];
        h = sigmoid(a);
    }
    mse(h, y)
}

/// Slide 41's backward computation, by hand: g ← ∇ŷJ; for k = l..1:
/// g ← g ⊙ f'(a(k)); ∇b(k) = g; ∇W(k) = h(k−1)ᵀ g; g ← W(k) g.
fn slide41(p: &slide40::Params, i: &slide40::Inputs) -> (f64, slide40::Grads) {
    let sigmoid = |a: f64| 1.0 / (1.0 + (-a).exp());
    let mut hs = vec![i.x];
    for k in 0..3 {
        let prev = hs[k];
        let mut h = [0.0; 4];
        for j in 0..4 {
            let mut a = p.bs[k][j];
            for (r, hr) in prev.iter().enumerate() {
                a += hr * p.ws[k][r][j];
            }
            h[j] = sigmoid(a);
        }
        hs.push(h);
    }
    let yhat = hs[3];
    let loss = (0..4).map(|j| (yhat[j] - i.y[j]).powi(2)).sum::<f64>() / 4.0;
    let mut grads = slide40::Grads::zeros();
    let mut g: Vec<f64> = (0..4).map(|j| 2.0 * (yhat[j] - i.y[j]) / 4.0).collect();
    for k in (0..3).rev() {
        let h = hs[k + 1];
        for j in 0..4 {
            g[j] *= h[j] * (1.0 - h[j]);
        }
        let prev = hs[k];
        for j in 0..4 {
            grads.bs[k][j] = g[j];
            for r in 0..4 {
                grads.ws[k][r][j] = prev[r] * g[j];
            }
        }
        g = (0..4)
            .map(|r| (0..4).map(|j| p.ws[k][r][j] * g[j]).sum())
            .collect();
    }
    (loss, grads)
}

#[test]
fn slide40_loop_matches_the_slide41_backward_algorithm() {
    let p = seeded::<slide40::Params>(40);
    let i = seeded::<slide40::Inputs>(41);
    let (loss, grads) = check_gradients::<slide40::Net>(&p, &i, 1e-6);
    let (hand_loss, hand) = slide41(&p, &i);
    assert!((loss - hand_loss).abs() <= 1e-15, "{loss} vs {hand_loss}");
    for k in 0..3 {
        for j in 0..4 {
            assert!((grads.bs[k][j] - hand.bs[k][j]).abs() <= 1e-15);
            for r in 0..4 {
                let (c, h) = (grads.ws[k][r][j], hand.ws[k][r][j]);
                assert!((c - h).abs() <= 1e-15, "dws[{k}][{r}][{j}]: {c} vs {h}");
            }
        }
    }
}

/// A width-4 `tanh` network of `$l` stacked layers between an input and an
/// output layer, with a layer closure and a stacked bias.
macro_rules! deep {
    ($name:ident, $l:literal) => {
        #[allow(dead_code)]
        #[network]
        fn $name(
            #[input] x: [[f64; 3]; 2],
            #[input] y: [[f64; 2]; 2],
            w_in: [[f64; 4]; 3],
            ws: [[[f64; 4]; 4]; $l],
            bs: [[f64; 4]; $l],
            w_out: [[f64; 2]; 4],
        ) -> f64 {
            let dense = |x, w, b| tanh(x.matmul(w) + b);
            let mut h = tanh(x.matmul(w_in));
            for k in 0..$l {
                h = dense(h, ws[k], bs[k]);
            }
            mse(h.matmul(w_out), y)
        }
    };
}

deep!(deep1, 1);
deep!(deep2, 2);
deep!(deep10, 10);
deep!(deep100, 100);

#[test]
fn loops_at_depths_1_2_10_100_against_interpreter_and_finite_differences() {
    fn run<N: gradc::Network<Elem = f64>>(seed: u64) {
        // Weights of about 1/√width keep a hundred tanh layers from saturating.
        let mut p = seeded::<N::Params>(seed);
        for t in gradc::Tensors::tensors_mut(&mut *p) {
            t.iter_mut().for_each(|v| *v *= 0.9);
        }
        let i = seeded::<N::Inputs>(seed + 1);
        check_gradients::<N>(&p, &i, 1e-6);
    }
    run::<deep1::Net>(1);
    run::<deep2::Net>(2);
    run::<deep10::Net>(10);
    run::<deep100::Net>(100);
}

/// The loop of `deep10` written out by hand with separate weights: the same
/// arithmetic in the same order.
#[network]
fn unrolled3(
    #[input] x: [[f64; 3]; 2],
    #[input] y: [[f64; 2]; 2],
    w_in: [[f64; 4]; 3],
    w0: [[f64; 4]; 4],
    w1: [[f64; 4]; 4],
    w2: [[f64; 4]; 4],
    b0: [f64; 4],
    b1: [f64; 4],
    b2: [f64; 4],
    w_out: [[f64; 2]; 4],
) -> f64 {
    let h = tanh(x.matmul(w_in));
    let h = tanh(h.matmul(w0) + b0);
    let h = tanh(h.matmul(w1) + b1);
    let h = tanh(h.matmul(w2) + b2);
    mse(h.matmul(w_out), y)
}

deep!(deep3, 3);

#[test]
fn loop_over_stacked_weights_is_bit_identical_to_the_unrolled_network() {
    let p = seeded::<deep3::Params>(3);
    let i = seeded::<deep3::Inputs>(4);
    let u = unrolled3::Params {
        w_in: p.w_in,
        w0: p.ws[0],
        w1: p.ws[1],
        w2: p.ws[2],
        b0: p.bs[0],
        b1: p.bs[1],
        b2: p.bs[2],
        w_out: p.w_out,
    };
    let ui = unrolled3::Inputs { x: i.x, y: i.y };
    let mut g = deep3::Grads::zeros();
    let mut ug = unrolled3::Grads::zeros();
    let loss = deep3::forward_backward(&p, &i, &mut g);
    let uloss = unrolled3::forward_backward(&u, &ui, &mut ug);
    assert_eq!(loss.to_bits(), uloss.to_bits());
    assert_eq!(g.w_in, ug.w_in);
    assert_eq!(g.w_out, ug.w_out);
    assert_eq!([g.ws[0], g.ws[1], g.ws[2]], [ug.w0, ug.w1, ug.w2]);
    assert_eq!([g.bs[0], g.bs[1], g.bs[2]], [ug.b0, ug.b1, ug.b2]);
    // The interpreter runs the stacked graph (index and stack ops) too.
    let mut ig = deep3::Grads::zeros();
    let iloss = deep3::interpreted_forward_backward(&p, &i, &mut ig);
    assert!((iloss - loss).abs() <= 1e-15);
}

/// Closures: a block body, a closure calling another, one capturing an outer
/// value, and a closure applied to stacked and plain weights alike.
#[network]
fn layers(
    #[input] x: [[f64; 3]; 2],
    #[input] y: [[f64; 3]; 2],
    ws: [[[f64; 3]; 3]; 2],
    w: [[f64; 3]; 3],
    scale: f64,
) -> f64 {
    let affine = |x, w| x.matmul(w) * scale;
    let dense = |x, w| {
        let z = affine(x, w);
        relu(z) + 0.1 * z
    };
    let h = dense(x, ws[0]);
    let h = dense(h, ws[1]);
    let h = dense(h, w);
    mse(h, y)
}

#[network]
fn layers_inline(
    #[input] x: [[f64; 3]; 2],
    #[input] y: [[f64; 3]; 2],
    ws: [[[f64; 3]; 3]; 2],
    w: [[f64; 3]; 3],
    scale: f64,
) -> f64 {
    let z0 = x.matmul(ws[0]) * scale;
    let h = relu(z0) + 0.1 * z0;
    let z1 = h.matmul(ws[1]) * scale;
    let h = relu(z1) + 0.1 * z1;
    let z2 = h.matmul(w) * scale;
    let h = relu(z2) + 0.1 * z2;
    mse(h, y)
}

#[test]
fn closures_inline_to_the_same_network() {
    let p = seeded::<layers::Params>(7);
    let i = seeded::<layers::Inputs>(8);
    let (loss, g) = check_gradients::<layers::Net>(&p, &i, 1e-6);
    let q = layers_inline::Params {
        ws: p.ws,
        w: p.w,
        scale: p.scale,
    };
    let j = layers_inline::Inputs { x: i.x, y: i.y };
    let mut h = layers_inline::Grads::zeros();
    let inline_loss = layers_inline::forward_backward(&q, &j, &mut h);
    assert_eq!(loss.to_bits(), inline_loss.to_bits());
    assert_eq!(
        (g.ws, g.w, g.scale.to_bits()),
        (h.ws, h.w, h.scale.to_bits())
    );
}

/// Nested loops, a closed range, literal and computed indices, a loop that
/// uses only some slices (the others get a zero gradient), and `f32`.
#[network]
fn nested(
    #[input] x: [[f32; 2]; 3],
    #[input] y: [[f32; 2]; 3],
    ws: [[[[f32; 2]; 2]; 3]; 2],
    skip: [[f32; 2]; 4],
) -> f32 {
    let mut h = x + skip[0];
    for i in 0..=1 {
        for j in 1..3 {
            h = tanh(h.matmul(ws[i][j]) + skip[i + j]);
        }
    }
    mse(h, y)
}

#[test]
fn nested_loops_and_unused_slices() {
    let mut p = nested::Params::zeros();
    let mut i = nested::Inputs::zeros();
    let mut state = 11u64;
    let mut fill32 = |s: &mut [f32]| {
        let mut v = vec![0.0f64; s.len()];
        gradc_testkit::check::fill(&mut v, &mut state);
        s.iter_mut().zip(v).for_each(|(a, b)| *a = b as f32);
    };
    for (_, s) in p.slices_mut() {
        fill32(s);
    }
    for (_, s) in i.slices_mut() {
        fill32(s);
    }
    let mut g = nested::Grads::zeros();
    let mut ig = nested::Grads::zeros();
    let loss = nested::forward_backward(&p, &i, &mut g);
    let iloss = nested::interpreted_forward_backward(&p, &i, &mut ig);
    assert!((loss - iloss).abs() <= 1e-6 * loss.abs().max(1.0));
    let flat =
        |w: &[[[[f32; 2]; 2]; 3]; 2]| w.as_flattened().as_flattened().as_flattened().to_vec();
    for (a, b) in flat(&g.ws).iter().zip(flat(&ig.ws)) {
        assert!((a - b).abs() <= 1e-6, "{a} vs {b}");
    }
    // ws[·][0] is never used: its gradient is exactly zero.
    assert_eq!(g.ws[0][0], [[0.0; 2]; 2]);
    assert_eq!(g.ws[1][0], [[0.0; 2]; 2]);
    assert_ne!(g.ws[1][2], [[0.0; 2]; 2]);
    // skip[0..=3] are all used (0, then i + j = 1, 2, 2, 3).
    assert!(g.skip.iter().all(|row| row.iter().any(|v| *v != 0.0)));
}

/// A loop network with a caller-chosen batch size, checked at two sizes.
#[network]
fn deep_b<const B: usize>(
    #[input] x: [[f64; 3]; B],
    #[input] labels: [f64; B],
    ws: [[[f64; 3]; 3]; 4],
    bs: [[f64; 3]; 4],
) -> f64 {
    let mut h = x;
    for k in 0..4 {
        h = tanh(h.matmul(ws[k]) + bs[k]);
    }
    cross_entropy(h, labels)
}

#[test]
fn loop_with_batch_size_b() {
    fn run<const B: usize>() {
        let p = seeded::<deep_b::Params>(B as u64);
        let mut i = seeded::<deep_b::Inputs<B>>(B as u64 + 1);
        for (r, l) in i.labels.iter_mut().enumerate() {
            *l = (r % 3) as f64;
        }
        check_gradients::<deep_b::Net<B>>(&p, &i, 1e-6);
    }
    run::<1>();
    run::<5>();
}

/// One layer definition shared by two networks: the plain `fn`s of a
/// `#[gradc::layers]` module are inlined at each call, with that call's shapes.
#[gradc::layers]
mod shared {
    fn dense(x: _, w: _, b: _) -> _ {
        tanh(x.matmul(w) + b)
    }

    /// A layer calling a layer; `x`'s declared shape is checked at each call.
    fn block(x: [[f64; 4]; 2], w: _, b: _) -> _ {
        let h = dense(x, w, b);
        h + x
    }

    #[network]
    pub fn wide(
        #[input] x: [[f64; 3]; 2],
        #[input] y: [[f64; 4]; 2],
        w0: [[f64; 4]; 3],
        b0: [f64; 4],
        ws: [[[f64; 4]; 4]; 2],
        bs: [[f64; 4]; 2],
    ) -> f64 {
        let mut h = dense(x, w0, b0);
        for k in 0..2 {
            h = block(h, ws[k], bs[k]);
        }
        mse(h, y)
    }

    #[network]
    pub fn narrow(
        #[input] x: [[f64; 3]; 2],
        #[input] y: [[f64; 2]; 2],
        w: [[f64; 2]; 3],
        b: [f64; 2],
    ) -> f64 {
        mse(dense(x, w, b), y)
    }
}

#[test]
fn layers_shared_by_two_networks() {
    let p = seeded::<shared::wide::Params>(21);
    let i = seeded::<shared::wide::Inputs>(22);
    check_gradients::<shared::wide::Net>(&p, &i, 1e-6);
    let p = seeded::<shared::narrow::Params>(23);
    let i = seeded::<shared::narrow::Inputs>(24);
    let (loss, _) = check_gradients::<shared::narrow::Net>(&p, &i, 1e-6);
    // By hand: tanh(x·w + b) against y.
    let mut hand = 0.0;
    for r in 0..2 {
        for c in 0..2 {
            let z: f64 = (0..3).map(|k| i.x[r][k] * p.w[k][c]).sum::<f64>() + p.b[c];
            hand += (z.tanh() - i.y[r][c]).powi(2);
        }
    }
    assert!(
        (loss - hand / 4.0).abs() < 1e-14,
        "{loss} vs {}",
        hand / 4.0
    );
    // The comments of the generated code name the layer and its call site.
    assert!(
        shared::wide::GRADIENT_CODE.contains("[layer `block` at `block(h, ws[k], bs[k])`]"),
        "{}",
        shared::wide::GRADIENT_CODE
    );
}

/// Stacked layers wide enough (20 × 20 weights) that each layer's weight
/// gradient is computed in its slice of `grads.ws`, where the stack would
/// otherwise copy it; the stacked biases (20 elements) are still copied.
#[network]
fn wide_stack(
    #[input] x: [[f64; 20]; 3],
    #[input] y: [[f64; 20]; 3],
    ws: [[[f64; 20]; 20]; 3],
    bs: [[f64; 20]; 3],
) -> f64 {
    let mut h = x;
    for k in 0..3 {
        h = tanh(h.matmul(ws[k]) + bs[k]);
    }
    mse(h, y)
}

#[test]
fn stacked_weight_gradients_are_computed_in_place_in_grads() {
    let code = wide_stack::GRADIENT_CODE;
    for k in 0..3 {
        let (from, to) = (k * 400, (k + 1) * 400);
        let place = format!("let d_ws_{k}: &mut [f64] = &mut grads");
        let at = code
            .find(&place)
            .unwrap_or_else(|| panic!("{place} in\n{code}"));
        assert!(code[at..].contains(&format!("[{from}..{to}];")), "{code}");
    }
    assert!(!code.contains("copy_from_slice(d_ws_"), "{code}");
    assert!(code.contains("copy_from_slice(&d_bs_0)"), "{code}");
    let mut p = seeded::<wide_stack::Params>(5);
    for t in gradc::Tensors::tensors_mut(&mut *p) {
        t.iter_mut().for_each(|v| *v *= 0.2);
    }
    let i = seeded::<wide_stack::Inputs>(6);
    check_gradients::<wide_stack::Net>(&p, &i, 1e-6);
    // Every element of `grads` written, whatever it held before.
    let mut g = wide_stack::Grads::zeros_boxed();
    for t in gradc::Tensors::tensors_mut(&mut *g) {
        t.fill(f64::NAN);
    }
    let loss = wide_stack::forward_backward(&p, &i, &mut g);
    let mut ig = wide_stack::Grads::zeros_boxed();
    let iloss = wide_stack::interpreted_forward_backward(&p, &i, &mut ig);
    assert_eq!(loss.to_bits(), iloss.to_bits());
    assert_eq!(g.ws, ig.ws);
    assert_eq!(g.bs, ig.bs);
}

/// A layer slice whose gradient is also another parameter's (`w` and `ws[0]`
/// see the same input and the same upstream gradient, so the optimizer
/// computes one node for both): it lives in `grads.w`, and the stack still
/// copies it into `grads.ws`.
#[network]
fn shared_slice(#[input] x: [[f64; 20]; 3], w: [[f64; 20]; 20], ws: [[[f64; 20]; 20]; 2]) -> f64 {
    sum(x.matmul(w)) + sum(x.matmul(ws[0])) + sum(tanh(x.matmul(ws[1])))
}

#[test]
fn a_stacked_slice_shared_with_another_gradient_is_copied() {
    let p = seeded::<shared_slice::Params>(7);
    let i = seeded::<shared_slice::Inputs>(8);
    let mut g = shared_slice::Grads::zeros_boxed();
    for t in gradc::Tensors::tensors_mut(&mut *g) {
        t.fill(f64::NAN);
    }
    let loss = shared_slice::forward_backward(&p, &i, &mut g);
    let mut ig = shared_slice::Grads::zeros_boxed();
    let iloss = shared_slice::interpreted_forward_backward(&p, &i, &mut ig);
    assert!((loss - iloss).abs() <= 1e-12 * iloss.abs().max(1.0));
    assert_eq!(g.ws[0], g.w);
    for (c, e) in g.slices().iter().zip(ig.slices().iter()) {
        for (a, b) in c.1.iter().zip(e.1.iter()) {
            assert!(
                (a - b).abs() <= 1e-12 * b.abs().max(1.0),
                "{}: {a} vs {b}",
                c.0
            );
        }
    }
    check_gradients::<shared_slice::Net>(&p, &i, 1e-6);
}
