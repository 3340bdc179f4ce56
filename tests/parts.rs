//! Large networks are emitted as several functions (see ARCHITECTURE "Depth"):
//! their tensors are borrowed again from the workspace by each part and their
//! scalars passed from part to part. Every generated entry point of such a
//! network (`forward`, `forward_backward`, `predict`) is checked against the
//! interpreter and f64 finite differences.

use gradc::{network, Tensors};
use gradc_testkit::check::{check_gradients, seeded};

/// 150 tanh layers of width 4 with a prediction: several hundred nodes, so
/// every pass is split into parts.
#[network]
fn deep<const B: usize>(
    #[input] x: [[f64; 3]; B],
    #[input] labels: [f64; B],
    w_in: [[f64; 4]; 3],
    ws: [[[f64; 4]; 4]; 150],
    bs: [[f64; 4]; 150],
    w_out: [[f64; 3]; 4],
) -> f64 {
    let mut h = tanh(x.matmul(w_in));
    for k in 0..150 {
        h = tanh(h.matmul(ws[k]) + bs[k]);
    }
    #[output]
    let logits = h.matmul(w_out);
    cross_entropy(logits, labels)
}

/// The same forward computation as a network of inputs only: `forward`
/// returns a tensor, built in the last part and passed out by value.
#[network]
fn deep_logits(
    #[input] x: [[f64; 3]; 2],
    #[input] w_in: [[f64; 4]; 3],
    #[input] ws: [[[f64; 4]; 4]; 150],
    #[input] bs: [[f64; 4]; 150],
    #[input] w_out: [[f64; 3]; 4],
) -> [[f64; 3]; 2] {
    let mut h = tanh(x.matmul(w_in));
    for k in 0..150 {
        h = tanh(h.matmul(ws[k]) + bs[k]);
    }
    h.matmul(w_out)
}

/// 400 layers: one function of this size overflowed rustc's stack in a
/// debug build (a lexical scope per `let`, nested in DWARF generation).
#[network]
fn deep400(
    #[input] x: [[f64; 2]; 2],
    #[input] y: [[f64; 2]; 2],
    ws: [[[f64; 2]; 2]; 400],
    bs: [[f64; 2]; 400],
) -> f64 {
    let mut h = x;
    for k in 0..400 {
        h = tanh(h.matmul(ws[k]) + bs[k]);
    }
    mse(h, y)
}

/// A chain of 300 scalar steps: parts hand scalars to each other.
#[network]
fn scalar_chain(#[input] x: f64, a: [f64; 300], c: f64) -> f64 {
    let mut s = x;
    for k in 0..300 {
        s = s * a[k] + c * tanh(s);
    }
    s * s
}

fn labelled<const B: usize>(seed: u64) -> Box<deep::Inputs<B>> {
    let mut i = seeded::<deep::Inputs<B>>(seed);
    for (r, l) in i.labels.iter_mut().enumerate() {
        *l = (r % 3) as f64;
    }
    i
}

fn weights(seed: u64) -> Box<deep::Params> {
    // Weights of about 1/√width keep 150 tanh layers away from saturation.
    let mut p = seeded::<deep::Params>(seed);
    for t in p.tensors_mut() {
        t.iter_mut().for_each(|v| *v *= 0.9);
    }
    p
}

#[test]
fn large_networks_are_split_into_parts() {
    assert!(deep::GRADIENT_CODE.contains("fn forward_backward_part1"));
    assert!(scalar_chain::GRADIENT_CODE.contains("fn forward_backward_part1"));
    assert!(deep400::GRADIENT_CODE.contains("fn forward_backward_part9"));
    // A small network keeps one function.
    assert!(deep_logits::GRADIENT_CODE.contains("fn forward_part1"));
    assert!(!small::GRADIENT_CODE.contains("_part"));
}

#[network]
fn small(#[input] x: [f64; 3], w: [f64; 3]) -> f64 {
    sum(tanh(x * w))
}

#[test]
fn split_forward_backward_matches_the_interpreter_and_finite_differences() {
    let p = weights(1);
    check_gradients::<deep::Net<2>>(&p, &labelled::<2>(2), 1e-6);
    check_gradients::<deep::Net<5>>(&p, &labelled::<5>(3), 1e-6);
    let mut q = seeded::<scalar_chain::Params>(4);
    q.a.iter_mut().for_each(|v| *v = 0.5 + 0.5 * *v);
    check_gradients::<scalar_chain::Net>(&q, &seeded(5), 1e-6);
}

#[test]
fn four_hundred_layers_build_and_match_the_interpreter() {
    let mut p = seeded::<deep400::Params>(8);
    for w in p.ws.iter_mut() {
        // About the identity, so 400 layers neither vanish nor saturate.
        *w = [
            [1.0 + 0.01 * w[0][0], 0.01 * w[0][1]],
            [0.01 * w[1][0], 1.0 + 0.01 * w[1][1]],
        ];
    }
    let i = seeded::<deep400::Inputs>(9);
    let mut g = deep400::Grads::zeros_boxed();
    let mut ig = deep400::Grads::zeros_boxed();
    let loss = deep400::forward_backward(&p, &i, &mut g);
    let iloss = deep400::interpreted_forward_backward(&p, &i, &mut ig);
    assert!(
        (loss - iloss).abs() <= 1e-12,
        "compiled {loss} vs interpreted {iloss}"
    );
    let scale = ig
        .tensors()
        .iter()
        .flat_map(|t| t.iter())
        .fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(scale > 1e-6, "the gradients are not all vanishing");
    for (a, b) in g.tensors().iter().zip(ig.tensors()) {
        for (x, y) in a.iter().zip(b) {
            assert!(
                (x - y).abs() <= 1e-12 * scale,
                "compiled {x} vs interpreted {y}"
            );
        }
    }
}

#[test]
fn split_forward_and_predict_match_the_interpreter() {
    let p = weights(6);
    let i = labelled::<2>(7);
    // The original function runs the compiled (split) forward pass.
    let loss = deep(i.x, i.labels, p.w_in, p.ws, p.bs, p.w_out);
    let mut g = deep::Grads::zeros_boxed();
    let interpreted = deep::interpreted_forward_backward(&p, &i, &mut g);
    assert!(
        (loss - interpreted).abs() <= 1e-12 * interpreted.abs().max(1.0),
        "compiled {loss} vs interpreted {interpreted}"
    );
    let f = deep::Features::<2> { x: i.x };
    let out = deep::predict(&p, &f);
    let iout = deep::interpreted_predict(&p, &f);
    let twin = deep_logits::forward(
        &deep_logits::Params {},
        &deep_logits::Inputs {
            x: i.x,
            w_in: p.w_in,
            ws: p.ws,
            bs: p.bs,
            w_out: p.w_out,
        },
    );
    assert_eq!(
        out.logits, twin,
        "predict vs forward of the same computation"
    );
    for (a, b) in out
        .logits
        .as_flattened()
        .iter()
        .zip(iout.logits.as_flattened())
    {
        assert!((a - b).abs() <= 1e-12, "compiled {a} vs interpreted {b}");
    }
    assert!(out.logits.as_flattened().iter().any(|v| v.abs() > 1e-3));
}
