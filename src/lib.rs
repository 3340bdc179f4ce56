//! gradc compiles a feed-forward neural network, written as a plain Rust function
//! marked [`#[network]`](network), into straight-line Rust that computes the loss
//! and every parameter gradient in one fused pass. The same definition also runs
//! on a tape interpreter, and the generated code can be read.
//!
//! ```
//! use gradc::network;
//!
//! /// A line `x·w + b` against targets `y`.
//! #[network]
//! fn line(#[input] x: [f64; 4], #[input] y: [f64; 4], w: f64, b: f64) -> f64 {
//!     mse(x * w + b, y)
//! }
//!
//! let inputs = line::Inputs { x: [0.0, 1.0, 2.0, 3.0], y: [-1.0, 2.0, 5.0, 8.0] };
//! let mut params = line::Params { w: 0.0, b: 0.0 };
//! let mut grads = line::Grads::zeros();
//! for _ in 0..2000 {
//!     line::forward_backward(&params, &inputs, &mut grads);
//!     params.w -= 0.05 * grads.w;
//!     params.b -= 0.05 * grads.b;
//! }
//! assert!((params.w - 3.0).abs() < 1e-6 && (params.b + 1.0).abs() < 1e-6);
//! println!("{}", line::GRADIENT_CODE); // the fused pass, formatted
//! ```
//!
//! # Where to read on
//!
//! - [`network`]: the whole contract of the attribute: arguments, body language,
//!   the generated module, batch sizes, predictions, options; [`layers`] for layer
//!   functions shared by several networks.
//! - [`Network`] and [`Tensors`]: every generated module as a type, so training
//!   code is written once for all networks.
//! - [`train`]: optimizers (SGD, momentum, Adam, AdamW), schedules, gradient
//!   clipping, dropout masks, seeded initialisation, mini-batches, accuracy.
//! - [`data`] (feature `data`): the vendored handwritten-digits set and a CSV loader.
//! - [`checkpoint`] (feature `safetensors`): parameters saved and loaded in
//!   safetensors format, readable by PyTorch.
//! - [`Graph`], [`Report`] and [`interp`]: the graphs the compiler works on, what
//!   its optimizer did, and the tape interpreter.
//!
//! Both features are on by default; `default-features = false` leaves out their
//! dependencies. The repository's README covers the `gradc` command (every stage
//! of a network's compilation, printed), performance and how it works.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

/// The run-time tape interpreter over a [`Graph`].
pub use gradc_ir::interp;
pub use gradc_ir::{DType, Extent, Graph, NodeId, Op, Report, Shape, NOMINAL_BATCH};
pub use gradc_macros::{layers, network};
/// Two-thread GEMM for large matmuls, off by default (or `GRADC_THREADS=2`).
pub use gradc_runtime::{set_threads, threads};
pub use net::{Element, Float, LengthMismatch, Network, Tensors};

#[cfg(feature = "safetensors")]
pub mod checkpoint;
#[cfg(feature = "data")]
pub mod data;
mod net;
pub mod train;

/// The README's Rust examples, run as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// Items generated code names. Not a public API: it may change in any release.
#[doc(hidden)]
pub mod __private {
    pub use gradc_ir::interp::Interpreter;
    pub use gradc_ir::{elu, gelu, gelu_tanh, normal_cdf, sigmoid, silu, softplus, Float};
    /// Run-time kernels (GEMM with ISA dispatch) that generated code calls.
    pub use gradc_runtime as rt;

    /// Views a scalar or a (nested) array of floats as one flat row-major slice.
    pub trait Flat<T> {
        fn flat(&self) -> &[T];
        fn flat_mut(&mut self) -> &mut [T];
    }

    macro_rules! impl_flat {
        ($t:ty) => {
            impl Flat<$t> for $t {
                fn flat(&self) -> &[$t] {
                    ::core::slice::from_ref(self)
                }
                fn flat_mut(&mut self) -> &mut [$t] {
                    ::core::slice::from_mut(self)
                }
            }
            impl<const A: usize> Flat<$t> for [$t; A] {
                fn flat(&self) -> &[$t] {
                    self
                }
                fn flat_mut(&mut self) -> &mut [$t] {
                    self
                }
            }
            impl<const A: usize, const B: usize> Flat<$t> for [[$t; A]; B] {
                fn flat(&self) -> &[$t] {
                    self.as_flattened()
                }
                fn flat_mut(&mut self) -> &mut [$t] {
                    self.as_flattened_mut()
                }
            }
            impl<const A: usize, const B: usize, const C: usize> Flat<$t> for [[[$t; A]; B]; C] {
                fn flat(&self) -> &[$t] {
                    self.as_flattened().as_flattened()
                }
                fn flat_mut(&mut self) -> &mut [$t] {
                    self.as_flattened_mut().as_flattened_mut()
                }
            }
            impl<const A: usize, const B: usize, const C: usize, const D: usize> Flat<$t>
                for [[[[$t; A]; B]; C]; D]
            {
                fn flat(&self) -> &[$t] {
                    self.as_flattened().as_flattened().as_flattened()
                }
                fn flat_mut(&mut self) -> &mut [$t] {
                    self.as_flattened_mut()
                        .as_flattened_mut()
                        .as_flattened_mut()
                }
            }
        };
    }

    impl_flat!(f32);
    impl_flat!(f64);
}
