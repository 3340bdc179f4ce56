//! The traits every `#[network]` module implements, so training code is written once.

use std::fmt::Debug;

pub use gradc_ir::Float;
use gradc_ir::{DType, Graph, Report, Shape};

/// An element type gradc computes in (`f32` or `f64`), with what checkpoints need.
pub trait Element: Float + Default + std::fmt::Display {
    /// The matching graph dtype.
    const DTYPE: DType;
    /// Bytes per element.
    const SIZE: usize;
    /// Appends the little-endian bytes of `self`.
    fn write_le(self, out: &mut Vec<u8>);
    /// Reads one element from exactly [`Self::SIZE`] little-endian bytes; `None` for
    /// a slice of another length.
    fn read_le(bytes: &[u8]) -> Option<Self>;
}

macro_rules! impl_element {
    ($t:ty, $dtype:expr) => {
        impl Element for $t {
            const DTYPE: DType = $dtype;
            const SIZE: usize = std::mem::size_of::<$t>();
            fn write_le(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            fn read_le(bytes: &[u8]) -> Option<Self> {
                Some(<$t>::from_le_bytes(bytes.try_into().ok()?))
            }
        }
    };
}

impl_element!(f32, DType::F32);
impl_element!(f64, DType::F64);

/// A struct of named tensors: a network's `Params`, `Grads` or `Inputs`.
///
/// **Order**: the tensors come in the order of the function's arguments (`Params`
/// and `Grads`: the parameters in declaration order; `Inputs`: the `#[input]`
/// arguments), and each tensor is one flat row-major slice (the last index varies
/// fastest, as in NumPy and PyTorch). [`Tensors::SHAPES`], [`Tensors::tensors`]
/// and [`Tensors::tensors_mut`] all use this order.
pub trait Tensors: Clone + Debug + Sized {
    /// The element type of every tensor.
    type Elem: Element;
    /// Each tensor's name and dimensions (`&[]` for a scalar), in order.
    const SHAPES: &'static [(&'static str, &'static [usize])];

    /// Every element zero, made on the heap without passing through the stack, so
    /// a network of any size fits (debug builds too).
    fn zeros_boxed() -> Box<Self>;
    /// Each tensor as a flat row-major slice, in order.
    fn tensors(&self) -> Vec<&[Self::Elem]>;
    /// Each tensor as a flat row-major mutable slice, in order.
    fn tensors_mut(&mut self) -> Vec<&mut [Self::Elem]>;

    /// Each tensor's name and [`Shape`], in order.
    fn shapes() -> Vec<(&'static str, Shape)> {
        Self::SHAPES
            .iter()
            .map(|(name, dims)| (*name, Shape::new(dims.to_vec())))
            .collect()
    }

    /// The total number of elements over all tensors.
    fn numel() -> usize {
        Self::SHAPES
            .iter()
            .map(|(_, dims)| dims.iter().product::<usize>())
            .sum()
    }

    /// All tensors concatenated in order into one vector.
    fn to_flat_vec(&self) -> Vec<Self::Elem> {
        self.tensors().concat()
    }

    /// Overwrites every tensor from one flat vector in the order of
    /// [`Tensors::to_flat_vec`]. Fails, changing nothing, if the length differs.
    fn copy_from_flat(&mut self, flat: &[Self::Elem]) -> Result<(), LengthMismatch> {
        if flat.len() != Self::numel() {
            return Err(LengthMismatch {
                expected: Self::numel(),
                found: flat.len(),
            });
        }
        let mut rest = flat;
        for t in self.tensors_mut() {
            let (head, tail) = rest.split_at(t.len());
            t.copy_from_slice(head);
            rest = tail;
        }
        Ok(())
    }
}

/// A flat vector of the wrong length for [`Tensors::copy_from_flat`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LengthMismatch {
    /// The number of elements the tensors hold.
    pub expected: usize,
    /// The length given.
    pub found: usize,
}

impl std::fmt::Display for LengthMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "expected {} elements, found {}",
            self.expected, self.found
        )
    }
}

impl std::error::Error for LengthMismatch {}

/// A network compiled by `#[network]`, as a type: the marker `NAME::Net`.
///
/// Every network with at least one parameter gets one, so optimizers, initialisers,
/// checkpoints and benchmarks can be written once for all networks:
///
/// ```
/// use gradc::{network, Float, Network, Tensors};
///
/// #[network]
/// fn line(#[input] x: [f64; 3], #[input] y: [f64; 3], w: f64, b: f64) -> f64 {
///     mse(x * w + b, y)
/// }
///
/// fn loss_and_grad_norm<N: Network>(p: &N::Params, i: &N::Inputs) -> (f64, f64) {
///     let mut g = N::Grads::zeros_boxed();
///     let loss = N::forward_backward(p, i, &mut g);
///     let norm = g.to_flat_vec().iter().map(|v| v.to_f64().powi(2)).sum::<f64>().sqrt();
///     (loss.to_f64(), norm)
/// }
///
/// let p = line::Params { w: 2.0, b: 1.0 };
/// let i = line::Inputs { x: [0.0, 1.0, 2.0], y: [1.0, 3.0, 5.0] };
/// assert_eq!(loss_and_grad_norm::<line::Net>(&p, &i), (0.0, 0.0));
/// assert_eq!(line::Net::PARAMS, &[("w", &[][..]), ("b", &[][..])]);
/// ```
///
/// A network with a batch size chosen by the caller (`fn net<const B: usize>`)
/// has one marker per batch size, `NAME::Net<B>`: they share `Params` and
/// `Grads`, and `graph()` is the graph instantiated at `B`.
///
/// ```
/// use gradc::{network, Network, Tensors};
///
/// #[network]
/// fn line<const B: usize>(#[input] x: [f64; B], #[input] y: [f64; B], w: f64, b: f64) -> f64 {
///     mse(x * w + b, y)
/// }
///
/// assert_eq!(<line::Net<3> as Network>::INPUTS, &[("x", &[3][..]), ("y", &[3][..])]);
/// let p = line::Params { w: 2.0, b: 1.0 };
/// let mut g = line::Grads::zeros();
/// let i = line::Inputs::<2> { x: [0.0, 1.0], y: [1.0, 4.0] };
/// assert_eq!(<line::Net<2> as Network>::forward_backward(&p, &i, &mut g), 0.5);
/// assert_eq!(<line::Net<2> as Network>::graph().to_string().contains("x [2]"), true);
/// ```
pub trait Network {
    /// The element type (`f32` or `f64`).
    type Elem: Element;
    /// `NAME::Params`: the trainable parameters.
    type Params: Tensors<Elem = Self::Elem>;
    /// `NAME::Inputs`: the `#[input]` data.
    type Inputs: Tensors<Elem = Self::Elem>;
    /// `NAME::Grads`: one gradient per parameter, the shapes of `Params`.
    type Grads: Tensors<Elem = Self::Elem>;
    /// `NAME::Workspace`: scratch of [`Network::forward_backward_with`] (empty
    /// for small networks, whose buffers live on the stack).
    type Workspace: Default;

    /// The function's name.
    const NAME: &'static str;
    /// Parameter names and dimensions in declaration order (= `Params::SHAPES`).
    const PARAMS: &'static [(&'static str, &'static [usize])] = <Self::Params as Tensors>::SHAPES;
    /// `#[input]` names and dimensions in declaration order (= `Inputs::SHAPES`).
    const INPUTS: &'static [(&'static str, &'static [usize])] = <Self::Inputs as Tensors>::SHAPES;

    /// The `#[input]`s the body's `#[output]` values read (empty without outputs).
    type Features: Tensors<Elem = Self::Elem>;
    /// The values the body marks `#[output]`, one field each (empty without outputs).
    type Outputs: Tensors<Elem = Self::Elem>;

    /// The `#[output]` values for `features`, compiled: `NAME::predict`.
    fn predict(params: &Self::Params, features: &Self::Features) -> Self::Outputs;

    /// The same values through the tape interpreter: `NAME::interpreted_predict`.
    fn interpreted_predict(params: &Self::Params, features: &Self::Features) -> Self::Outputs;

    /// The compiled fused pass, `NAME::forward_backward`: returns the loss and
    /// overwrites `grads`.
    fn forward_backward(
        params: &Self::Params,
        inputs: &Self::Inputs,
        grads: &mut Self::Grads,
    ) -> Self::Elem;

    /// [`Network::forward_backward`] with caller-owned scratch: never allocates.
    /// (`forward_backward` keeps a workspace per thread for networks that need
    /// one, allocated on the thread's first call.)
    ///
    /// ```
    /// use gradc::{network, Network, Tensors};
    ///
    /// #[network]
    /// fn line(#[input] x: [f32; 3], #[input] y: [f32; 3], w: f32, b: f32) -> f32 {
    ///     mse(x * w + b, y)
    /// }
    ///
    /// fn train<N: Network>(p: &N::Params, batches: &[N::Inputs]) -> Vec<N::Elem> {
    ///     let mut g = N::Grads::zeros_boxed();
    ///     let mut ws = N::Workspace::default(); // allocated once, reused
    ///     batches.iter().map(|i| N::forward_backward_with(p, i, &mut g, &mut ws)).collect()
    /// }
    ///
    /// let p = line::Params { w: 2.0, b: 1.0 };
    /// let i = line::Inputs { x: [0.0, 1.0, 2.0], y: [1.0, 3.0, 6.0] };
    /// let losses = train::<line::Net>(&p, &[i.clone(), i]);
    /// assert_eq!(losses, vec![1.0 / 3.0; 2]);
    /// ```
    fn forward_backward_with(
        params: &Self::Params,
        inputs: &Self::Inputs,
        grads: &mut Self::Grads,
        ws: &mut Self::Workspace,
    ) -> Self::Elem;

    /// The same loss and gradients through the tape interpreter.
    fn interpreted_forward_backward(
        params: &Self::Params,
        inputs: &Self::Inputs,
        grads: &mut Self::Grads,
    ) -> Self::Elem;

    /// The forward graph.
    fn graph() -> Graph;

    /// What the optimizer did to the joint graph.
    fn report() -> Report;

    /// Parameter names and [`Shape`]s in declaration order.
    fn param_shapes() -> Vec<(&'static str, Shape)> {
        <Self::Params as Tensors>::shapes()
    }
}
