//! Test support for the gradc workspace: a dev-dependency only, never published,
//! so nothing here ships in a library crate.
//!
//! - `cases` (feature `cases`): hand-built graphs with data, one per op and a
//!   few small networks, shared by the tests of every stage.
//! - `check` (feature `nets`): compiled vs interpreted vs finite-difference
//!   gradients of any `f64` network, through the `gradc::Network` trait.
//! - [`CountingAlloc`]: a global allocator that counts allocations, for tests
//!   and benchmarks that prove a call allocates nothing.
//! - `nets` (feature `nets`): the networks that tests, benchmarks, examples
//!   and the CLI tests share (N1-N4, XOR, the slides' networks), each written
//!   once as a `#[network]` fn. The CLI tests run `gradc` on these very source
//!   files (`nets::SLIDES_PATH` and its siblings).

#[cfg(feature = "cases")]
pub mod cases;
#[cfg(feature = "nets")]
pub mod check;
mod counting;
#[cfg(feature = "nets")]
pub mod nets;

pub use counting::CountingAlloc;
