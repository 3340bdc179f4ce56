#![forbid(unsafe_code)]
#![doc = include_str!("../README.md")]

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
