//! The `gradc::Network` / `gradc::Tensors` traits that `#[network]` implements, and
//! the training utilities, against hand formulas.

use gradc::train::{
    init, init_tensor, shuffled_batches, Adam, Init, LastBatch, Momentum, Optimizer, Rng, Sgd,
    TrainError,
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
