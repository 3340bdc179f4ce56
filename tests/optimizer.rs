//! The optimizer's targets, end to end through `#[network]`: what `report()`
//! says and what `GRADIENT_CODE` computes, checked against hand counts, hand
//! formulas and the tape interpreter.

use gradc::network;
// chain: slide 53; xor: N1; n3, n4: the 64-64-10 and 784-256-128-10 classifiers.
use gradc_testkit::nets::{chain as chain53, hand_sigmoid, n3, n4, xor as xor_mse};

/// The generated code without comments and blank lines: what runs.
fn statements(code: &str) -> String {
    code.lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + b.abs())
}

// ---------------------------------------------------------------------------
// Slide 53: x = f(w), y = f(x), z = f(y).

#[test]
fn slide_53_each_f_once() {
    let code = statements(chain53::GRADIENT_CODE);
    assert_eq!(code.matches("sigmoid(").count(), 3, "{code}");
    // z(1 − z), y(1 − y), x(1 − x): each forward value's complement once.
    for v in ["loss", "y", "x"] {
        assert_eq!(code.matches(&format!("1.0f64 - {v};")).count(), 1, "{code}");
    }
    let w = 0.3;
    let s = |v: f64| 1.0 / (1.0 + (-v).exp());
    let (x, y) = (s(w), s(s(w)));
    let z = s(y);
    let mut g = chain53::Grads::zeros();
    let loss = chain53::forward_backward(&chain53::Params { w }, &chain53::Inputs {}, &mut g);
    assert!(close(loss, z, 1e-15));
    assert!(close(
        g.w,
        z * (1.0 - z) * y * (1.0 - y) * x * (1.0 - x),
        1e-14
    ));
}

// ---------------------------------------------------------------------------
// Slides 42-52 with scalar parameters, as on the slides.

#[network]
#[allow(clippy::too_many_arguments)]
fn slides_scalar(
    #[input] x1: f64,
    #[input] x2: f64,
    #[input] y1: f64,
    #[input] y2: f64,
    w11_1: f64,
    w12_1: f64,
    w21_1: f64,
    w22_1: f64,
    w11_2: f64,
    w12_2: f64,
    w21_2: f64,
    w22_2: f64,
) -> f64 {
    let h1 = sigmoid(w11_1 * x1 + w21_1 * x2);
    let h2 = sigmoid(w12_1 * x1 + w22_1 * x2);
    let yhat1 = sigmoid(w11_2 * h1 + w21_2 * h2);
    let yhat2 = sigmoid(w12_2 * h1 + w22_2 * h2);
    0.5 * ((y1 - yhat1).powi(2) + (y2 - yhat2).powi(2))
}

/// A careful hand derivation of the fused pass, counted in operations:
///
/// forward: 2 hidden pre-activations (2 mul + 1 add each) = 6, 2 sigmoids,
/// 2 output pre-activations = 6, 2 sigmoids, eᵢ = yᵢ − ŷᵢ (2), eᵢ² (2),
/// their sum (1), times ½ (1): 22.
///
/// backward: δᵢ = −eᵢ·ŷᵢ·(1 − ŷᵢ) (neg, 1 − ŷ, 2 mul) = 4 each, 8; ∂w²ⱼᵢ =
/// δᵢhⱼ: 4; backⱼ = δ₁w²ⱼ₁ + δ₂w²ⱼ₂ (2 mul + 1 add) = 3 each, 6; the hidden
/// δʰⱼ = backⱼ·hⱼ·(1 − hⱼ) (1 − h, 2 mul) = 3 each, 6; ∂w¹ᵢⱼ = δʰⱼxᵢ: 4. 28.
const SLIDES_HAND_OPS: usize = 22 + 28;

#[test]
fn slides_42_52_scalar_deltas_once_and_no_more_ops_than_by_hand() {
    let report = slides_scalar::report();
    assert!(
        report.ops_optimized <= SLIDES_HAND_OPS,
        "{} ops > {SLIDES_HAND_OPS} by hand\n{report}",
        report.ops_optimized
    );
    let code = statements(slides_scalar::GRADIENT_CODE);
    // Each σ once, each complement 1 − σ once: every δ is built once.
    assert_eq!(code.matches("sigmoid(").count(), 4, "{code}");
    for v in ["yhat1", "yhat2", "h1", "h2"] {
        assert_eq!(
            code.matches(&format!("1.0f64 - {v};")).count(),
            1,
            "{v}: {code}"
        );
        // ...and each forward value multiplies into its δ once (h also into
        // two output pre-activations and the two ∂w² products).
        let uses = code.matches(&format!(" * {v};")).count();
        let expected = if v.starts_with('h') { 5 } else { 1 };
        assert_eq!(uses, expected, "{v}: {code}");
    }

    // The slides' hand formulas.
    let (x1, x2, y1, y2) = (0.35, 0.9, 0.5, 0.2);
    let p = slides_scalar::Params {
        w11_1: 0.1,
        w12_1: 0.8,
        w21_1: 0.4,
        w22_1: 0.6,
        w11_2: 0.3,
        w12_2: 0.9,
        w21_2: -0.5,
        w22_2: 0.2,
    };
    let inputs = slides_scalar::Inputs { x1, x2, y1, y2 };
    let s = |z: f64| 1.0 / (1.0 + (-z).exp());
    let h1 = s(p.w11_1 * x1 + p.w21_1 * x2);
    let h2 = s(p.w12_1 * x1 + p.w22_1 * x2);
    let o1 = s(p.w11_2 * h1 + p.w21_2 * h2);
    let o2 = s(p.w12_2 * h1 + p.w22_2 * h2);
    let d1 = (o1 - y1) * o1 * (1.0 - o1);
    let d2 = (o2 - y2) * o2 * (1.0 - o2);
    let b1 = (d1 * p.w11_2 + d2 * p.w12_2) * h1 * (1.0 - h1);
    let b2 = (d1 * p.w21_2 + d2 * p.w22_2) * h2 * (1.0 - h2);
    let mut g = slides_scalar::Grads::zeros();
    let loss = slides_scalar::forward_backward(&p, &inputs, &mut g);
    assert!(close(
        loss,
        0.5 * ((y1 - o1).powi(2) + (y2 - o2).powi(2)),
        1e-14
    ));
    let want = [
        ("w11_1", b1 * x1),
        ("w12_1", b2 * x1),
        ("w21_1", b1 * x2),
        ("w22_1", b2 * x2),
        ("w11_2", d1 * h1),
        ("w12_2", d2 * h1),
        ("w21_2", d1 * h2),
        ("w22_2", d2 * h2),
    ];
    for ((name, got), (wname, w)) in g.slices().iter().zip(want) {
        assert_eq!(*name, wname);
        assert!(close(got[0], w, 1e-13), "{name}: {} vs {w}", got[0]);
    }
    let mut ig = slides_scalar::Grads::zeros();
    let iloss = slides_scalar::interpreted_forward_backward(&p, &inputs, &mut ig);
    assert!(close(iloss, loss, 1e-15));
    for (a, b) in g.slices().iter().zip(ig.slices()) {
        assert!(close(a.1[0], b.1[0], 1e-14), "{}", a.0);
    }
}

// ---------------------------------------------------------------------------
// A hand-rolled sigmoid is the sigmoid node.

#[network]
fn lib_sigmoid(#[input] x: [[f64; 3]; 4], w: [f64; 3], b: f64) -> f64 {
    let z = x.matmul(w) + b;
    sum(sigmoid(z))
}

#[test]
fn hand_rolled_sigmoid_generates_the_same_code() {
    // Source comments quote the user's text, so compare what runs.
    assert_eq!(
        statements(hand_sigmoid::GRADIENT_CODE),
        statements(lib_sigmoid::GRADIENT_CODE)
    );
    let report = hand_sigmoid::report();
    assert!(
        report.rules_fired.contains_key("sigmoid-recognize"),
        "{report}"
    );
    assert!(report.rules_fired.contains_key("sigmoid-grad"), "{report}");

    // The compiled pass matches the interpreter running the hand-rolled form.
    let p = hand_sigmoid::Params {
        w: [0.5, -1.25, 2.0],
        b: 0.1,
    };
    let inputs = hand_sigmoid::Inputs {
        x: [
            [1.0, 2.0, 3.0],
            [-1.0, 0.5, 0.0],
            [0.2, 0.2, -4.0],
            [3.0, -2.0, 1.0],
        ],
    };
    let mut g = hand_sigmoid::Grads::zeros();
    let mut ig = hand_sigmoid::Grads::zeros();
    let loss = hand_sigmoid::forward_backward(&p, &inputs, &mut g);
    let iloss = hand_sigmoid::interpreted_forward_backward(&p, &inputs, &mut ig);
    assert!(close(loss, iloss, 1e-15));
    for (a, b) in g.w.iter().zip(ig.w) {
        assert!(close(*a, b, 1e-14), "{a} vs {b}");
    }
    assert!(close(g.b, ig.b, 1e-14));
}

// ---------------------------------------------------------------------------
// Small cleanups visible in the XOR code.

#[test]
fn xor_scales_by_a_folded_scalar() {
    let code = statements(xor_mse::GRADIENT_CODE);
    // d mse/d yhat = (1/4)·2·(yhat − y) = 0.5·(yhat − y): one multiply by a
    // scalar, no buffer filled with 0.25.
    assert!(!code.contains("= 0.25f32;"), "{code}");
    assert!(code.contains("0.5f32 * "), "{code}");
    let report = xor_mse::report();
    assert!(report.rules_fired.contains_key("scale-fold"), "{report}");
    assert!(
        report.rules_fired.contains_key("broadcast-operand"),
        "{report}"
    );
}

// ---------------------------------------------------------------------------
// N3: a softmax cross-entropy classifier (N4 below).

/// Matmul flops of a hand-written training step of a dense network with
/// layer widths `dims` and batch `b`: the forward products, every dW, and
/// every dH except the first layer's dX (the input needs no gradient).
fn hand_matmul_flops(b: u64, dims: &[u64]) -> u64 {
    let layers: Vec<(u64, u64)> = dims.windows(2).map(|w| (w[0], w[1])).collect();
    let forward: u64 = layers.iter().map(|(i, o)| 2 * b * i * o).sum();
    let d_w = forward;
    let d_h: u64 = layers.iter().skip(1).map(|(i, o)| 2 * b * i * o).sum();
    forward + d_w + d_h
}

#[test]
fn n3_flops_within_two_percent_of_hand_matmuls() {
    let report = n3::report();
    let hand = hand_matmul_flops(32, &[64, 64, 10]);
    assert_eq!(hand, 647_168);
    let ratio = report.flops_optimized as f64 / hand as f64;
    assert!(ratio <= 1.02, "ratio {ratio}\n{report}");
    // The fused CE gradient: one softmax, d_z = (softmax(z) − t)/32 as one
    // subtraction and one multiply by the exact scalar 1/32.
    // (A first-layer dX would add 2·32·64·64 flops, a ratio above 1.4.)
    let code = statements(n3::GRADIENT_CODE);
    assert!(code.contains("d_z[i] = 0.03125f32 * "), "{code}");
    // By hand: forward matmul, add, relu, matmul, add; loss logsumexp, sum,
    // t·z, sum, sub, div (11); backward softmax, sub, ·1/32, dH matmul, mask
    // gt, mask mul, dW1 matmul, db1 sum, dW2 matmul, db2 sum (10).
    assert!(report.ops_optimized <= 21, "{report}");
}

#[test]
fn n3_compiled_matches_interpreted() {
    let mut state = 12345u32;
    let mut next = || {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5
    };
    let mut p = n3::Params::zeros();
    let mut inputs = n3::Inputs {
        x: [[0.0; 64]; 32],
        y: [[0.0; 10]; 32],
    };
    for (_, v) in p.slices_mut() {
        v.iter_mut().for_each(|e| *e = next() * 0.3);
    }
    inputs.x.iter_mut().flatten().for_each(|e| *e = next());
    for (r, row) in inputs.y.iter_mut().enumerate() {
        row[r % 10] = 1.0;
    }
    let mut g = n3::Grads::zeros();
    let mut ig = n3::Grads::zeros();
    let loss = n3::forward_backward(&p, &inputs, &mut g);
    let iloss = n3::interpreted_forward_backward(&p, &inputs, &mut ig);
    assert!(close(loss as f64, iloss as f64, 1e-5), "{loss} vs {iloss}");
    for (a, b) in g.slices().iter().zip(ig.slices()) {
        for (u, v) in a.1.iter().zip(b.1) {
            assert!(
                (u - v).abs() <= 1e-5 * (1.0 + v.abs()),
                "{}: {u} vs {v}",
                a.0
            );
        }
    }
}

// ---------------------------------------------------------------------------
// N4: 784-256-128-10 ReLU at batch 128, softmax cross-entropy, through
// `#[network]`. Only `report()` and `GRADIENT_CODE` are used: its Params
// (about 0.9 MB) must not live on a 2 MB test-thread stack.

#[test]
fn n4_flops_within_two_percent_of_hand_matmuls() {
    let report = n4::report();
    let hand = hand_matmul_flops(128, &[784, 256, 128, 10]);
    // Forward products 2·128·(784·256 + 256·128 + 128·10) = 60 096 512, the
    // same again for dW, and dH of the two upper layers: 3·60 096 512 minus
    // the first layer's dX (2·128·784·256 = 51 380 224).
    assert_eq!(hand, 128_909_312);
    let ratio = report.flops_optimized as f64 / hand as f64;
    assert!(ratio <= 1.02, "ratio {ratio}\n{report}");
    // No gradient of the input: a dX product alone would be 51 380 224 flops.
    assert!(
        ratio >= 1.0,
        "fewer flops than the products themselves: {report}"
    );
    let code = statements(n4::GRADIENT_CODE);
    assert!(!code.contains("d_x"), "{code}");
}

// ---------------------------------------------------------------------------
// Snapshots of the optimized joint graph of the seed examples (tests/seed.rs),
// compiled from the networks' source text by the driver the macro runs.

/// The optimized graph's text of the `#[network]` fn `name` in `source`.
fn optimized_text(source: &str, name: &str) -> String {
    let file = syn::parse_file(source).expect("source parses");
    let mut item = file
        .items
        .into_iter()
        .find_map(|i| match i {
            syn::Item::Fn(f) if f.sig.ident == name => Some(f),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no fn {name}"));
    let at = item
        .attrs
        .iter()
        .position(|a| {
            a.path()
                .segments
                .last()
                .is_some_and(|s| s.ident == "network")
        })
        .expect("a #[network] fn");
    let attr = match item.attrs.remove(at).meta {
        syn::Meta::List(l) => l.tokens,
        _ => Default::default(),
    };
    let network = gradc_frontend::parse_network(attr, quote::ToTokens::into_token_stream(item))
        .expect("network parses");
    let compiled = gradc_driver::compile(network).expect("network compiles");
    compiled.optimized.expect("has parameters").to_string()
}

#[test]
fn snapshots_of_optimized_seed_graphs() {
    let source = gradc_testkit::nets::SLIDES_SOURCE;
    for name in ["xor", "slides_222", "chain", "linear"] {
        insta::assert_snapshot!(format!("{name}_optimized"), optimized_text(source, name));
    }
}

// ---------------------------------------------------------------------------
// Report display.

#[test]
fn report_is_a_table() {
    let text = n3::report().to_string();
    assert!(text.contains("operations"), "{text}");
    assert!(text.contains("flops per pass"), "{text}");
    assert!(text.contains("factor-scale"), "{text}");
}
