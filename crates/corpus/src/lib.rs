//! The differential corpus of gradc: seeded random networks, each checked
//! compiled vs interpreted vs central finite differences in f64, and optimizer
//! on vs off.
//!
//! - [`generate`]: the seeded generator ([`generate::SEED`], [`generate::COUNT`]).
//! - [`check`]: the check run on every network ([`check_network!`]).
//! - `tests/networks.rs`: the committed corpus, one `#[network]` and one
//!   `#[test]` per network, GENERATED.
//! - `tests/networks_batch.rs`: the batch-generic corpus ([`generate::SEED_BATCH`],
//!   [`generate::COUNT_BATCH`]): `fn gen_NNN<const B: usize>` networks, each
//!   with its twin at a literal batch, checked by [`check_network_batch!`] at
//!   every size in [`check::BATCHES`], GENERATED.
//! - `tests/networks_class.rs`: the class-index corpus ([`generate::SEED_CLASS`],
//!   [`generate::COUNT_CLASS`]): losses `cross_entropy(logits, lab)` against
//!   class-index labels, half batch-generic (with twins), half literal; the
//!   check fills label inputs with class indices, some selecting no class
//!   ([`check::label_inputs`]), GENERATED.
//! - `tests/networks_ops.rs`: the ops corpus ([`generate::SEED_OPS`],
//!   [`generate::COUNT_OPS`]): literal networks that also draw `abs`,
//!   `leaky_relu`, `elu`, `gelu`, `gelu_tanh`, `silu`, `clamp`, `hardtanh`,
//!   `square`, `ln_1p` and `min`, GENERATED.
//! - `tests/fresh.rs`: fails when a committed corpus differs from what the
//!   generator makes from its seed.
//!
//! Regenerate the corpus (after changing the generator) with one command:
//!
//! ```sh
//! cargo run -p gradc-corpus --bin regenerate-corpus
//! ```
//!
//! and run it with `cargo test -p gradc-corpus`.

#![forbid(unsafe_code)]

pub mod check;
pub mod generate;
