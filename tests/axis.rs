//! Reductions along one axis (`sum_axis`, `mean_axis`, `max_axis`,
//! `logsumexp_axis`), `layer_norm` and `concat` in `#[network]`s: values
//! against hand-written f64 formulas, gradients compiled vs interpreted vs
//! central finite differences (`check_gradients`), ties of `max_axis`, the
//! batch axis of `const B` networks, and layer norm of constant rows.

use gradc::{network, Network};
use gradc_testkit::check::{check_gradients, close, seeded};

/// Each reduction over both axes of a 2-D value and all three of a 3-D one,
/// free function and method form; the loss weighs every result element
/// differently (`c*`).
macro_rules! axis_nets {
    ($($m:ident: $f:ident;)*) => {$(
        pub mod $m {
            use gradc::network;
            #[network]
            pub fn two(
                #[input] c0: [f64; 4],
                #[input] c1: [f64; 3],
                w: [[f64; 4]; 3],
            ) -> f64 {
                sum(c0 * $f(w, 0)) + sum(c1 * w.$f(1))
            }
            #[network]
            pub fn three(
                #[input] c0: [[f64; 4]; 3],
                #[input] c1: [[f64; 4]; 2],
                #[input] c2: [[f64; 3]; 2],
                w: [[[f64; 4]; 3]; 2],
            ) -> f64 {
                sum(c0 * $f(w, 0)) + sum(c1 * w.$f(1)) + sum(c2 * $f(w, 2))
            }
        }
    )*};
}

axis_nets! {
    sum_axis: sum_axis;
    mean_axis: mean_axis;
    max_axis: max_axis;
    logsumexp_axis: logsumexp_axis;
}

/// The reductions by hand over a list of values.
fn by_hand(op: &str, v: &[f64]) -> f64 {
    match op {
        "sum" => v.iter().sum(),
        "mean" => v.iter().sum::<f64>() / v.len() as f64,
        "max" => v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        "logsumexp" => v.iter().map(|x| x.exp()).sum::<f64>().ln(),
        _ => unreachable!("no reduction {op}"),
    }
}

/// Σ c0[j]·op_i(w[i][j]) + Σ c1[i]·op_j(w[i][j]).
fn two_by_hand(op: &str, w: &[[f64; 4]; 3], c0: &[f64; 4], c1: &[f64; 3]) -> f64 {
    let cols: f64 = (0..4)
        .map(|j| c0[j] * by_hand(op, &[w[0][j], w[1][j], w[2][j]]))
        .sum();
    let rows: f64 = (0..3).map(|i| c1[i] * by_hand(op, &w[i])).sum();
    cols + rows
}

fn three_by_hand(
    op: &str,
    w: &[[[f64; 4]; 3]; 2],
    c0: &[[f64; 4]; 3],
    c1: &[[f64; 4]; 2],
    c2: &[[f64; 3]; 2],
) -> f64 {
    let mut total = 0.0;
    for j in 0..3 {
        for k in 0..4 {
            total += c0[j][k] * by_hand(op, &[w[0][j][k], w[1][j][k]]);
        }
    }
    for i in 0..2 {
        for k in 0..4 {
            total += c1[i][k] * by_hand(op, &[w[i][0][k], w[i][1][k], w[i][2][k]]);
        }
        for j in 0..3 {
            total += c2[i][j] * by_hand(op, &w[i][j]);
        }
    }
    total
}

macro_rules! check_axis {
    ($m:ident, $op:literal, $seed:expr) => {{
        let (p, i) = (
            seeded::<$m::two::Params>($seed),
            seeded::<$m::two::Inputs>($seed + 1),
        );
        let (loss, _) = check_gradients::<$m::two::Net>(&p, &i, 1e-6);
        let want = two_by_hand($op, &p.w, &i.c0, &i.c1);
        assert!(close(loss, want, 1e-12), "{} 2-D: {loss} vs {want}", $op);
        let (p, i) = (
            seeded::<$m::three::Params>($seed + 2),
            seeded::<$m::three::Inputs>($seed + 3),
        );
        let (loss, _) = check_gradients::<$m::three::Net>(&p, &i, 1e-6);
        let want = three_by_hand($op, &p.w, &i.c0, &i.c1, &i.c2);
        assert!(close(loss, want, 1e-12), "{} 3-D: {loss} vs {want}", $op);
    }};
}

#[test]
fn reductions_along_each_axis_match_formulas_and_gradients() {
    check_axis!(sum_axis, "sum", 10);
    check_axis!(mean_axis, "mean", 20);
    check_axis!(max_axis, "max", 30);
    check_axis!(logsumexp_axis, "logsumexp", 40);
}

/// Ties: the whole gradient goes to the first maximal element, compiled and
/// interpreted, along rows and along columns.
#[test]
fn max_axis_ties_send_the_gradient_to_the_first_maximum() {
    use max_axis::two::{Grads, Inputs, Net, Params};
    let p = Params {
        w: [
            [1.0, 3.0, 3.0, 0.0],
            [2.0, 3.0, 2.0, 2.0],
            [2.0, 3.0, 0.0, 2.0],
        ],
    };
    let i = Inputs {
        c0: [0.5, 0.25, 2.0, 4.0],
        c1: [8.0, 16.0, 32.0],
    };
    // Rows: first maxima at columns 1, 1, 1; columns: at rows 1, 0, 0, 1.
    let mut want = [[0.0; 4]; 3];
    for (r, c) in [(0, 1), (1, 1), (2, 1)] {
        want[r][c] += i.c1[r];
    }
    for (c, r) in [(0, 1), (1, 0), (2, 0), (3, 1)] {
        want[r][c] += i.c0[c];
    }
    let mut g = Grads::zeros();
    let loss = Net::forward_backward(&p, &i, &mut g);
    let mut ig = Grads::zeros();
    let iloss = Net::interpreted_forward_backward(&p, &i, &mut ig);
    assert_eq!(loss, two_by_hand("max", &p.w, &i.c0, &i.c1));
    assert_eq!(loss, iloss);
    assert_eq!(g.w, want, "compiled");
    assert_eq!(ig.w, want, "interpreted");
}

/// The same reductions in f32: compiled and interpreted agree bit for bit
/// where they sum in the same order (sums, means, maxima).
#[network]
fn f32_reductions(#[input] c0: [f32; 4], #[input] c1: [f32; 3], w: [[f32; 4]; 3]) -> f32 {
    sum(c0 * sum_axis(w, 0)) + sum(c1 * mean_axis(w, 1)) + sum(c0 * w.max_axis(0))
}

#[test]
fn f32_reductions_compiled_and_interpreted_agree_exactly() {
    use f32_reductions::{Grads, Inputs, Params};
    let mut p = Params::zeros();
    let mut i = Inputs::zeros();
    let mut state = 5u64;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    };
    for r in p.w.iter_mut() {
        for v in r.iter_mut() {
            *v = next();
        }
    }
    i.c0 = [next(), next(), next(), next()];
    i.c1 = [next(), next(), next()];
    let (mut g, mut ig) = (Grads::zeros(), Grads::zeros());
    let loss = f32_reductions::forward_backward(&p, &i, &mut g);
    let iloss = f32_reductions::interpreted_forward_backward(&p, &i, &mut ig);
    assert_eq!(loss.to_bits(), iloss.to_bits(), "{loss} vs {iloss}");
    assert_eq!(g.w, ig.w);
}

/// Reductions over the batch axis of a batch-generic network: `mean_axis(.., 0)`
/// divides by `B`; the maximum and logsumexp run over `B` rows too.
#[network]
fn over_batch<const B: usize>(#[input] x: [[f64; 3]; B], #[input] c: [f64; 3], w: [f64; 3]) -> f64 {
    let h = tanh(x * w);
    sum(c * tanh(mean_axis(h, 0))) + 0.5 * sum(max_axis(h, 0)) + sum(c * h.logsumexp_axis(0))
}

fn over_batch_by_hand<const B: usize>(p: &over_batch::Params, i: &over_batch::Inputs<B>) -> f64 {
    let mut total = 0.0;
    for j in 0..3 {
        let col: Vec<f64> = (0..B).map(|r| (i.x[r][j] * p.w[j]).tanh()).collect();
        let mean = col.iter().sum::<f64>() / B as f64;
        total +=
            i.c[j] * mean.tanh() + 0.5 * by_hand("max", &col) + i.c[j] * by_hand("logsumexp", &col);
    }
    total
}

macro_rules! check_batch {
    ($b:literal, $seed:expr) => {{
        let p = seeded::<over_batch::Params>($seed);
        let i = seeded::<over_batch::Inputs<$b>>($seed + 1);
        let (loss, _) = check_gradients::<over_batch::Net<$b>>(&p, &i, 1e-6);
        let want = over_batch_by_hand(&p, &i);
        assert!(close(loss, want, 1e-12), "B = {}: {loss} vs {want}", $b);
    }};
}

#[test]
fn batch_axis_reductions_divide_by_b() {
    check_batch!(2, 50);
    check_batch!(7, 60);
}

/// PyTorch's `nn.LayerNorm` over the last axis (biased variance, eps 1e-5).
fn layer_norm_by_hand(x: &[f64], gamma: &[f64], beta: &[f64]) -> Vec<f64> {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    let sd = (var + 1e-5).sqrt();
    x.iter()
        .zip(gamma.iter().zip(beta))
        .map(|(v, (g, b))| (v - mean) / sd * g + b)
        .collect()
}

#[network]
fn ln_net(
    #[input] x: [[f64; 5]; 3],
    #[input] c: [[f64; 5]; 3],
    w: [[f64; 5]; 5],
    gamma: [f64; 5],
    beta: [f64; 5],
) -> f64 {
    sum(c * layer_norm(x.matmul(w), gamma, beta))
}

#[test]
fn layer_norm_matches_pytorch_formula_and_gradients() {
    let p = seeded::<ln_net::Params>(70);
    let i = seeded::<ln_net::Inputs>(71);
    let (loss, _) = check_gradients::<ln_net::Net>(&p, &i, 1e-6);
    let mut want = 0.0;
    for r in 0..3 {
        let h: Vec<f64> = (0..5)
            .map(|j| (0..5).map(|k| i.x[r][k] * p.w[k][j]).sum())
            .collect();
        let y = layer_norm_by_hand(&h, &p.gamma, &p.beta);
        want += (0..5).map(|j| i.c[r][j] * y[j]).sum::<f64>();
    }
    assert!(close(loss, want, 1e-12), "{loss} vs {want}");
}

/// Constant rows have variance 0: eps keeps the result finite (it is `beta`)
/// and so are the gradients; f64 and f32.
#[network]
fn ln_rows(#[input] c: [[f64; 4]; 2], x: [[f64; 4]; 2], gamma: [f64; 4], beta: [f64; 4]) -> f64 {
    sum(c * x.layer_norm(gamma, beta))
}

#[network]
fn ln_rows32(#[input] c: [[f32; 4]; 2], x: [[f32; 4]; 2], gamma: [f32; 4], beta: [f32; 4]) -> f32 {
    sum(c * layer_norm(x, gamma, beta))
}

#[test]
fn layer_norm_of_constant_rows_is_finite() {
    let mut p = seeded::<ln_rows::Params>(80);
    let i = seeded::<ln_rows::Inputs>(81);
    p.x = [[2.5; 4], [-1e3; 4]];
    // Variance 0 is smooth with eps > 0, so finite differences still apply;
    // the derivative there is 1/√eps ≈ 316 times larger than usual.
    let (loss, g) = check_gradients::<ln_rows::Net>(&p, &i, 1e-5);
    let want: f64 = (0..2)
        .map(|r| (0..4).map(|j| i.c[r][j] * p.beta[j]).sum::<f64>())
        .sum();
    assert!(close(loss, want, 1e-12), "{loss} vs {want}");
    assert!(g.x.iter().flatten().all(|v| v.is_finite()));
    let mut p32 = ln_rows32::Params::zeros();
    let mut i32 = ln_rows32::Inputs::zeros();
    p32.x = [[2.5; 4], [-1e3; 4]];
    p32.gamma = p.gamma.map(|v| v as f32);
    p32.beta = p.beta.map(|v| v as f32);
    i32.c = i.c.map(|r| r.map(|v| v as f32));
    let mut g32 = ln_rows32::Grads::zeros();
    let loss32 = ln_rows32::forward_backward(&p32, &i32, &mut g32);
    let mut ig32 = ln_rows32::Grads::zeros();
    let iloss32 = ln_rows32::interpreted_forward_backward(&p32, &i32, &mut ig32);
    assert!(close(loss32 as f64, want, 1e-6), "{loss32} vs {want}");
    assert!(close(iloss32 as f64, want, 1e-6), "{iloss32} vs {want}");
    let grads = [
        g32.x,
        ig32.x,
        [g32.gamma, ig32.gamma],
        [g32.beta, ig32.beta],
    ];
    assert!(grads.iter().flatten().flatten().all(|v| v.is_finite()));
}

/// Two-pass variance: a large common offset does not cancel the spread away.
#[test]
fn layer_norm_survives_a_large_offset_in_f32() {
    let mut p = ln_rows32::Params::zeros();
    let mut i = ln_rows32::Inputs::zeros();
    p.x = [[1e4, 1e4 + 1.0, 1e4 + 2.0, 1e4 + 3.0], [0.0, 1.0, 2.0, 3.0]];
    p.gamma = [1.0; 4];
    i.c = [[1.0, 2.0, 3.0, 4.0]; 2];
    let mut g = ln_rows32::Grads::zeros();
    let loss = ln_rows32::forward_backward(&p, &i, &mut g);
    // Both rows normalise to the same values.
    let y = layer_norm_by_hand(&[0.0, 1.0, 2.0, 3.0], &[1.0; 4], &[0.0; 4]);
    let want = 2.0 * (0..4).map(|j| (j + 1) as f64 * y[j]).sum::<f64>();
    assert!(close(loss as f64, want, 1e-5), "{loss} vs {want}");
}

#[network]
fn cat(
    #[input] c: [[f64; 5]; 2],
    #[input] d: [f64; 4],
    a: [[f64; 3]; 2],
    b: [[f64; 2]; 2],
    u: [f64; 1],
    v: [f64; 3],
) -> f64 {
    sum(c * tanh(concat(a, b))) + sum(c * a.concat(b * b)) + sum(d * sigmoid(concat(u, v)))
}

#[test]
fn concat_matches_formula_and_gradients() {
    let p = seeded::<cat::Params>(90);
    let i = seeded::<cat::Inputs>(91);
    let (loss, _) = check_gradients::<cat::Net>(&p, &i, 1e-6);
    let mut want = 0.0;
    for r in 0..2 {
        let row: Vec<f64> = p.a[r].iter().chain(&p.b[r]).copied().collect();
        let row2: Vec<f64> = p.a[r]
            .iter()
            .copied()
            .chain(p.b[r].iter().map(|v| v * v))
            .collect();
        for j in 0..5 {
            want += i.c[r][j] * (row[j].tanh() + row2[j]);
        }
    }
    let flat: Vec<f64> = p.u.iter().chain(&p.v).copied().collect();
    want += (0..4)
        .map(|j| i.d[j] / (1.0 + (-flat[j]).exp()))
        .sum::<f64>();
    assert!(close(loss, want, 1e-12), "{loss} vs {want}");
}

/// `concat` of batch-generic rows: features joined per example.
#[network]
fn cat_batch<const B: usize>(
    #[input] x: [[f64; 2]; B],
    #[input] y: [f64; B],
    w: [[f64; 3]; 2],
    v: [f64; 5],
) -> f64 {
    let h = concat(x, tanh(x.matmul(w)));
    mse(h.matmul(v), y)
}

#[test]
fn concat_in_a_batch_generic_network() {
    for (b, seed) in [(1usize, 100u64), (6, 110)] {
        let p = seeded::<cat_batch::Params>(seed);
        match b {
            1 => {
                let i = seeded::<cat_batch::Inputs<1>>(seed + 1);
                check_gradients::<cat_batch::Net<1>>(&p, &i, 1e-6);
            }
            _ => {
                let i = seeded::<cat_batch::Inputs<6>>(seed + 1);
                check_gradients::<cat_batch::Net<6>>(&p, &i, 1e-6);
            }
        }
    }
}

/// Layer norm of a vector written out by hand in the order `layer_norm`
/// lowers to (mean, centred squares, `sqrt(v + 1e-5)`), beside the built-in.
#[network]
fn ln_builtin(#[input] c: [f64; 5], x: [f64; 5], gamma: [f64; 5], beta: [f64; 5]) -> f64 {
    sum(c * layer_norm(x, gamma, beta))
}

#[network]
fn ln_by_hand(#[input] c: [f64; 5], x: [f64; 5], gamma: [f64; 5], beta: [f64; 5]) -> f64 {
    let d = x - mean(x);
    let v = mean(d * d);
    sum(c * (d / sqrt(v + 1e-5) * gamma + beta))
}

/// No recognition rule is needed for a hand-written layer norm: the two
/// definitions give the same loss bit for bit, and gradients within a few ulp
/// (`mean`'s backward and the lowered `sum_last`'s order their roundings
/// differently; measured: at most 2 ulp).
#[test]
fn hand_written_layer_norm_equals_the_builtin() {
    let p = seeded::<ln_builtin::Params>(90);
    let i = seeded::<ln_builtin::Inputs>(91);
    let mut g = ln_builtin::Grads::zeros();
    let loss = ln_builtin::forward_backward(&p, &i, &mut g);
    let hp = ln_by_hand::Params {
        x: p.x,
        gamma: p.gamma,
        beta: p.beta,
    };
    let hi = ln_by_hand::Inputs { c: i.c };
    let mut hg = ln_by_hand::Grads::zeros();
    let hloss = ln_by_hand::forward_backward(&hp, &hi, &mut hg);
    assert_eq!(loss.to_bits(), hloss.to_bits(), "{loss} vs {hloss}");
    for (a, b) in [(g.x, hg.x), (g.gamma, hg.gamma), (g.beta, hg.beta)] {
        for (u, v) in a.iter().zip(&b) {
            assert!(close(*u, *v, 1e-14), "{a:?} vs {b:?}");
        }
    }
}
