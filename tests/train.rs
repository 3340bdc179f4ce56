//! The `gradc::Network` / `gradc::Tensors` traits that `#[network]` implements, and
//! the training utilities, against hand formulas.

use gradc::train::{
    accuracy, accuracy_one_hot, clip_grad_norm, clip_grad_norm_slices, dropout_mask, init,
    init_tensor, shuffled_batches, Adam, AdamW, Init, LastBatch, LrSchedule, Momentum, Optimizer,
    Rng, Scheduled, Sgd, StepDecay, TrainError, WarmupCosine,
};
use gradc::{network, Float, Network, Shape, Tensors};
use gradc_testkit::nets::xor;

#[network]
fn wide(#[input] x: [[f64; 3]; 2], w: [[f64; 128]; 3], v: [[f64; 256]; 128], b: [f64; 256]) -> f64 {
    sum(tanh(tanh(x.matmul(w)).matmul(v) + b))
}

fn xor_inputs() -> xor::Inputs {
    xor::Inputs {
        x: [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]],
        y: [0.0, 1.0, 1.0, 0.0],
    }
}

#[test]
fn network_trait_describes_the_generated_module() {
    assert_eq!(xor::Net::NAME, "xor");
    let names: Vec<_> = xor::Net::PARAMS.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, ["w1", "c", "w2", "b"]);
    assert_eq!(
        xor::Net::param_shapes(),
        vec![
            ("w1", Shape::new([2, 2])),
            ("c", Shape::new([2])),
            ("w2", Shape::new([2])),
            ("b", Shape::scalar()),
        ]
    );
    assert_eq!(
        xor::Net::INPUTS,
        &[("x", &[4usize, 2][..]), ("y", &[4usize][..])]
    );
    assert_eq!(<xor::Params as Tensors>::numel(), 4 + 2 + 2 + 1);
    assert_eq!(<xor::Grads as Tensors>::SHAPES, xor::Net::PARAMS);
}

#[test]
fn flat_views_are_declaration_order_row_major() {
    let p = xor::Params {
        w1: [[1.0, 2.0], [3.0, 4.0]],
        c: [5.0, 6.0],
        w2: [7.0, 8.0],
        b: 9.0,
    };
    let views = p.tensors();
    assert_eq!(views[0], &[1.0, 2.0, 3.0, 4.0]);
    assert_eq!(views[3], &[9.0]);
    assert_eq!(
        p.to_flat_vec(),
        (1..=9).map(|v| v as f32).collect::<Vec<_>>()
    );
    // The trait's views agree with the inherent `slices()` the module documents.
    for ((name, s), ((n, _), t)) in p.slices().iter().zip(xor::Net::PARAMS.iter().zip(&views)) {
        assert_eq!((name, s), (n, t));
    }

    let mut q = xor::Params::zeros_boxed();
    q.copy_from_flat(&p.to_flat_vec()).unwrap();
    assert_eq!(*q, p);
    let err = q.copy_from_flat(&[1.0; 8]).unwrap_err();
    assert_eq!((err.expected, err.found), (9, 8));
    assert_eq!(*q, p, "a failed copy changes nothing");
}

/// Generic code sees the same compiled and interpreted passes as the module.
fn both_passes<N: Network>(p: &N::Params, i: &N::Inputs) -> (f64, Vec<f64>, f64, Vec<f64>) {
    let (mut g, mut gi) = (N::Grads::zeros_boxed(), N::Grads::zeros_boxed());
    let l = N::forward_backward(p, i, &mut g).to_f64();
    let li = N::interpreted_forward_backward(p, i, &mut gi).to_f64();
    let flat = |g: &N::Grads| g.to_flat_vec().iter().map(|v| v.to_f64()).collect();
    (l, flat(&g), li, flat(&gi))
}

#[test]
fn trait_methods_run_the_module_passes() {
    let p = xor::Params {
        w1: [[0.3, -0.2], [0.5, 0.7]],
        c: [0.1, -0.1],
        w2: [0.9, -0.4],
        b: 0.05,
    };
    let inputs = xor_inputs();
    let (l, g, li, gi) = both_passes::<xor::Net>(&p, &inputs);
    let mut direct = xor::Grads::zeros();
    assert_eq!(
        l,
        f64::from(xor::forward_backward(&p, &inputs, &mut direct))
    );
    assert_eq!(
        g,
        direct
            .to_flat_vec()
            .iter()
            .map(|&v| f64::from(v))
            .collect::<Vec<_>>()
    );
    assert!((l - li).abs() < 1e-6);
    for (a, b) in g.iter().zip(&gi) {
        assert!((a - b).abs() < 1e-6, "{g:?} vs {gi:?}");
    }
    assert!(xor::Net::graph().to_string().contains("relu"));
    assert!(xor::Net::report().flops_optimized > 0);
}

#[test]
fn sgd_is_p_minus_lr_g() {
    let mut p = xor::Params {
        w1: [[1.0, 2.0], [3.0, 4.0]],
        c: [5.0, 6.0],
        w2: [7.0, 8.0],
        b: 9.0,
    };
    let mut g = xor::Grads::zeros();
    g.w1 = [[1.0, -1.0], [0.5, 0.0]];
    g.b = 2.0;
    Sgd::new(0.5).step(&mut p, &g).unwrap();
    assert_eq!(p.w1, [[0.5, 2.5], [2.75, 4.0]]);
    assert_eq!((p.c, p.w2, p.b), ([5.0, 6.0], [7.0, 8.0], 8.0));
}

#[test]
fn momentum_accumulates_velocity() {
    // v1 = g1, p1 = p0 - lr v1; v2 = mu v1 + g2, p2 = p1 - lr v2.
    let (lr, mu) = (0.1, 0.9);
    let mut opt = Momentum::new(lr, mu);
    let mut p = [1.0f64];
    opt.update(&mut [&mut p[..]], &[&[2.0]]).unwrap();
    assert!((p[0] - (1.0 - 0.1 * 2.0)).abs() < 1e-15);
    opt.update(&mut [&mut p[..]], &[&[-1.0]]).unwrap();
    let v2 = 0.9 * 2.0 - 1.0;
    assert!((p[0] - (0.8 - 0.1 * v2)).abs() < 1e-15, "{}", p[0]);
}

#[test]
fn adam_matches_the_paper_for_two_steps() {
    let (lr, b1, b2, eps) = (0.01f64, 0.9f64, 0.999f64, 1e-8f64);
    let mut adam = Adam::new(lr);
    let mut p = [0.5f64, -0.25];
    let (g1, g2) = ([0.3, -4.0], [-0.1, 2.0]);
    adam.update(&mut [&mut p[..]], &[&g1]).unwrap();
    // First step: m̂ = g, v̂ = g², so each parameter moves by lr·g/(|g| + ε).
    for (k, start) in [0.5, -0.25].into_iter().enumerate() {
        let want = start - lr * g1[k] / (g1[k].abs() + eps);
        assert!((p[k] - want).abs() < 1e-12, "{k}: {} vs {want}", p[k]);
    }
    let before = p;
    adam.update(&mut [&mut p[..]], &[&g2]).unwrap();
    for k in 0..2 {
        let m = b1 * (1.0 - b1) * g1[k] + (1.0 - b1) * g2[k];
        let v = b2 * (1.0 - b2) * g1[k] * g1[k] + (1.0 - b2) * g2[k] * g2[k];
        let (mh, vh) = (m / (1.0 - b1 * b1), v / (1.0 - b2 * b2));
        let want = before[k] - lr * mh / (vh.sqrt() + eps);
        assert!((p[k] - want).abs() < 1e-12, "{k}: {} vs {want}", p[k]);
    }
    assert_eq!(adam.steps(), 2);
}

#[test]
fn adam_trains_xor_from_a_seeded_start() {
    // A known-good start: seed 1 of the XOR example solves it with gradient descent.
    let inputs = xor_inputs();
    let mut p = xor::Params::zeros_boxed();
    init(&mut *p, Init::XavierUniform, 3);
    let mut rng = Rng::new(11);
    init_tensor(&mut p.w2, 2, 1, Init::XavierUniform, &mut rng);
    let mut g = xor::Grads::zeros_boxed();
    let mut adam = Adam::new(0.05);
    let first = xor::forward_backward(&p, &inputs, &mut g);
    let mut loss = first;
    for _ in 0..2000 {
        loss = xor::forward_backward(&p, &inputs, &mut g);
        adam.step(&mut *p, &*g).unwrap();
    }
    assert!(loss < first / 2.0, "loss {first} -> {loss}");
}

#[test]
fn optimizers_reject_a_layout_change_and_change_nothing() {
    let mut adam = Adam::new(0.1);
    let mut a = [1.0f32, 2.0];
    adam.update(&mut [&mut a[..]], &[&[1.0, 1.0]]).unwrap();
    let mut b = [1.0f32, 2.0, 3.0];
    let err = adam
        .update(&mut [&mut b[..]], &[&[1.0, 1.0, 1.0]])
        .unwrap_err();
    assert!(matches!(
        err,
        TrainError::LayoutMismatch {
            tensor: Some(0),
            expected: 2,
            found: 3,
            ..
        }
    ));
    assert_eq!(b, [1.0, 2.0, 3.0]);
    let err = Sgd::new(0.1)
        .update(&mut [&mut b[..]], &[&[1.0]])
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("tensor 0 should have 3 elements, has 1"),
        "{err}"
    );
    assert_eq!(b, [1.0, 2.0, 3.0]);
    let err = Sgd::new(0.1).update(&mut [&mut b[..]], &[]).unwrap_err();
    assert!(
        err.to_string().contains("expected 1 tensors, found 0"),
        "{err}"
    );
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

#[test]
fn he_and_xavier_have_the_documented_scale() {
    let mut p = wide::Params::zeros_boxed();
    p.b = [1.0; 256];
    init(&mut *p, Init::HeNormal, 5);
    // v is [128, 256]: fan_in 128, so std √(2/128) = 0.125.
    let v: Vec<f64> = p.v.as_flattened().to_vec();
    let (mean, std) = mean_std(&v);
    assert!(
        mean.abs() < 0.005 && (std - 0.125).abs() < 0.003,
        "{mean} {std}"
    );
    assert!(p.b.iter().all(|&b| b == 0.0), "biases start at zero");

    init(&mut *p, Init::XavierUniform, 5);
    // U(-a, a), a = √(6/(128+256)) = 0.125; std a/√3.
    let v: Vec<f64> = p.v.as_flattened().to_vec();
    let a = (6.0f64 / 384.0).sqrt();
    assert!(v.iter().all(|x| x.abs() < a));
    let (mean, std) = mean_std(&v);
    assert!(
        mean.abs() < 0.003 && (std - a / 3f64.sqrt()).abs() < 0.002,
        "{mean} {std}"
    );

    let mut q = wide::Params::zeros_boxed();
    init(&mut *q, Init::XavierUniform, 5);
    assert_eq!(p, q, "same seed, same parameters");
    init(&mut *q, Init::XavierUniform, 6);
    assert_ne!(p.v, q.v);
}

#[test]
fn rng_is_uniform_and_shuffle_is_a_permutation() {
    let mut rng = Rng::new(42);
    let mut counts = [0usize; 10];
    for _ in 0..100_000 {
        counts[rng.below(10)] += 1;
    }
    assert!(
        counts.iter().all(|&c| (9_500..10_500).contains(&c)),
        "{counts:?}"
    );
    let (mean, std) = mean_std(&(0..100_000).map(|_| rng.normal()).collect::<Vec<_>>());
    assert!(
        mean.abs() < 0.02 && (std - 1.0).abs() < 0.02,
        "{mean} {std}"
    );
    let mut v: Vec<usize> = (0..1000).collect();
    rng.shuffle(&mut v);
    assert_ne!(v, (0..1000).collect::<Vec<_>>());
    v.sort_unstable();
    assert_eq!(v, (0..1000).collect::<Vec<_>>());
    // SplitMix64's published first output for seed 0.
    assert_eq!(Rng::new(0).next_u64(), 0xE220_A839_7B1D_CDAF);
}

#[test]
fn batches_are_full_shuffled_and_seeded() {
    let batches = shuffled_batches(103, 10, LastBatch::Drop, &mut Rng::new(1)).unwrap();
    assert_eq!(batches.len(), 10);
    assert!(batches.iter().all(|b| b.len() == 10));
    let mut seen: Vec<usize> = batches.concat();
    assert_ne!(seen[..10], (0..10).collect::<Vec<_>>()[..], "shuffled");
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), 100, "no index twice");
    assert_eq!(
        batches,
        shuffled_batches(103, 10, LastBatch::Drop, &mut Rng::new(1)).unwrap()
    );

    let wrapped = shuffled_batches(103, 10, LastBatch::WrapAround, &mut Rng::new(1)).unwrap();
    assert_eq!(wrapped.len(), 11);
    assert!(wrapped.iter().all(|b| b.len() == 10));
    assert_eq!(wrapped[..10], batches[..], "same order, one extra batch");
    let mut all: Vec<usize> = wrapped.concat();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all, (0..103).collect::<Vec<_>>(), "every sample used");
    // Fewer samples than a batch: cycle.
    let tiny = shuffled_batches(3, 8, LastBatch::WrapAround, &mut Rng::new(2)).unwrap();
    assert_eq!(tiny.len(), 1);
    assert_eq!(tiny[0].len(), 8);
    assert!(shuffled_batches(3, 8, LastBatch::Drop, &mut Rng::new(2))
        .unwrap()
        .is_empty());
    assert_eq!(
        shuffled_batches(3, 0, LastBatch::Drop, &mut Rng::new(2)),
        Err(TrainError::ZeroBatchSize)
    );
}

/// AdamW by its definition (Loshchilov & Hutter, Algorithm 2 with PyTorch's
/// `lr·λ` decay), in f64 with its own state: decay, moments, bias correction.
fn adamw_reference(p: &mut [f64], grads: &[Vec<f64>], lr: f64, wd: f64) {
    let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-8f64);
    let (mut m, mut v) = (vec![0.0; p.len()], vec![0.0; p.len()]);
    for (t, g) in grads.iter().enumerate() {
        let t = (t + 1) as i32;
        for k in 0..p.len() {
            p[k] *= 1.0 - lr * wd;
            m[k] = b1 * m[k] + (1.0 - b1) * g[k];
            v[k] = b2 * v[k] + (1.0 - b2) * g[k] * g[k];
            let m_hat = m[k] / (1.0 - b1.powi(t));
            let v_hat = v[k] / (1.0 - b2.powi(t));
            p[k] -= lr * m_hat / (v_hat.sqrt() + eps);
        }
    }
}

#[test]
fn adamw_matches_a_hand_computation() {
    let (lr, wd) = (0.01, 0.1);
    let start = [0.5f64, -1.5, 2.0, 0.0];
    let grads = vec![
        vec![0.3, -4.0, 0.0, 1.0],
        vec![-0.1, 2.0, 0.0, 1.0],
        vec![0.2, 0.5, 0.0, -3.0],
    ];
    // Step one by hand: m̂ = g and v̂ = g², so p1 = p0·(1 − lr·λ) − lr·g/(|g| + ε).
    let mut opt = AdamW::with_weight_decay(lr, wd);
    let mut p = start;
    opt.update(&mut [&mut p[..]], &[&grads[0][..]]).unwrap();
    let want1 = [
        0.5 * 0.999 - 0.01 * 0.3 / (0.3 + 1e-8),
        -1.5 * 0.999 + 0.01 * 4.0 / (4.0 + 1e-8),
        2.0 * 0.999, // zero gradient: only the decay acts
        -0.01 * 1.0 / (1.0 + 1e-8),
    ];
    for k in 0..4 {
        assert!(
            (p[k] - want1[k]).abs() < 1e-15,
            "{k}: {} vs {}",
            p[k],
            want1[k]
        );
    }
    assert!((p[0] - 0.4895).abs() < 1e-9 && (p[2] - 1.998).abs() < 1e-15);
    for g in &grads[1..] {
        opt.update(&mut [&mut p[..]], &[&g[..]]).unwrap();
    }
    let mut want = start;
    adamw_reference(&mut want, &grads, lr, wd);
    for k in 0..4 {
        assert!(
            (p[k] - want[k]).abs() < 1e-14,
            "{k}: {} vs {}",
            p[k],
            want[k]
        );
    }
    assert_eq!(opt.steps(), 3);

    // f32 follows the same formula to f32 precision.
    let mut opt32 = AdamW::with_weight_decay(lr, wd);
    let mut p32 = start.map(|v| v as f32);
    for g in &grads {
        let g32: Vec<f32> = g.iter().map(|&v| v as f32).collect();
        opt32.update(&mut [&mut p32[..]], &[&g32[..]]).unwrap();
    }
    for k in 0..4 {
        assert!((f64::from(p32[k]) - want[k]).abs() < 1e-6, "{k}");
    }
}

#[test]
fn adamw_has_pytorch_defaults_and_reduces_to_adam_without_decay() {
    let d = AdamW::<f32>::default();
    assert_eq!(
        (d.lr, d.beta1, d.beta2, d.eps, d.weight_decay),
        (1e-3, 0.9, 0.999, 1e-8, 1e-2)
    );
    let mut adam = Adam::new(0.05);
    let mut adamw = AdamW::with_weight_decay(0.05, 0.0);
    let (mut a, mut b) = ([0.3f64, -0.7, 1.1], [0.3f64, -0.7, 1.1]);
    for t in 0..5 {
        let g = [0.1 * t as f64, -0.2, 0.05 * (t * t) as f64 - 0.3];
        adam.update(&mut [&mut a[..]], &[&g]).unwrap();
        adamw.update(&mut [&mut b[..]], &[&g]).unwrap();
    }
    assert_eq!(a, b, "λ = 0 is Adam, bit for bit");
    // With the default decay and defaults otherwise it matches the reference too.
    let mut opt = AdamW::default();
    let mut p = [1.0f64, -2.0];
    let grads = vec![vec![0.5, 0.5], vec![-0.25, 1.0]];
    for g in &grads {
        opt.update(&mut [&mut p[..]], &[&g[..]]).unwrap();
    }
    let mut want = [1.0, -2.0];
    adamw_reference(&mut want, &grads, 1e-3, 1e-2);
    assert!(
        (p[0] - want[0]).abs() < 1e-15 && (p[1] - want[1]).abs() < 1e-15,
        "{p:?} {want:?}"
    );
    // A layout change is an error and changes nothing, as for Adam.
    let mut q = [1.0f64, 2.0, 3.0];
    assert!(matches!(
        opt.update(&mut [&mut q[..]], &[&[1.0, 1.0, 1.0]]),
        Err(TrainError::LayoutMismatch { .. })
    ));
    assert_eq!((q, opt.steps()), ([1.0, 2.0, 3.0], 2));
}

#[test]
fn clip_grad_norm_scales_to_the_global_norm() {
    // Two tensors, global norm √(3² + 4² + 0² + 12²) = 13.
    let (mut a, mut b) = ([3.0f64, 4.0], [0.0f64, 12.0]);
    let norm = clip_grad_norm_slices(&mut [&mut a[..], &mut b[..]], 6.5).unwrap();
    assert_eq!(norm, 13.0);
    assert_eq!((a, b), ([1.5, 2.0], [0.0, 6.0]), "scaled by 6.5/13 = 1/2");
    // At or under the limit nothing changes, and the norm is still returned.
    let norm = clip_grad_norm_slices(&mut [&mut a[..], &mut b[..]], 6.5).unwrap();
    assert_eq!((norm, a, b), (6.5, [1.5, 2.0], [0.0, 6.0]));
    let norm = clip_grad_norm_slices(&mut [&mut a[..]], f64::INFINITY).unwrap();
    assert_eq!((norm, a), (2.5, [1.5, 2.0]));
    // An awkward ratio: the new norm is max_norm to rounding.
    let mut c = [0.1f32, -0.7, 2.3, 1e-3];
    let before = c;
    let norm = clip_grad_norm_slices(&mut [&mut c[..]], 0.3).unwrap();
    let want: f64 = before
        .iter()
        .map(|&v| f64::from(v).powi(2))
        .sum::<f64>()
        .sqrt();
    assert!((norm - want).abs() < 1e-15 * want);
    let after: f64 = c.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>().sqrt();
    assert!((after - 0.3).abs() < 1e-7, "{after}");
    for (x, y) in c.iter().zip(before) {
        assert!((f64::from(*x) - f64::from(y) * 0.3 / want).abs() < 1e-7);
    }
    // max_norm = 0 zeroes the gradients.
    let norm = clip_grad_norm_slices(&mut [&mut c[..]], 0.0).unwrap();
    assert!(norm > 0.0 && c == [0.0; 4]);
}

#[test]
fn clip_grad_norm_handles_zero_tiny_huge_and_non_finite() {
    let mut z = [0.0f32; 5];
    assert_eq!(
        clip_grad_norm_slices(&mut [&mut z[..], &mut []], 1.0),
        Ok(0.0)
    );
    assert_eq!(z, [0.0; 5], "no NaN from 0/0");
    assert_eq!(clip_grad_norm_slices::<f64>(&mut [], 1.0), Ok(0.0));
    // Squares that underflow or overflow f64 still give the right norm.
    let mut tiny = [3e-200f64, 4e-200];
    let norm = clip_grad_norm_slices(&mut [&mut tiny[..]], 1.0).unwrap();
    assert!((norm / 5e-200 - 1.0).abs() < 1e-15, "{norm}");
    let mut huge = [3e200f64, -4e200];
    let norm = clip_grad_norm_slices(&mut [&mut huge[..]], 1.0).unwrap();
    assert!((norm / 5e200 - 1.0).abs() < 1e-15, "{norm}");
    assert!((huge[0] - 0.6).abs() < 1e-15 && (huge[1] + 0.8).abs() < 1e-15);
    // f32 gradients near f32::MAX: the f64 sum does not overflow.
    let mut big = [3e38f32, 3e38];
    let norm = clip_grad_norm_slices(&mut [&mut big[..]], 1.0).unwrap();
    assert!((norm / (3e38f32 as f64 * 2f64.sqrt()) - 1.0).abs() < 1e-15);
    // A norm beyond f64's range is reported, gradients untouched.
    let mut over = [f64::MAX, f64::MAX];
    assert_eq!(
        clip_grad_norm_slices(&mut [&mut over[..]], 1.0),
        Err(TrainError::NonFiniteNorm { at: None })
    );
    assert_eq!(over, [f64::MAX; 2]);
    // NaN or ±inf: an error naming the first bad element, nothing scaled.
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let (mut a, mut b) = ([100.0f32, 1.0], [2.0f32, bad, 3.0]);
        let err = clip_grad_norm_slices(&mut [&mut a[..], &mut b[..]], 1.0).unwrap_err();
        assert_eq!(err, TrainError::NonFiniteNorm { at: Some((1, 1)) });
        assert!(
            err.to_string().contains("element 1 of gradient tensor 1"),
            "{err}"
        );
        assert_eq!(a, [100.0, 1.0]);
        assert_eq!((b[0], b[2]), (2.0, 3.0));
    }
    for max_norm in [-1.0, f64::NAN] {
        let mut a = [1.0f64];
        let err = clip_grad_norm_slices(&mut [&mut a[..]], max_norm).unwrap_err();
        assert!(
            err.to_string().starts_with("clip_grad_norm: max_norm"),
            "{err}"
        );
    }
}

#[test]
fn clip_grad_norm_works_on_a_networks_grads() {
    let mut g = xor::Grads::zeros();
    g.w1 = [[1.0, 2.0], [2.0, 0.0]];
    g.b = 4.0;
    let norm = clip_grad_norm(&mut g, 2.5).unwrap();
    assert_eq!(norm, 5.0);
    assert_eq!((g.w1, g.b), ([[0.5, 1.0], [1.0, 0.0]], 2.0));
    assert_eq!((g.c, g.w2), ([0.0; 2], [0.0; 2]));
}

#[test]
fn step_decay_at_its_boundaries() {
    let s = StepDecay::new(0.1, 3, 0.5).unwrap();
    let rates: Vec<f64> = (0..8).map(|t| s.lr(t)).collect();
    assert_eq!(rates, [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025]);
    assert_eq!(s.lr(u64::MAX), 0.0, "γ^k saturates, no panic");
    let tenth = StepDecay::new(1.0, 10, 0.1).unwrap();
    assert_eq!((tenth.lr(9), tenth.lr(10)), (1.0, 0.1));
    assert!((tenth.lr(29) - 0.01).abs() < 1e-17 && (tenth.lr(30) - 0.001).abs() < 1e-18);
    assert_eq!(StepDecay::new(0.1, 1, 1.0).unwrap().lr(1_000_000), 0.1);
    for (lr, size, gamma) in [
        (0.1, 0, 0.5),
        (-0.1, 1, 0.5),
        (0.1, 1, f64::NAN),
        (f64::INFINITY, 1, 0.5),
    ] {
        let err = StepDecay::new(lr, size, gamma).unwrap_err();
        assert!(
            matches!(
                err,
                TrainError::InvalidArgument {
                    what: "StepDecay",
                    ..
                }
            ),
            "{err}"
        );
    }
}

#[test]
fn warmup_cosine_at_its_boundaries() {
    let s = WarmupCosine::new(0.1, 4, 12).unwrap();
    // Warm-up: base·step/warmup, from 0.
    assert_eq!((s.lr(0), s.lr(1), s.lr(2)), (0.0, 0.025, 0.05));
    assert_eq!(s.lr(3), 0.1 * 3.0 / 4.0);
    // Peak at the end of the warm-up, half way down at the middle of the decay.
    assert_eq!((s.lr(4), s.lr(8)), (0.1, 0.05));
    for t in 5..12 {
        let phase = (t - 4) as f64 / 8.0;
        let want = 0.05 * (1.0 + (std::f64::consts::PI * phase).cos());
        assert!((s.lr(t) - want).abs() < 1e-17, "{t}");
        assert!(s.lr(t) < s.lr(t - 1), "decreasing at {t}");
    }
    assert!(s.lr(11) > 0.0);
    // Done: 0 from total_steps on, never rising again.
    assert_eq!((s.lr(12), s.lr(13), s.lr(u64::MAX)), (0.0, 0.0, 0.0));

    let floor = s.with_min_lr(0.01).unwrap();
    assert_eq!(
        (floor.lr(0), floor.lr(4), floor.lr(12), floor.lr(99)),
        (0.0, 0.1, 0.01, 0.01)
    );
    assert!((floor.lr(8) - 0.055).abs() < 1e-17);
    // No warm-up: plain cosine from the first step.
    let plain = WarmupCosine::new(2.0, 0, 4).unwrap();
    assert_eq!((plain.lr(0), plain.lr(2), plain.lr(4)), (2.0, 1.0, 0.0));
    assert!(matches!(
        WarmupCosine::new(0.1, 5, 5),
        Err(TrainError::InvalidArgument {
            what: "WarmupCosine",
            ..
        })
    ));
    assert!(WarmupCosine::new(f64::NAN, 1, 5).is_err());
    let err = s.with_min_lr(0.2).unwrap_err();
    assert!(
        err.to_string()
            .contains("min_lr (0.2) must not exceed base_lr (0.1)"),
        "{err}"
    );
}

#[test]
fn scheduled_sets_the_rate_before_each_update() {
    // Rates 0.1, 0.2, 0.3 for updates 0, 1, 2 of p ← p − lr·g with g = 1.
    let mut opt = Scheduled::new(Sgd::new(5.0), |step: u64| 0.1 * (step + 1) as f64);
    let mut p = [0.0f64];
    assert_eq!(Optimizer::<f64>::learning_rate(&opt), 0.1);
    for _ in 0..3 {
        opt.update(&mut [&mut p[..]], &[&[1.0]]).unwrap();
    }
    assert!((p[0] + 0.6).abs() < 1e-15, "{}", p[0]);
    assert_eq!((opt.steps(), opt.optimizer().lr), (3, 0.30000000000000004));
    // A failed update is not counted.
    assert!(opt.update(&mut [&mut p[..]], &[]).is_err());
    assert_eq!(opt.steps(), 3);
    // With a network's structs, and with a stateful optimizer.
    let mut params = xor::Params::zeros();
    let mut g = xor::Grads::zeros();
    g.b = 1.0;
    let mut opt = Scheduled::new(AdamW::new(0.0), WarmupCosine::new(0.01, 2, 10).unwrap());
    opt.step(&mut params, &g).unwrap(); // lr(0) = 0: no move
    assert_eq!(params.b, 0.0);
    opt.step(&mut params, &g).unwrap(); // lr(1) = 0.005: Adam moves b by about lr
    assert!((params.b + 0.005).abs() < 1e-7, "{}", params.b); // f32 rounding
    assert_eq!(opt.into_inner().steps(), 2);
}

#[test]
fn accuracy_counts_argmax_matches() {
    let logits = [
        [0.1f32, 0.9, 0.0],   // 1
        [2.0, -1.0, 1.0],     // 0
        [0.5, 0.5, 0.2],      // tie between 0 and 1: 0
        [f32::NAN, 1.0, 0.0], // NaN: no prediction
    ];
    let flat = logits.as_flattened();
    assert_eq!(accuracy(flat, 3, &[1usize, 0, 0, 1]).unwrap(), 0.75);
    assert_eq!(
        accuracy(flat, 3, &[1usize, 0, 1, 1]).unwrap(),
        0.5,
        "a tie predicts the first"
    );
    assert_eq!(accuracy(flat, 3, &[1.0f32, 2.0, 0.0, 1.0]).unwrap(), 0.5);
    assert_eq!(accuracy(&[1.0f64, 0.0], 2, &[0.0f64]).unwrap(), 1.0);
    let one_hot = [
        [0.0f32, 1.0, 0.0],
        [1.0, 0.0, 0.0],
        [0.0, 0.0, 1.0],
        [0.0, 1.0, 0.0],
    ];
    assert_eq!(
        accuracy_one_hot(flat, 3, one_hot.as_flattened()).unwrap(),
        0.5
    );
    // Probability targets name the most likely class.
    let soft = [
        [0.1f32, 0.8, 0.1],
        [0.6, 0.2, 0.2],
        [0.3, 0.4, 0.3],
        [0.2, 0.2, 0.6],
    ];
    assert_eq!(accuracy_one_hot(flat, 3, soft.as_flattened()).unwrap(), 0.5);

    let bad_labels: [(&[f32], &str); 4] = [
        (
            &[1.0, 0.0, 0.5, 1.0],
            "the label of row 2 is not a class in 0..3",
        ),
        (&[1.0, -1.0, 0.0, 1.0], "row 1"),
        (&[1.0, 0.0, 3.0, 1.0], "row 2"),
        (&[1.0, 0.0, f32::NAN, 1.0], "row 2"),
    ];
    for (labels, needle) in bad_labels {
        let err = accuracy(flat, 3, labels).unwrap_err();
        assert!(err.to_string().contains(needle), "{err}");
    }
    let err = accuracy(flat, 3, &[0usize; 3]).unwrap_err();
    assert!(
        err.to_string().contains("4 rows of logits but 3 labels"),
        "{err}"
    );
    for (logits, n) in [(&flat[..11], 3), (&[][..], 3), (flat, 0)] {
        let err = accuracy(logits, n, &[0usize]).unwrap_err();
        assert!(
            err.to_string()
                .contains("not a non-empty whole number of rows"),
            "{err}"
        );
    }
    let tied = [
        [0.5f32, 0.5, 0.0],
        [1.0, 0.0, 0.0],
        [0.0, 0.0, 1.0],
        [0.0, 1.0, 0.0],
    ];
    let err = accuracy_one_hot(flat, 3, tied.as_flattened()).unwrap_err();
    assert!(
        err.to_string()
            .contains("target row 0 has no single largest value"),
        "{err}"
    );
    assert!(accuracy_one_hot(flat, 3, &one_hot.as_flattened()[..9]).is_err());
}

#[test]
fn dropout_masks_are_seeded_and_scaled() {
    let draw = |p: f64, seed: u64| {
        let mut m = vec![7.0f64; 100_000];
        dropout_mask(&mut m, p, &mut Rng::new(seed)).unwrap();
        m
    };
    let m = draw(0.3, 5);
    assert_eq!(m, draw(0.3, 5), "same seed, same mask");
    assert_ne!(m, draw(0.3, 6));
    let keep = 1.0 / 0.7;
    assert!(m.iter().all(|&v| v == 0.0 || v == keep));
    let dropped = m.iter().filter(|&&v| v == 0.0).count() as f64 / m.len() as f64;
    // Binomial standard deviation √(0.3·0.7/10⁵) ≈ 0.0014.
    assert!((dropped - 0.3).abs() < 0.01, "{dropped}");
    let mean = m.iter().sum::<f64>() / m.len() as f64;
    assert!(
        (mean - 1.0).abs() < 0.02,
        "inverted dropout keeps the mean: {mean}"
    );
    assert!(draw(0.0, 1).iter().all(|&v| v == 1.0));
    // Successive masks from one generator differ; f32 works the same way.
    let mut rng = Rng::new(9);
    let (mut a, mut b) = ([0.0f32; 64], [0.0f32; 64]);
    dropout_mask(&mut a, 0.5, &mut rng).unwrap();
    dropout_mask(&mut b, 0.5, &mut rng).unwrap();
    assert_ne!(a, b);
    assert!(a.iter().chain(&b).all(|&v| v == 0.0 || v == 2.0));
    for p in [1.0, 1.5, -0.1, f64::NAN] {
        let mut c = [3.0f32; 4];
        let err = dropout_mask(&mut c, p, &mut rng).unwrap_err();
        assert!(err.to_string().contains("p must be in [0, 1)"), "{err}");
        assert_eq!(c, [3.0; 4], "unchanged");
    }
}

/// The dropout pattern of the README: a mask input multiplied into a hidden layer.
#[network]
fn dropped(
    #[input] x: [[f64; 3]; 2],
    #[input] y: [f64; 2],
    #[input] mask: [[f64; 4]; 2],
    w1: [[f64; 4]; 3],
    w2: [f64; 4],
) -> f64 {
    let h = tanh(x.matmul(w1)) * mask;
    mse(h.matmul(w2), y)
}

#[test]
fn a_dropout_mask_silences_units_and_scales_the_rest() {
    let mut params = dropped::Params::zeros();
    init(&mut params, Init::XavierUniform, 4);
    init_tensor(&mut params.w2, 4, 1, Init::XavierUniform, &mut Rng::new(8));
    let inputs = dropped::Inputs {
        x: [[0.5, -1.0, 2.0], [1.5, 0.25, -0.5]],
        y: [0.3, -0.2],
        // A p = 0.5 mask (0 or 2) that drops unit 0 in both rows.
        mask: [[0.0, 2.0, 0.0, 2.0], [0.0, 2.0, 2.0, 0.0]],
    };
    let mut g = dropped::Grads::zeros();
    let loss = dropped::forward_backward(&params, &inputs, &mut g);
    // By hand: h = tanh(x·w1)·mask, ŷ = h·w2, loss = mean((ŷ − y)²).
    let mut want_loss = 0.0;
    let mut want_w2 = [0.0; 4];
    for r in 0..2 {
        let h: Vec<f64> = (0..4)
            .map(|j| {
                let z: f64 = (0..3).map(|k| inputs.x[r][k] * params.w1[k][j]).sum();
                z.tanh() * inputs.mask[r][j]
            })
            .collect();
        let err = (0..4).map(|j| h[j] * params.w2[j]).sum::<f64>() - inputs.y[r];
        want_loss += err * err / 2.0;
        for (w, h) in want_w2.iter_mut().zip(&h) {
            *w += err * h; // ∂/∂w2 of err²/2 (the mean over two rows)
        }
    }
    assert!((loss - want_loss).abs() < 1e-12, "{loss} vs {want_loss}");
    for (got, want) in g.w2.iter().zip(want_w2) {
        assert!((got - want).abs() < 1e-12, "{:?} vs {want_w2:?}", g.w2);
    }
    // Unit 0 is dropped in every row: no gradient reaches its incoming weights.
    assert!(g.w1.iter().all(|row| row[0] == 0.0));
    assert!(g.w1.iter().any(|row| row[1] != 0.0));
}
