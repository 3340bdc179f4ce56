//! Training utilities, generic over any `#[network]`: a seeded random generator,
//! Xavier/He initialisation, shuffled mini-batches, and the optimizers SGD, SGD with
//! momentum and Adam.
//!
//! Everything works on the flat views of [`Tensors`]: parameters in declaration
//! order, each tensor row-major. A sketch of a training loop:
//!
//! ```
//! use gradc::train::{init, shuffled_batches, Adam, Init, LastBatch, Optimizer, Rng};
//! use gradc::{network, Tensors};
//!
//! #[network]
//! fn fit(#[input] x: [[f64; 1]; 2], #[input] y: [[f64; 1]; 2], w: [[f64; 1]; 1], b: f64) -> f64 {
//!     mse(x.matmul(w) + b, y)
//! }
//!
//! // y = 3x - 1 on four points, in batches of two.
//! let data = [(0.0, -1.0), (1.0, 2.0), (2.0, 5.0), (3.0, 8.0)];
//! let mut params = fit::Params::zeros_boxed();
//! init(&mut *params, Init::XavierUniform, 7);
//! let mut grads = fit::Grads::zeros_boxed();
//! let mut inputs = fit::Inputs::zeros_boxed();
//! let mut adam = Adam::new(0.1);
//! let mut rng = Rng::new(1);
//! for _epoch in 0..300 {
//!     for batch in shuffled_batches(data.len(), 2, LastBatch::Drop, &mut rng).unwrap() {
//!         for (row, &i) in batch.iter().enumerate() {
//!             inputs.x[row][0] = data[i].0;
//!             inputs.y[row][0] = data[i].1;
//!         }
//!         fit::forward_backward(&params, &inputs, &mut grads);
//!         adam.step(&mut *params, &*grads).unwrap();
//!     }
//! }
//! assert!((params.w[0][0] - 3.0).abs() < 1e-2 && (params.b + 1.0).abs() < 1e-2);
//! ```

use crate::net::{Element, Float, Tensors};
use std::fmt;

/// A small seeded pseudo-random generator (SplitMix64): fast, reproducible on every
/// platform, and good enough for initialisation and shuffling. Not cryptographic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator whose whole output is determined by `seed`.
    pub fn new(seed: u64) -> Self {
        Rng { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`, with 53 random bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.next_f64()
    }

    /// Standard normal (Box-Muller; one of the pair is discarded for simplicity).
    pub fn normal(&mut self) -> f64 {
        // 1 - u lies in (0, 1], so the logarithm is finite.
        let u1 = 1.0 - self.next_f64();
        let u2 = self.next_f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Uniform in `0..n` without modulo bias; `0` when `n == 0`.
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        let n = n as u64;
        // Reject the top partial copy of 0..n so every value is equally likely.
        let zone = u64::MAX - (u64::MAX % n) - 1;
        loop {
            let v = self.next_u64();
            if v <= zone {
                return (v % n) as usize;
            }
        }
    }

    /// Shuffles `items` in place (Fisher-Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

/// How [`init`] draws weight matrices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Init {
    /// Glorot/Xavier uniform: `U(−a, a)` with `a = √(6 / (fan_in + fan_out))`; suits
    /// sigmoid and tanh layers.
    XavierUniform,
    /// Glorot/Xavier normal: `N(0, 2 / (fan_in + fan_out))`.
    XavierNormal,
    /// He/Kaiming normal: `N(0, 2 / fan_in)`; suits ReLU layers.
    HeNormal,
    /// He/Kaiming uniform: `U(−a, a)` with `a = √(6 / fan_in)`.
    HeUniform,
}

/// Initialises every parameter from `seed`: tensors of rank ≥ 2 are weight
/// matrices used as `x.matmul(w)`, so `fan_in` is the product of all dimensions
/// but the last and `fan_out` the last one, drawn by `rule`; tensors of rank 0
/// or 1 are biases and set to zero. For anything else (a 1-D weight vector, say)
/// call [`init_tensor`] on that tensor.
pub fn init<P: Tensors>(params: &mut P, rule: Init, seed: u64) {
    let mut rng = Rng::new(seed);
    for ((_, dims), values) in P::SHAPES.iter().zip(params.tensors_mut()) {
        if dims.len() >= 2 {
            let fan_out = dims[dims.len() - 1];
            let fan_in = dims[..dims.len() - 1].iter().product();
            init_tensor(values, fan_in, fan_out, rule, &mut rng);
        } else {
            values.fill(P::Elem::ZERO);
        }
    }
}

/// Fills `values` by `rule` for a layer with `fan_in` inputs and `fan_out` outputs.
/// A zero fan counts as one, so the scale stays finite.
pub fn init_tensor<T: Element>(
    values: &mut [T],
    fan_in: usize,
    fan_out: usize,
    rule: Init,
    rng: &mut Rng,
) {
    let (fan_in, fan_out) = (fan_in.max(1) as f64, fan_out.max(1) as f64);
    for v in values {
        let x = match rule {
            Init::XavierUniform => {
                let a = (6.0 / (fan_in + fan_out)).sqrt();
                rng.uniform(-a, a)
            }
            Init::XavierNormal => rng.normal() * (2.0 / (fan_in + fan_out)).sqrt(),
            Init::HeNormal => rng.normal() * (2.0 / fan_in).sqrt(),
            Init::HeUniform => {
                let a = (6.0 / fan_in).sqrt();
                rng.uniform(-a, a)
            }
        };
        *v = T::from_f64(x);
    }
}

/// What [`shuffled_batches`] does with the samples that do not fill a last batch.
///
/// The batch size is a fixed array dimension of a `#[network]` signature, so every
/// batch must be full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LastBatch {
    /// Leave them out of this epoch. With a new shuffle each epoch every sample is
    /// still seen, just not in every epoch.
    Drop,
    /// Fill the last batch with samples from the start of this epoch's order, so
    /// every sample is used every epoch and a few twice.
    WrapAround,
}

/// One epoch of mini-batches: the sample indices `0..n` shuffled by `rng`, cut into
/// batches of exactly `batch_size` indices.
pub fn shuffled_batches(
    n: usize,
    batch_size: usize,
    last: LastBatch,
    rng: &mut Rng,
) -> Result<Vec<Vec<usize>>, TrainError> {
    if batch_size == 0 {
        return Err(TrainError::ZeroBatchSize);
    }
    let mut order: Vec<usize> = (0..n).collect();
    rng.shuffle(&mut order);
    let mut batches: Vec<Vec<usize>> = order
        .chunks_exact(batch_size)
        .map(<[usize]>::to_vec)
        .collect();
    let rest = order.chunks_exact(batch_size).remainder();
    if last == LastBatch::WrapAround && !rest.is_empty() {
        // `n` may be smaller than a batch: cycle through the order as often as needed.
        let batch = rest
            .iter()
            .chain(order.iter().cycle())
            .take(batch_size)
            .copied()
            .collect();
        batches.push(batch);
    }
    Ok(batches)
}

/// A problem with the arguments of a training utility.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrainError {
    /// [`shuffled_batches`] was asked for batches of size zero.
    ZeroBatchSize,
    /// Parameters and gradients, or an optimizer's state, disagree in layout
    /// (tensor count or tensor length); the optimizer changed nothing.
    LayoutMismatch {
        /// What disagreed with what.
        what: &'static str,
        /// The tensor index, when one tensor's length differs.
        tensor: Option<usize>,
        expected: usize,
        found: usize,
    },
}

impl fmt::Display for TrainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrainError::ZeroBatchSize => f.write_str("the batch size must be at least 1"),
            TrainError::LayoutMismatch {
                what,
                tensor: None,
                expected,
                found,
            } => write!(f, "{what}: expected {expected} tensors, found {found}"),
            TrainError::LayoutMismatch {
                what,
                tensor: Some(i),
                expected,
                found,
            } => write!(
                f,
                "{what}: tensor {i} should have {expected} elements, has {found}"
            ),
        }
    }
}

impl std::error::Error for TrainError {}

/// Checks that `b` has the tensor count and lengths of `a`.
fn check_layout<T, U>(
    what: &'static str,
    a: &[impl AsRef<[T]>],
    b: &[impl AsRef<[U]>],
) -> Result<(), TrainError> {
    if a.len() != b.len() {
        return Err(TrainError::LayoutMismatch {
            what,
            tensor: None,
            expected: a.len(),
            found: b.len(),
        });
    }
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let (x, y) = (x.as_ref().len(), y.as_ref().len());
        if x != y {
            return Err(TrainError::LayoutMismatch {
                what,
                tensor: Some(i),
                expected: x,
                found: y,
            });
        }
    }
    Ok(())
}

/// Zeroed state of `params`' layout, or a check that existing state still has it.
fn state_for<T: Element>(state: &mut Vec<Vec<T>>, params: &[&mut [T]]) -> Result<(), TrainError> {
    if state.is_empty() && !params.is_empty() {
        *state = params.iter().map(|p| vec![T::ZERO; p.len()]).collect();
        return Ok(());
    }
    let lens: Vec<&[T]> = params.iter().map(|p| &**p).collect();
    check_layout("optimizer state vs parameters", state, &lens)
}

/// A first-order optimizer: updates parameters in place from their gradients.
///
/// The first call fixes the layout (tensor count and lengths) the optimizer keeps
/// state for; a later call with another layout is an error and changes nothing.
pub trait Optimizer<T: Element> {
    /// One update of flat parameter tensors from gradients of the same layout.
    fn update(&mut self, params: &mut [&mut [T]], grads: &[&[T]]) -> Result<(), TrainError>;

    /// The current learning rate.
    fn learning_rate(&self) -> f64;

    /// Changes the learning rate (for a schedule); the state is kept.
    fn set_learning_rate(&mut self, lr: f64);

    /// One update of a network's `Params` from its `Grads`.
    fn step<P, G>(&mut self, params: &mut P, grads: &G) -> Result<(), TrainError>
    where
        P: Tensors<Elem = T>,
        G: Tensors<Elem = T>,
        Self: Sized,
    {
        let mut p = params.tensors_mut();
        let g = grads.tensors();
        self.update(&mut p, &g)
    }
}

/// Plain stochastic gradient descent: `p ← p − lr·g`.
#[derive(Clone, Debug, PartialEq)]
pub struct Sgd {
    /// The learning rate.
    pub lr: f64,
}

impl Sgd {
    /// SGD with learning rate `lr`.
    pub fn new(lr: f64) -> Self {
        Sgd { lr }
    }
}

impl<T: Element> Optimizer<T> for Sgd {
    fn update(&mut self, params: &mut [&mut [T]], grads: &[&[T]]) -> Result<(), TrainError> {
        check_layout("gradients vs parameters", params, grads)?;
        let lr = T::from_f64(self.lr);
        for (p, g) in params.iter_mut().zip(grads) {
            for (p, &g) in p.iter_mut().zip(g.iter()) {
                *p = *p - lr * g;
            }
        }
        Ok(())
    }
    fn learning_rate(&self) -> f64 {
        self.lr
    }
    fn set_learning_rate(&mut self, lr: f64) {
        self.lr = lr;
    }
}

/// SGD with (heavy-ball) momentum, as PyTorch's `SGD(momentum=μ)`:
/// `v ← μ·v + g`, `p ← p − lr·v`, with `v` starting at zero.
#[derive(Clone, Debug, PartialEq)]
pub struct Momentum<T> {
    /// The learning rate.
    pub lr: f64,
    /// The momentum factor μ.
    pub momentum: f64,
    velocity: Vec<Vec<T>>,
}

impl<T: Element> Momentum<T> {
    /// Momentum SGD with learning rate `lr` and factor `momentum` (0.9 is usual).
    pub fn new(lr: f64, momentum: f64) -> Self {
        Momentum {
            lr,
            momentum,
            velocity: Vec::new(),
        }
    }
}

impl<T: Element> Optimizer<T> for Momentum<T> {
    fn update(&mut self, params: &mut [&mut [T]], grads: &[&[T]]) -> Result<(), TrainError> {
        check_layout("gradients vs parameters", params, grads)?;
        state_for(&mut self.velocity, params)?;
        let (lr, mu) = (T::from_f64(self.lr), T::from_f64(self.momentum));
        for ((p, g), v) in params.iter_mut().zip(grads).zip(&mut self.velocity) {
            for ((p, &g), v) in p.iter_mut().zip(g.iter()).zip(v) {
                *v = mu * *v + g;
                *p = *p - lr * *v;
            }
        }
        Ok(())
    }
    fn learning_rate(&self) -> f64 {
        self.lr
    }
    fn set_learning_rate(&mut self, lr: f64) {
        self.lr = lr;
    }
}

/// Adam (Kingma & Ba 2015) with bias correction, as PyTorch's `Adam`:
/// `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`,
/// `p ← p − lr·m̂ / (√v̂ + ε)` with `m̂ = m/(1−β₁ᵗ)`, `v̂ = v/(1−β₂ᵗ)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Adam<T> {
    /// The learning rate.
    pub lr: f64,
    /// Decay of the first moment (default 0.9).
    pub beta1: f64,
    /// Decay of the second moment (default 0.999).
    pub beta2: f64,
    /// Added to the denominator (default 1e-8).
    pub eps: f64,
    steps: i32,
    m: Vec<Vec<T>>,
    v: Vec<Vec<T>>,
}

impl<T: Element> Adam<T> {
    /// Adam with learning rate `lr` and PyTorch's defaults β₁ = 0.9, β₂ = 0.999,
    /// ε = 1e-8.
    pub fn new(lr: f64) -> Self {
        Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            steps: 0,
            m: Vec::new(),
            v: Vec::new(),
        }
    }

    /// Updates done so far.
    pub fn steps(&self) -> i32 {
        self.steps
    }
}

impl<T: Element> Optimizer<T> for Adam<T> {
    fn update(&mut self, params: &mut [&mut [T]], grads: &[&[T]]) -> Result<(), TrainError> {
        check_layout("gradients vs parameters", params, grads)?;
        state_for(&mut self.m, params)?;
        state_for(&mut self.v, params)?;
        self.steps = self.steps.saturating_add(1);
        let c1 = 1.0 - self.beta1.powi(self.steps);
        let c2 = 1.0 - self.beta2.powi(self.steps);
        let (b1, b2) = (T::from_f64(self.beta1), T::from_f64(self.beta2));
        let (one, eps) = (T::ONE, T::from_f64(self.eps));
        // lr·m̂/(√v̂ + ε) = (lr/c1)·m / (√v/√c2 + ε)
        let (step, inv_sqrt_c2) = (T::from_f64(self.lr / c1), T::from_f64(1.0 / c2.sqrt()));
        let layers = params
            .iter_mut()
            .zip(grads)
            .zip(&mut self.m)
            .zip(&mut self.v);
        for (((p, g), m), v) in layers {
            for (((p, &g), m), v) in p.iter_mut().zip(g.iter()).zip(m).zip(v) {
                *m = b1 * *m + (one - b1) * g;
                *v = b2 * *v + (one - b2) * g * g;
                *p = *p - step * *m / (v.sqrt() * inv_sqrt_c2 + eps);
            }
        }
        Ok(())
    }
    fn learning_rate(&self) -> f64 {
        self.lr
    }
    fn set_learning_rate(&mut self, lr: f64) {
        self.lr = lr;
    }
}
