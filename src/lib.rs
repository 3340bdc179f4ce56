//! gradc compiles a feed-forward network written as a plain Rust function into
//! straight-line Rust that computes the loss and every parameter gradient in one
//! fused pass.
//!
//! ```
//! use gradc::network;
//!
//! #[network]
//! pub fn xor(
//!     #[input] x: [[f32; 2]; 4], // data: no gradient
//!     #[input] y: [f32; 4],
//!     w1: [[f32; 2]; 2],         // parameters: get gradients
//!     c: [f32; 2],
//!     w2: [f32; 2],
//!     b: f32,
//! ) -> f32 {
//!     let h = relu(x.matmul(w1) + c);
//!     let yhat = h.matmul(w2) + b;
//!     mse(yhat, y)
//! }
//!
//! let params = xor::Params { w1: [[1.0, 1.0], [1.0, 1.0]], c: [0.0, -1.0], w2: [1.0, -2.0], b: 0.0 };
//! let inputs = xor::Inputs { x: [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], y: [0.0, 1.0, 1.0, 0.0] };
//! let mut grads = xor::Grads::zeros();
//! let loss = xor::forward_backward(&params, &inputs, &mut grads);
//! assert_eq!(loss, 0.0);
//! assert_eq!(grads.w2, [0.0, 0.0]);
//! println!("{}", xor::GRADIENT_CODE);
//! ```
//!
//! For `fn NAME` the attribute emits a module `NAME` next to the function with
//! `Params`, `Inputs`, `Grads`, `forward`, `forward_backward`,
//! `interpreted_forward_backward`, `graph()`, `GRADIENT_CODE` and `report()`; the
//! function itself stays callable and runs the compiled forward pass. The body
//! language and its semantics are described in the README.

/// The run-time tape interpreter over a [`Graph`].
pub use gradc_ir::interp;
pub use gradc_ir::{DType, Graph, NodeId, Op, Report, Shape};
pub use gradc_macros::network;

/// Items generated code names. Not a public API: it may change in any release.
#[doc(hidden)]
pub mod __private {
    pub use gradc_ir::interp::Interpreter;
    pub use gradc_ir::{sigmoid, softplus, Float};

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
