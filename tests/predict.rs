//! Predictions from the same definition: `#[output]` values, `Features` (only
//! the inputs they read), `Outputs`, compiled `predict` against the
//! interpreter, against `forward` of the same computation, and generic code
//! through `gradc::Network`.

use gradc::{network, Network, Tensors};
use gradc_testkit::check::seeded;

/// Logits and probabilities of an MLP over stacked hidden layers, for any
/// batch size; the loss reads the labels, the outputs do not.
#[network]
fn mlp<const B: usize>(
    #[input] x: [[f64; 5]; B],
    #[input] labels: [f64; B],
    w_in: [[f64; 4]; 5],
    ws: [[[f64; 4]; 4]; 3],
    w_out: [[f64; 3]; 4],
) -> f64 {
    let mut h = relu(x.matmul(w_in));
    for k in 0..3 {
        h = tanh(h.matmul(ws[k]));
    }
    #[output]
    let logits = h.matmul(w_out);
    #[output]
    let probs = softmax(logits);
    #[output]
    let mean_logit = mean(logits);
    cross_entropy(logits, labels)
}

/// The same logits as a network of inputs only: `forward` returns them.
#[network]
fn logits_twin<const B: usize>(
    #[input] x: [[f64; 5]; B],
    #[input] w_in: [[f64; 4]; 5],
    #[input] ws: [[[f64; 4]; 4]; 3],
    #[input] w_out: [[f64; 3]; 4],
) -> [[f64; 3]; B] {
    let mut h = relu(x.matmul(w_in));
    for k in 0..3 {
        h = tanh(h.matmul(ws[k]));
    }
    h.matmul(w_out)
}

fn check<const B: usize>(seed: u64) {
    let p = seeded::<mlp::Params>(seed);
    // `Features` holds exactly the inputs the outputs read: `x`, not `labels`.
    let f = mlp::Features::<B> {
        x: seeded::<mlp::Inputs<B>>(seed + 1).x,
    };
    let out: mlp::Outputs<B> = mlp::predict(&p, &f);
    let iout = mlp::interpreted_predict(&p, &f);
    let twin = logits_twin::forward(
        &logits_twin::Params {},
        &logits_twin::Inputs {
            x: f.x,
            w_in: p.w_in,
            ws: p.ws,
            w_out: p.w_out,
        },
    );
    assert_eq!(
        out.logits, twin,
        "predict vs forward of the same computation"
    );
    for (a, b) in out.tensors().iter().zip(iout.tensors()) {
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() <= 1e-14, "compiled {x} vs interpreted {y}");
        }
    }
    for row in &out.probs {
        assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-14);
    }
    let mean = out.logits.as_flattened().iter().sum::<f64>() / (3 * B) as f64;
    assert!((out.mean_logit - mean).abs() < 1e-14);
}

#[test]
fn predict_matches_forward_and_the_interpreter() {
    check::<1>(1);
    check::<7>(7);
    check::<64>(64);
    // Again with other values: a thread reuses its interpreter for each size.
    check::<7>(70);
    check::<1>(10);
}

/// Evaluation code written once, for any network with outputs.
fn first_output<N: Network<Elem = f64>>(p: &N::Params, f: &N::Features) -> Vec<f64> {
    N::predict(p, f).tensors()[0].to_vec()
}

#[test]
fn predict_through_the_network_trait() {
    let p = seeded::<mlp::Params>(3);
    let f = seeded::<mlp::Features<4>>(4);
    assert_eq!(
        first_output::<mlp::Net<4>>(&p, &f),
        mlp::predict(&p, &f).logits.as_flattened()
    );
    assert_eq!(
        <mlp::Features<4> as Tensors>::SHAPES,
        &[("x", &[4usize, 5][..])]
    );
    assert_eq!(
        <mlp::Outputs<4> as Tensors>::SHAPES,
        &[
            ("logits", &[4usize, 3][..]),
            ("probs", &[4, 3][..]),
            ("mean_logit", &[][..])
        ]
    );
}

/// A network without outputs still has (empty) `Features`, `Outputs` and
/// `predict`, so generic evaluation code compiles for it.
#[network]
fn plain(#[input] x: [f64; 3], w: [f64; 3]) -> f64 {
    sum(x * w)
}

#[test]
fn a_network_without_outputs_predicts_nothing() {
    let out = plain::predict(&plain::Params { w: [1.0; 3] }, &plain::Features {});
    assert!(out.tensors().is_empty());
    let _ = <plain::Net as Network>::predict(&plain::Params { w: [0.0; 3] }, &plain::Features {});
}
