//! The lecture's examples (`shared/seed/deep-feedforward-networks.txt`) as tests.
//! The networks are `gradc_testkit::nets`' (`crates/testkit/src/nets/slides.rs`).

use gradc_testkit::nets::{chain, linear, slides_222, xor, xor_predict};

const X: [[f32; 2]; 4] = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
const Y: [f32; 4] = [0.0, 1.0, 1.0, 0.0];

/// Slides 15-17: W = [[1,1],[1,1]], c = [0,-1], w = [1,-2], b = 0 solves XOR exactly.
#[test]
fn slide_15_xor_solution_is_exact() {
    let (w1, c, w2, b) = ([[1.0, 1.0], [1.0, 1.0]], [0.0, -1.0], [1.0, -2.0], 0.0);
    let out = xor_predict::forward(
        &xor_predict::Params {},
        &xor_predict::Inputs { x: X, w1, c, w2, b },
    );
    assert_eq!(out, [0.0, 1.0, 1.0, 0.0]);
    // The original function stays callable as the forward pass.
    assert_eq!(xor_predict(X, w1, c, w2, b), out);

    let params = xor::Params { w1, c, w2, b };
    let inputs = xor::Inputs { x: X, y: Y };
    assert_eq!(xor(X, Y, w1, c, w2, b), 0.0);
    let mut grads = xor::Grads::zeros();
    assert_eq!(xor::forward_backward(&params, &inputs, &mut grads), 0.0);
    // At a zero-loss point every gradient is zero.
    assert_eq!(grads, xor::Grads::zeros());
    let mut igrads = xor::Grads::zeros();
    assert_eq!(
        xor::interpreted_forward_backward(&params, &inputs, &mut igrads),
        0.0
    );
    assert_eq!(igrads, xor::Grads::zeros());
}

/// Slides 7-10: the linear model f(x) = xᵀw + b on XOR has its MSE optimum at
/// w = 0, b = ½, where every prediction is ½ and the loss is ¼.
#[test]
fn slides_7_10_linear_model_optimum() {
    let inputs = linear::Inputs {
        x: X.map(|r| r.map(f64::from)),
        y: Y.map(f64::from),
    };
    let mut grads = linear::Grads::zeros();
    let at_opt = linear::Params {
        w: [0.0, 0.0],
        b: 0.5,
    };
    let loss = linear::forward_backward(&at_opt, &inputs, &mut grads);
    assert_eq!(loss, 0.25);
    assert_eq!(grads, linear::Grads::zeros());

    // Gradient descent from elsewhere finds the same optimum (the problem is convex).
    let mut p = linear::Params {
        w: [0.7, -0.3],
        b: -0.2,
    };
    for _ in 0..5000 {
        linear::forward_backward(&p, &inputs, &mut grads);
        for (v, g) in p.slices_mut().into_iter().zip(grads.slices()) {
            for (v, g) in v.1.iter_mut().zip(g.1) {
                *v -= 0.5 * g;
            }
        }
    }
    assert!(p.w[0].abs() < 1e-9 && p.w[1].abs() < 1e-9, "w = {:?}", p.w);
    assert!((p.b - 0.5).abs() < 1e-9, "b = {}", p.b);
}

#[test]
fn slides_42_52_hand_derived_gradients() {
    let x = [0.35, 0.9];
    let y = [0.5, 0.2];
    let w1 = [[0.1, 0.8], [0.4, 0.6]];
    let w2 = [[0.3, 0.9], [-0.5, 0.2]];
    let params = slides_222::Params { w1, w2 };
    let inputs = slides_222::Inputs { x, y };

    // Forward, as on slide 42: a¹ = W¹ᵀx, h = σ(a¹), ŷ = σ(W²ᵀh).
    let s = |z: f64| 1.0 / (1.0 + (-z).exp());
    let h = [
        s(x[0] * w1[0][0] + x[1] * w1[1][0]),
        s(x[0] * w1[0][1] + x[1] * w1[1][1]),
    ];
    let yh = [
        s(h[0] * w2[0][0] + h[1] * w2[1][0]),
        s(h[0] * w2[0][1] + h[1] * w2[1][1]),
    ];
    let loss = 0.5 * ((y[0] - yh[0]).powi(2) + (y[1] - yh[1]).powi(2));

    // Slide 51: ∂L/∂w²ᵢⱼ = (ŷⱼ − yⱼ) ŷⱼ (1 − ŷⱼ) hᵢ.
    let d = [
        (yh[0] - y[0]) * yh[0] * (1.0 - yh[0]),
        (yh[1] - y[1]) * yh[1] * (1.0 - yh[1]),
    ];
    let dw2 = [[d[0] * h[0], d[1] * h[0]], [d[0] * h[1], d[1] * h[1]]];
    // Slide 52: ∂L/∂w¹ᵢⱼ = (δ₁ w²ⱼ₁ + δ₂ w²ⱼ₂) hⱼ (1 − hⱼ) xᵢ.
    let back = |j: usize| (d[0] * w2[j][0] + d[1] * w2[j][1]) * h[j] * (1.0 - h[j]);
    let dw1 = [
        [back(0) * x[0], back(1) * x[0]],
        [back(0) * x[1], back(1) * x[1]],
    ];

    let close = |a: f64, b: f64| (a - b).abs() <= 1e-14 * (1.0 + b.abs());
    let mut grads = slides_222::Grads::zeros();
    let got = slides_222::forward_backward(&params, &inputs, &mut grads);
    assert!(close(got, loss), "{got} vs {loss}");
    for i in 0..2 {
        for j in 0..2 {
            assert!(
                close(grads.w1[i][j], dw1[i][j]),
                "w1[{i}][{j}]: {:?} vs {dw1:?}",
                grads.w1
            );
            assert!(
                close(grads.w2[i][j], dw2[i][j]),
                "w2[{i}][{j}]: {:?} vs {dw2:?}",
                grads.w2
            );
        }
    }
    let mut igrads = slides_222::Grads::zeros();
    let got = slides_222::interpreted_forward_backward(&params, &inputs, &mut igrads);
    assert!(close(got, loss));
    for i in 0..2 {
        for j in 0..2 {
            assert!(close(igrads.w1[i][j], dw1[i][j]) && close(igrads.w2[i][j], dw2[i][j]));
        }
    }
}

/// Slide 53: the fused pass evaluates each f once and the derivative reuses the
/// stored values.
#[test]
fn slide_53_each_f_evaluated_once() {
    // Code lines only: the provenance comments quote the source's `sigmoid(...)`.
    let calls: usize = chain::GRADIENT_CODE
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .map(|l| l.matches("sigmoid(").count())
        .sum();
    assert_eq!(calls, 3, "{}", chain::GRADIENT_CODE);
    let s = |z: f64| 1.0 / (1.0 + (-z).exp());
    let w = 0.3;
    let (x, y) = (s(w), s(s(w)));
    let z = s(y);
    // dz/dw = f'(y) f'(x) f'(w), with f' = f(1 − f) at the stored values.
    let expected = z * (1.0 - z) * y * (1.0 - y) * x * (1.0 - x);
    let mut g = chain::Grads::zeros();
    let loss = chain::forward_backward(&chain::Params { w }, &chain::Inputs {}, &mut g);
    assert!((loss - z).abs() < 1e-15);
    assert!((g.w - expected).abs() < 1e-15, "{} vs {expected}", g.w);
}

/// Snapshots at stage boundaries: the forward graph's text form and the generated
/// fused pass. Review a changed snapshot like a code change.
#[test]
fn snapshots_of_graphs_and_gradient_code() {
    insta::assert_snapshot!("xor_graph", xor::graph().to_string());
    insta::assert_snapshot!("xor_gradient_code", xor::GRADIENT_CODE);
    insta::assert_snapshot!("slides_222_graph", slides_222::graph().to_string());
    insta::assert_snapshot!("slides_222_gradient_code", slides_222::GRADIENT_CODE);
    insta::assert_snapshot!("chain_gradient_code", chain::GRADIENT_CODE);
    insta::assert_snapshot!("linear_gradient_code", linear::GRADIENT_CODE);
}

/// The graph text round-trips through its parser.
#[test]
fn graph_text_round_trips() {
    let text = xor::graph().to_string();
    let back: gradc::Graph = text.parse().expect("graph text parses");
    assert_eq!(back.to_string(), text);
}

/// The README shows the slide-53 fused pass; it must be the code gradc generates.
#[test]
fn readme_shows_the_real_gradient_code() {
    let readme = include_str!("../README.md");
    let section = readme
        .split("## Reading the gradient code")
        .nth(1)
        .expect("section exists");
    let block = section
        .split("```text\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("code block");
    assert_eq!(block.trim_end(), chain::GRADIENT_CODE.trim_end());
}
