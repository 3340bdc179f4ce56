//! The desugared graphs compute what the surface functions mean: lowered
//! networks are run through the IR interpreter and compared with values
//! computed by hand in plain Rust.

use gradc_frontend::lower;
use gradc_ir::interp::evaluate;
use quote::quote;

fn graph(item: syn::ItemFn) -> gradc_ir::Graph {
    lower(quote!(), item)
        .unwrap_or_else(|e| panic!("{e}"))
        .graph
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * (1.0 + b.abs())
}

#[test]
fn slide_14_xor_solution_has_zero_loss_and_exact_outputs() {
    let x = [0.0f32, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0];
    let y = [0.0f32, 1.0, 1.0, 0.0];
    let w1 = [1.0f32, 1.0, 1.0, 1.0];
    let c = [0.0f32, -1.0];
    let w2 = [1.0f32, -2.0];
    let b = [0.0f32];

    let loss = graph(syn::parse_quote! {
        fn xor(#[input] x: [[f32; 2]; 4], #[input] y: [f32; 4],
               w1: [[f32; 2]; 2], c: [f32; 2], w2: [f32; 2], b: f32) -> f32 {
            let h = relu(x.matmul(w1) + c);
            let yhat = h.matmul(w2) + b;
            mse(yhat, y)
        }
    });
    let out = evaluate(&loss, &[&x, &y], &[&w1, &c, &w2, &b]).unwrap();
    assert_eq!(out, vec![vec![0.0f32]]);

    // Forward only: the network's outputs are XOR itself (slide 16).
    let fwd = graph(syn::parse_quote! {
        fn xor(#[input] x: [[f32; 2]; 4], #[input] w1: [[f32; 2]; 2], #[input] c: [f32; 2],
               #[input] w2: [f32; 2], #[input] b: f32) -> [f32; 4] {
            relu(x.matmul(w1) + c).matmul(w2) + b
        }
    });
    let out = evaluate(&fwd, &[&x, &w1, &c, &w2, &b], &[]).unwrap();
    assert_eq!(out, vec![y.to_vec()]);
}

/// Evaluates `body` over `z` and `t` (both `[[f64; 3]; 2]` inputs) to a scalar.
fn eval2(body: proc_macro2::TokenStream, z: &[f64], t: &[f64]) -> f64 {
    let g = graph(syn::parse_quote! {
        fn f(#[input] z: [[f64; 3]; 2], #[input] t: [[f64; 3]; 2]) -> f64 { #body }
    });
    evaluate(&g, &[z, t], &[]).unwrap()[0][0]
}

#[test]
fn losses_and_reductions_match_their_formulas() {
    let z = [0.5f64, -1.0, 2.0, 3.0, 0.0, -2.0];
    let t = [0.0f64, 0.0, 1.0, 0.2, 0.8, 0.0];

    // Mean over the batch of logsumexp(row) - sum(t * row).
    let mut ce = 0.0;
    for r in 0..2 {
        let row = &z[3 * r..3 * r + 3];
        let lse = row.iter().map(|v| v.exp()).sum::<f64>().ln();
        let tz: f64 = (0..3).map(|j| t[3 * r + j] * row[j]).sum();
        ce += lse - tz;
    }
    ce /= 2.0;
    assert!(close(eval2(quote!(cross_entropy(z, t)), &z, &t), ce));

    // Class indices: row r's label picks z[r][label]; a label that is no
    // class index (fractional, negative, too large, NaN) picks nothing, so
    // its row contributes logsumexp alone.
    let lse = |r: usize| {
        z[3 * r..3 * r + 3]
            .iter()
            .map(|v| v.exp())
            .sum::<f64>()
            .ln()
    };
    let g = graph(syn::parse_quote! {
        fn f(#[input] z: [[f64; 3]; 2], #[input] labels: [f64; 2]) -> f64 { cross_entropy(z, labels) }
    });
    let ce_of = |labels: [f64; 2]| evaluate(&g, &[&z, &labels], &[]).unwrap()[0][0];
    assert!(close(
        ce_of([2.0, 0.0]),
        (lse(0) - 2.0 + lse(1) - 3.0) / 2.0
    ));
    assert!(close(
        ce_of([1.0, 2.0]),
        (lse(0) + 1.0 + lse(1) + 2.0) / 2.0
    ));
    for bad in [0.5, -1.0, 3.0, 1e9, f64::NAN, f64::INFINITY] {
        let got = ce_of([bad, 1.0]);
        assert!(got.is_finite(), "label {bad}: {got}");
        assert!(close(got, (lse(0) + lse(1)) / 2.0), "label {bad}: {got}");
    }

    // Mean of ln(1 + e^z) - t z.
    let bce: f64 = z
        .iter()
        .zip(&t)
        .map(|(z, t)| (1.0 + z.exp()).ln() - t * z)
        .sum::<f64>()
        / 6.0;
    assert!(close(
        eval2(quote!(binary_cross_entropy_with_logits(z, t)), &z, &t),
        bce
    ));

    let mse: f64 = z
        .iter()
        .zip(&t)
        .map(|(z, t)| (z - t) * (z - t))
        .sum::<f64>()
        / 6.0;
    assert!(close(eval2(quote!(z.mse(t)), &z, &t), mse));

    let mean = z.iter().sum::<f64>() / 6.0;
    assert!(close(eval2(quote!(mean(z)), &z, &t), mean));

    // Transposing both operands leaves the sum of the elementwise product unchanged.
    let zt: f64 = z.iter().zip(&t).map(|(a, b)| a * b).sum();
    assert!(close(eval2(quote!(sum(z.t() * t.transpose())), &z, &t), zt));

    // max(z, t) with a broadcast scalar and powi(-1).
    let want: f64 = z
        .iter()
        .zip(&t)
        .map(|(a, b)| a.max(*b).max(0.25).powi(-1))
        .sum();
    assert!(close(
        eval2(quote!(max(max(z, t), 0.25).powi(-1).sum()), &z, &t),
        want
    ));
}

#[test]
fn one_dimensional_matmul_is_numpy_matmul() {
    let m = [1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0]; // [[1 2 3] [4 5 6]]
    let u = [1.0f64, -1.0];
    let v = [2.0f64, 0.0, -1.0];
    let run = |body: proc_macro2::TokenStream| -> Vec<f64> {
        let g = graph(syn::parse_quote! {
            fn f(#[input] m: [[f64; 3]; 2], #[input] u: [f64; 2], #[input] v: [f64; 3]) -> [f64; 3] { #body }
        });
        evaluate(&g, &[&m, &u, &v], &[]).unwrap().remove(0)
    };
    // u·m = [1-4, 2-5, 3-6]
    assert_eq!(run(quote!(u.matmul(m))), vec![-3.0, -3.0, -3.0]);
    // m·v = [2-3, 8-6] = [-1, 2], then (m·v)·m = [-1+8, -2+10, -3+12]
    assert_eq!(run(quote!(dot(matmul(m, v), m))), vec![7.0, 8.0, 9.0]);
    // v·v = 5, a scalar broadcast against v
    assert_eq!(run(quote!(v.dot(v) * v)), vec![10.0, 0.0, -5.0]);
}
