//! The networks shared by tests, benchmarks, examples and the CLI tests, each
//! written once as a `#[network]` fn and expanded here against `::gradc`.
//!
//! - the lecture's: [`mod@xor`] (slide 14), [`mod@xor_predict`], [`mod@linear`] (slides 7-10),
//!   [`mod@slides_222`] (slides 42-52), [`mod@chain`] (slide 53);
//! - the benchmark networks: [`mod@n1`] (= [`mod@xor`]), [`mod@n2`], [`mod@n3`], [`mod@n4`], and
//!   [`mod@n1b`], [`mod@n3b`], [`mod@n4b`] for any batch size;
//! - [`mod@hand_sigmoid`] (a hand-rolled sigmoid) and [`mod@clf`] (a classifier for any
//!   batch size), for the CLI tests.
//!
//! The `*_PATH` constants name the source files from the workspace root, for
//! the `gradc` binary; the `*_SOURCE` constants hold their text.

mod batch;
mod bench;
mod handrolled;
mod slides;

pub use batch::clf;
pub use bench::{n1b, n2, n3, n3b, n4, n4b};
pub use handrolled::hand_sigmoid;
/// N1, the first benchmark network, is the lecture's XOR network.
pub use slides::xor as n1;
pub use slides::{chain, linear, slides_222, xor, xor_predict};

/// [`mod@xor`], [`mod@xor_predict`], [`mod@linear`], [`mod@slides_222`] and [`mod@chain`].
pub const SLIDES_PATH: &str = "crates/testkit/src/nets/slides.rs";
/// The text of [`SLIDES_PATH`].
pub const SLIDES_SOURCE: &str = include_str!("slides.rs");
/// [`mod@hand_sigmoid`].
pub const HANDROLLED_PATH: &str = "crates/testkit/src/nets/handrolled.rs";
/// [`mod@clf`].
pub const BATCH_PATH: &str = "crates/testkit/src/nets/batch.rs";
