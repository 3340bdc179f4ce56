//! Training utilities, generic over any `#[network]`: a seeded random generator,
//! Xavier/He initialisation, shuffled mini-batches, the optimizers SGD, SGD with
//! momentum, Adam and AdamW, learning-rate schedules ([`StepDecay`],
//! [`WarmupCosine`], applied by [`Scheduled`]), gradient clipping by global norm
//! ([`clip_grad_norm`]), dropout masks ([`dropout_mask`]) and [`accuracy`].
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
        /// The count or length the parameters have.
        expected: usize,
        /// The count or length given.
        found: usize,
    },
    /// An argument outside its documented range (a dropout probability of 1, a
    /// negative `max_norm`, a schedule with no decay phase, a label that is no
    /// class, ...); nothing was changed.
    InvalidArgument {
        /// The function or type that rejected it.
        what: &'static str,
        /// What was wrong, with the value.
        message: String,
    },
    /// [`clip_grad_norm`] found a gradient whose global norm is not a finite
    /// number; the gradients are unchanged, so the caller can skip the update.
    NonFiniteNorm {
        /// `(tensor, element)` of the first NaN or infinite gradient element, or
        /// `None` when every element is finite but the norm exceeds `f64::MAX`.
        at: Option<(usize, usize)>,
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
            TrainError::InvalidArgument { what, message } => write!(f, "{what}: {message}"),
            TrainError::NonFiniteNorm { at: Some((t, i)) } => write!(
                f,
                "clip_grad_norm: element {i} of gradient tensor {t} is NaN or infinite; \
                 the gradients are unchanged"
            ),
            TrainError::NonFiniteNorm { at: None } => f.write_str(
                "clip_grad_norm: the global gradient norm exceeds the f64 range; \
                 the gradients are unchanged",
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
    moments: Moments<T>,
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
            moments: Moments::default(),
        }
    }

    /// Updates done so far.
    pub fn steps(&self) -> i32 {
        self.moments.steps
    }
}

impl<T: Element> Optimizer<T> for Adam<T> {
    fn update(&mut self, params: &mut [&mut [T]], grads: &[&[T]]) -> Result<(), TrainError> {
        let hyper = [self.lr, self.beta1, self.beta2, self.eps];
        self.moments.update(hyper, None, params, grads)
    }
    fn learning_rate(&self) -> f64 {
        self.lr
    }
    fn set_learning_rate(&mut self, lr: f64) {
        self.lr = lr;
    }
}

/// Adam's state: the step count and both moments per parameter element.
#[derive(Clone, Debug, PartialEq)]
struct Moments<T> {
    steps: i32,
    m: Vec<Vec<T>>,
    v: Vec<Vec<T>>,
}

impl<T> Default for Moments<T> {
    fn default() -> Self {
        Moments {
            steps: 0,
            m: Vec::new(),
            v: Vec::new(),
        }
    }
}

impl<T: Element> Moments<T> {
    /// One Adam step with `[lr, β₁, β₂, ε]`; `decay`, if any, is AdamW's `lr·λ`,
    /// taken off each parameter (`p ← p·(1 − lr·λ)`) before the moment step.
    fn update(
        &mut self,
        [lr, beta1, beta2, eps]: [f64; 4],
        decay: Option<f64>,
        params: &mut [&mut [T]],
        grads: &[&[T]],
    ) -> Result<(), TrainError> {
        check_layout("gradients vs parameters", params, grads)?;
        state_for(&mut self.m, params)?;
        state_for(&mut self.v, params)?;
        self.steps = self.steps.saturating_add(1);
        let c1 = 1.0 - beta1.powi(self.steps);
        let c2 = 1.0 - beta2.powi(self.steps);
        let (b1, b2) = (T::from_f64(beta1), T::from_f64(beta2));
        let (one, eps) = (T::ONE, T::from_f64(eps));
        // lr·m̂/(√v̂ + ε) = (lr/c1)·m / (√v/√c2 + ε)
        let (step, inv_sqrt_c2) = (T::from_f64(lr / c1), T::from_f64(1.0 / c2.sqrt()));
        let keep = decay.map(|d| T::from_f64(1.0 - d));
        let layers = params
            .iter_mut()
            .zip(grads)
            .zip(&mut self.m)
            .zip(&mut self.v);
        for (((p, g), m), v) in layers {
            if let Some(keep) = keep {
                p.iter_mut().for_each(|p| *p = *p * keep);
            }
            for (((p, &g), m), v) in p.iter_mut().zip(g.iter()).zip(m).zip(v) {
                *m = b1 * *m + (one - b1) * g;
                *v = b2 * *v + (one - b2) * g * g;
                *p = *p - step * *m / (v.sqrt() * inv_sqrt_c2 + eps);
            }
        }
        Ok(())
    }
}

/// AdamW (Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization"), as
/// PyTorch's `AdamW`: each step first decays every parameter, `p ← p·(1 − lr·λ)`,
/// then takes the [`Adam`] step from the gradient alone. Unlike L2 regularisation
/// added to the loss, the decay does not pass through the moments, so it is not
/// rescaled by `1/√v̂`.
///
/// The decay is scaled by the current learning rate (as in PyTorch), so a learning
/// rate schedule scales it too. It applies to every tensor given, biases included;
/// to exempt some, update them with a second optimizer.
///
/// ```
/// use gradc::train::{AdamW, Optimizer};
///
/// // A zero gradient: Adam would not move, AdamW still decays the weight.
/// let mut opt = AdamW::new(0.1);
/// let mut w = [2.0f64];
/// opt.update(&mut [&mut w[..]], &[&[0.0]]).unwrap();
/// assert_eq!(w[0], 2.0 * (1.0 - 0.1 * 0.01));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct AdamW<T> {
    /// The learning rate (PyTorch's default 1e-3).
    pub lr: f64,
    /// Decay of the first moment (default 0.9).
    pub beta1: f64,
    /// Decay of the second moment (default 0.999).
    pub beta2: f64,
    /// Added to the denominator (default 1e-8).
    pub eps: f64,
    /// The decoupled weight decay λ (default 1e-2).
    pub weight_decay: f64,
    moments: Moments<T>,
}

impl<T: Element> AdamW<T> {
    /// AdamW with learning rate `lr` and PyTorch's defaults β₁ = 0.9, β₂ = 0.999,
    /// ε = 1e-8, weight decay λ = 1e-2.
    pub fn new(lr: f64) -> Self {
        AdamW {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 1e-2,
            moments: Moments::default(),
        }
    }

    /// AdamW with learning rate `lr`, weight decay `weight_decay` and the default
    /// betas and ε.
    pub fn with_weight_decay(lr: f64, weight_decay: f64) -> Self {
        AdamW {
            weight_decay,
            ..AdamW::new(lr)
        }
    }

    /// Updates done so far.
    pub fn steps(&self) -> i32 {
        self.moments.steps
    }
}

/// All of PyTorch's defaults, learning rate 1e-3 included.
impl<T: Element> Default for AdamW<T> {
    fn default() -> Self {
        AdamW::new(1e-3)
    }
}

impl<T: Element> Optimizer<T> for AdamW<T> {
    fn update(&mut self, params: &mut [&mut [T]], grads: &[&[T]]) -> Result<(), TrainError> {
        let hyper = [self.lr, self.beta1, self.beta2, self.eps];
        let decay = self.lr * self.weight_decay;
        self.moments.update(hyper, Some(decay), params, grads)
    }
    fn learning_rate(&self) -> f64 {
        self.lr
    }
    fn set_learning_rate(&mut self, lr: f64) {
        self.lr = lr;
    }
}

fn invalid(what: &'static str, message: String) -> TrainError {
    TrainError::InvalidArgument { what, message }
}

/// Scales a network's gradients so their global L2 norm (over all tensors
/// together) is at most `max_norm`, as PyTorch's `clip_grad_norm_`; returns the
/// norm before clipping. See [`clip_grad_norm_slices`] for the rules.
///
/// ```
/// use gradc::train::clip_grad_norm;
/// use gradc::network;
///
/// #[network]
/// fn fit(#[input] x: [f64; 2], #[input] y: [f64; 2], w: f64, b: f64) -> f64 {
///     mse(x * w + b, y)
/// }
///
/// let mut g = fit::Grads { w: 3.0, b: 4.0 };
/// assert_eq!(clip_grad_norm(&mut g, 1.0).unwrap(), 5.0);
/// assert!((g.w - 0.6).abs() < 1e-15 && (g.b - 0.8).abs() < 1e-15);
/// ```
pub fn clip_grad_norm<G: Tensors>(grads: &mut G, max_norm: f64) -> Result<f64, TrainError> {
    clip_grad_norm_slices(&mut grads.tensors_mut(), max_norm)
}

/// [`clip_grad_norm`] on flat gradient tensors.
///
/// The norm `√(Σ g²)` is computed in `f64` whatever the element type (rescaled
/// by the largest magnitude when the plain sum of squares would overflow or
/// underflow). If it exceeds `max_norm`, every element is multiplied by
/// `max_norm / norm`, so the new norm is `max_norm` up to the element type's
/// rounding; otherwise nothing changes. All-zero gradients have norm 0 and stay
/// zero (no division by zero). `max_norm = f64::INFINITY` only measures.
///
/// A NaN or infinite gradient element is an error,
/// [`TrainError::NonFiniteNorm`] naming the first one, and leaves every gradient
/// unchanged: clipping would spread the NaN over all parameters, so the caller
/// should skip that update (or stop). A negative or NaN `max_norm` is
/// [`TrainError::InvalidArgument`].
pub fn clip_grad_norm_slices<T: Element>(
    grads: &mut [&mut [T]],
    max_norm: f64,
) -> Result<f64, TrainError> {
    if max_norm.is_nan() || max_norm < 0.0 {
        return Err(invalid(
            "clip_grad_norm",
            format!("max_norm must be a non-negative number, found {max_norm}"),
        ));
    }
    let (mut sum, mut largest) = (0.0f64, 0.0f64);
    for (t, g) in grads.iter().enumerate() {
        for (i, &x) in g.iter().enumerate() {
            let x = x.to_f64();
            if !x.is_finite() {
                return Err(TrainError::NonFiniteNorm { at: Some((t, i)) });
            }
            sum += x * x;
            largest = largest.max(x.abs());
        }
    }
    let norm = if largest == 0.0 {
        0.0
    } else if sum.is_finite() && sum >= f64::MIN_POSITIVE {
        sum.sqrt()
    } else {
        // Squares overflowed or underflowed: sum (x / largest)², each at most 1.
        let inv = 1.0 / largest;
        let scaled: f64 = grads
            .iter()
            .flat_map(|g| g.iter())
            .map(|&x| (x.to_f64() * inv).powi(2))
            .sum();
        largest * scaled.sqrt()
    };
    if !norm.is_finite() {
        return Err(TrainError::NonFiniteNorm { at: None });
    }
    if norm > max_norm {
        let scale = T::from_f64(max_norm / norm);
        for g in grads.iter_mut() {
            g.iter_mut().for_each(|x| *x = *x * scale);
        }
    }
    Ok(norm)
}

/// A learning rate as a function of the update number.
///
/// `step` counts updates from 0: `lr(0)` is the rate of the first update. Use a
/// schedule by setting the rate before each update,
/// `opt.set_learning_rate(schedule.lr(step))`, or let [`Scheduled`] count the
/// steps. Any `Fn(u64) -> f64` is a schedule too.
pub trait LrSchedule {
    /// The learning rate of update number `step` (0-based).
    fn lr(&self, step: u64) -> f64;
}

impl<F: Fn(u64) -> f64> LrSchedule for F {
    fn lr(&self, step: u64) -> f64 {
        self(step)
    }
}

fn check_rate(what: &'static str, name: &str, value: f64) -> Result<(), TrainError> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(invalid(
            what,
            format!("{name} must be a finite non-negative number, found {value}"),
        ))
    }
}

/// Step decay, as PyTorch's `StepLR`: `lr(step) = base_lr · γ^⌊step / step_size⌋`,
/// the rate multiplied by γ after every `step_size` updates.
///
/// ```
/// use gradc::train::{LrSchedule, StepDecay};
///
/// let s = StepDecay::new(0.1, 100, 0.5).unwrap();
/// assert_eq!((s.lr(0), s.lr(99), s.lr(100), s.lr(250)), (0.1, 0.1, 0.05, 0.025));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepDecay {
    base_lr: f64,
    step_size: u64,
    gamma: f64,
}

impl StepDecay {
    /// Decays `base_lr` by `gamma` every `step_size` updates. `base_lr` and
    /// `gamma` must be finite and non-negative and `step_size` at least 1.
    pub fn new(base_lr: f64, step_size: u64, gamma: f64) -> Result<Self, TrainError> {
        check_rate("StepDecay", "base_lr", base_lr)?;
        check_rate("StepDecay", "gamma", gamma)?;
        if step_size == 0 {
            return Err(invalid("StepDecay", "step_size must be at least 1".into()));
        }
        Ok(StepDecay {
            base_lr,
            step_size,
            gamma,
        })
    }
}

impl LrSchedule for StepDecay {
    fn lr(&self, step: u64) -> f64 {
        // Past 2³¹ decays γ^k has long reached 0, 1 or +inf; saturate the exponent.
        let k = i32::try_from(step / self.step_size).unwrap_or(i32::MAX);
        self.base_lr * self.gamma.powi(k)
    }
}

/// Linear warm-up then cosine decay, as Hugging Face's
/// `get_cosine_schedule_with_warmup` (with an optional floor `min_lr`):
///
/// - `step < warmup_steps`: `base_lr · step / warmup_steps` (so `lr(0) = 0`
///   when there is a warm-up);
/// - `warmup_steps ≤ step < total_steps`: `min_lr + (base_lr − min_lr) · ½(1 +
///   cos(π·t))` with `t = (step − warmup_steps) / (total_steps − warmup_steps)`,
///   which is `base_lr` at the end of the warm-up;
/// - `step ≥ total_steps`: `min_lr` (the cosine does not rise again).
///
/// ```
/// use gradc::train::{LrSchedule, WarmupCosine};
///
/// let s = WarmupCosine::new(1.0, 10, 110).unwrap();
/// assert_eq!((s.lr(0), s.lr(5), s.lr(10), s.lr(60), s.lr(110)), (0.0, 0.5, 1.0, 0.5, 0.0));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WarmupCosine {
    base_lr: f64,
    min_lr: f64,
    warmup_steps: u64,
    total_steps: u64,
}

impl WarmupCosine {
    /// Warms up over `warmup_steps` updates to `base_lr`, then decays to 0 at
    /// `total_steps`. `base_lr` must be finite and non-negative and
    /// `total_steps > warmup_steps` (`warmup_steps = 0` is plain cosine decay).
    pub fn new(base_lr: f64, warmup_steps: u64, total_steps: u64) -> Result<Self, TrainError> {
        check_rate("WarmupCosine", "base_lr", base_lr)?;
        if total_steps <= warmup_steps {
            return Err(invalid(
                "WarmupCosine",
                format!(
                    "total_steps ({total_steps}) must exceed warmup_steps ({warmup_steps}) \
                     to leave a decay phase"
                ),
            ));
        }
        Ok(WarmupCosine {
            base_lr,
            min_lr: 0.0,
            warmup_steps,
            total_steps,
        })
    }

    /// The same schedule decaying to `min_lr` instead of 0; `min_lr` must lie in
    /// `[0, base_lr]`.
    pub fn with_min_lr(self, min_lr: f64) -> Result<Self, TrainError> {
        check_rate("WarmupCosine", "min_lr", min_lr)?;
        if min_lr > self.base_lr {
            return Err(invalid(
                "WarmupCosine",
                format!(
                    "min_lr ({min_lr}) must not exceed base_lr ({})",
                    self.base_lr
                ),
            ));
        }
        Ok(WarmupCosine { min_lr, ..self })
    }
}

impl LrSchedule for WarmupCosine {
    fn lr(&self, step: u64) -> f64 {
        if step < self.warmup_steps {
            return self.base_lr * step as f64 / self.warmup_steps as f64;
        }
        if step >= self.total_steps {
            return self.min_lr;
        }
        if step == self.warmup_steps {
            // Exactly the peak, which the cosine form misses by a rounding when min_lr > 0.
            return self.base_lr;
        }
        let t = (step - self.warmup_steps) as f64 / (self.total_steps - self.warmup_steps) as f64;
        let cosine = 0.5 * (1.0 + (std::f64::consts::PI * t).cos());
        self.min_lr + (self.base_lr - self.min_lr) * cosine
    }
}

/// An optimizer whose learning rate follows a schedule: before update number
/// `n` (counted by this wrapper from 0, failed updates not counted) it sets the
/// rate to `schedule.lr(n)`.
///
/// ```
/// use gradc::train::{Optimizer, Scheduled, Sgd, StepDecay};
///
/// let mut opt = Scheduled::new(Sgd::new(0.0), StepDecay::new(1.0, 1, 0.5).unwrap());
/// let mut p = [0.0f64];
/// for _ in 0..3 {
///     opt.update(&mut [&mut p[..]], &[&[-1.0]]).unwrap(); // rates 1, 0.5, 0.25
/// }
/// assert_eq!((p[0], opt.steps(), Optimizer::<f64>::learning_rate(&opt)), (1.75, 3, 0.125));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Scheduled<O, S> {
    optimizer: O,
    schedule: S,
    steps: u64,
}

impl<O, S: LrSchedule> Scheduled<O, S> {
    /// Wraps `optimizer`; its own learning rate is replaced at every update.
    pub fn new(optimizer: O, schedule: S) -> Self {
        Scheduled {
            optimizer,
            schedule,
            steps: 0,
        }
    }

    /// Updates done so far (the step number of the next update).
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// The wrapped optimizer.
    pub fn optimizer(&self) -> &O {
        &self.optimizer
    }

    /// The schedule.
    pub fn schedule(&self) -> &S {
        &self.schedule
    }

    /// The wrapped optimizer, with the rate of the last update.
    pub fn into_inner(self) -> O {
        self.optimizer
    }
}

impl<T: Element, O: Optimizer<T>, S: LrSchedule> Optimizer<T> for Scheduled<O, S> {
    fn update(&mut self, params: &mut [&mut [T]], grads: &[&[T]]) -> Result<(), TrainError> {
        self.optimizer
            .set_learning_rate(self.schedule.lr(self.steps));
        self.optimizer.update(params, grads)?;
        self.steps = self.steps.saturating_add(1);
        Ok(())
    }

    /// The rate the next update will use.
    fn learning_rate(&self) -> f64 {
        self.schedule.lr(self.steps)
    }

    /// Sets the wrapped optimizer's rate; the schedule replaces it at the next
    /// update, so this has no lasting effect. Change the schedule instead.
    fn set_learning_rate(&mut self, lr: f64) {
        self.optimizer.set_learning_rate(lr);
    }
}

/// The index of the largest value (the first on ties, as NumPy's and PyTorch's
/// `argmax`); `None` for an empty slice or one containing NaN.
pub fn argmax<T: Element>(values: &[T]) -> Option<usize> {
    let mut best: Option<(usize, T)> = None;
    for (i, &v) in values.iter().enumerate() {
        // NaN is not comparable, not even to itself: no answer.
        v.partial_cmp(&v)?;
        match best {
            Some((_, b)) if b >= v => {}
            _ => best = Some((i, v)),
        }
    }
    best.map(|(i, _)| i)
}

/// A class label as [`accuracy`] takes it: an index (`usize`, as the labels of
/// `gradc::data::Dataset`) or a number of the element type (`3.0`, as the
/// class-index targets of `cross_entropy`).
pub trait ClassLabel: Copy {
    /// The class index, or `None` for a value that is not a non-negative integer.
    fn class_index(self) -> Option<usize>;
}

impl ClassLabel for usize {
    fn class_index(self) -> Option<usize> {
        Some(self)
    }
}

macro_rules! impl_class_label {
    ($t:ty) => {
        impl ClassLabel for $t {
            fn class_index(self) -> Option<usize> {
                // Up to 2²⁴ every integer is exact in f32, up to 2⁵³ in f64.
                let limit = (1u64 << (<$t>::MANTISSA_DIGITS)) as $t;
                (self >= 0.0 && self <= limit && self.fract() == 0.0).then(|| self as usize)
            }
        }
    };
}

impl_class_label!(f32);
impl_class_label!(f64);

/// Rows of `n_classes` scores in `logits`: their count, or why they cannot be rows.
fn logit_rows<T>(what: &'static str, logits: &[T], n_classes: usize) -> Result<usize, TrainError> {
    if n_classes == 0 || !logits.len().is_multiple_of(n_classes) || logits.is_empty() {
        return Err(invalid(
            what,
            format!(
                "logits of {} values are not a non-empty whole number of rows of {n_classes} classes",
                logits.len()
            ),
        ));
    }
    Ok(logits.len() / n_classes)
}

/// The fraction of rows whose predicted class, the [`argmax`] of the row's
/// logits (row-major, `n_classes` per row), equals the row's label.
///
/// Ties go to the lowest class index, as `argmax` in NumPy and PyTorch, so a
/// tied row counts as correct only when its label is the first of the tied
/// classes; a row with a NaN logit predicts nothing and counts as wrong.
/// Probabilities or log-probabilities work as well as logits. There must be
/// one label per row, each a class in `0..n_classes`; anything else is
/// [`TrainError::InvalidArgument`] naming the row.
///
/// ```
/// use gradc::train::accuracy;
///
/// let logits = [[2.0f32, 1.0, 0.0], [0.0, 0.5, 3.0], [1.0, 1.0, 0.0]];
/// // Row 2 ties classes 0 and 1 and predicts 0.
/// assert_eq!(accuracy(logits.as_flattened(), 3, &[0usize, 1, 0]).unwrap(), 2.0 / 3.0);
/// assert_eq!(accuracy(logits.as_flattened(), 3, &[0.0f32, 2.0, 1.0]).unwrap(), 2.0 / 3.0);
/// ```
pub fn accuracy<T: Element, L: ClassLabel>(
    logits: &[T],
    n_classes: usize,
    labels: &[L],
) -> Result<f64, TrainError> {
    let rows = logit_rows("accuracy", logits, n_classes)?;
    if labels.len() != rows {
        return Err(invalid(
            "accuracy",
            format!("{rows} rows of logits but {} labels", labels.len()),
        ));
    }
    let mut correct = 0usize;
    for (r, (row, &label)) in logits.chunks_exact(n_classes).zip(labels).enumerate() {
        let class = label
            .class_index()
            .filter(|&c| c < n_classes)
            .ok_or_else(|| {
                invalid(
                    "accuracy",
                    format!("the label of row {r} is not a class in 0..{n_classes}"),
                )
            })?;
        if argmax(row) == Some(class) {
            correct += 1;
        }
    }
    Ok(correct as f64 / rows as f64)
}

/// [`accuracy`] against target rows of the logits' shape (one-hot, or class
/// probabilities): each row's target class is the position of its largest
/// value, which must be unique; a row without one (all equal, a tie for the
/// largest, NaN) is [`TrainError::InvalidArgument`] naming the row.
///
/// ```
/// use gradc::train::accuracy_one_hot;
///
/// let logits = [[2.0f64, 1.0], [0.0, 0.5], [3.0, 1.0]];
/// let targets = [[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]];
/// assert_eq!(accuracy_one_hot(logits.as_flattened(), 2, targets.as_flattened()).unwrap(), 1.0 / 3.0);
/// ```
pub fn accuracy_one_hot<T: Element>(
    logits: &[T],
    n_classes: usize,
    targets: &[T],
) -> Result<f64, TrainError> {
    let rows = logit_rows("accuracy_one_hot", logits, n_classes)?;
    if targets.len() != logits.len() {
        return Err(invalid(
            "accuracy_one_hot",
            format!(
                "targets of {} values for {} logits (they must have one shape)",
                targets.len(),
                logits.len()
            ),
        ));
    }
    let pairs = logits
        .chunks_exact(n_classes)
        .zip(targets.chunks_exact(n_classes));
    let mut correct = 0usize;
    for (r, (row, target)) in pairs.enumerate() {
        let class = argmax(target)
            .filter(|&c| target.iter().filter(|&&v| v == target[c]).count() == 1)
            .ok_or_else(|| {
                invalid(
                    "accuracy_one_hot",
                    format!("target row {r} has no single largest value to name its class"),
                )
            })?;
        if argmax(row) == Some(class) {
            correct += 1;
        }
    }
    Ok(correct as f64 / rows as f64)
}

/// Fills an inverted-dropout mask: each element independently `0` with
/// probability `p`, else `1/(1−p)`, so `h * mask` keeps the expected value of
/// `h`. Pass the mask to the network as an `#[input]` of `h`'s shape and
/// multiply (see the README's training section); for evaluation fill it with
/// ones (or call this with `p = 0`).
///
/// The draws come from `rng`, one per element in order, so a seeded [`Rng`]
/// gives the same sequence of masks on every machine. `p` must lie in `[0, 1)`:
/// `p = 1` would drop everything and divide by zero, so it is
/// [`TrainError::InvalidArgument`] (as is NaN), and the mask is unchanged.
///
/// ```
/// use gradc::train::{dropout_mask, Rng};
///
/// let mut mask = [[0.0f32; 8]; 4];
/// dropout_mask(mask.as_flattened_mut(), 0.5, &mut Rng::new(3)).unwrap();
/// assert!(mask.as_flattened().iter().all(|&m| m == 0.0 || m == 2.0));
/// assert!(dropout_mask(mask.as_flattened_mut(), 1.0, &mut Rng::new(3)).is_err());
/// ```
pub fn dropout_mask<T: Element>(mask: &mut [T], p: f64, rng: &mut Rng) -> Result<(), TrainError> {
    if !(0.0..1.0).contains(&p) {
        return Err(invalid(
            "dropout_mask",
            format!("the drop probability p must be in [0, 1), found {p}"),
        ));
    }
    let keep = T::from_f64(1.0 / (1.0 - p));
    for m in mask {
        *m = if rng.next_f64() < p { T::ZERO } else { keep };
    }
    Ok(())
}
