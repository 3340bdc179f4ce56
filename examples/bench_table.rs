//! Prints the issue-4 table: compiled vs interpreted vs hand-written steps of the
//! four benchmark networks, with ratios.
//!
//! Run: `cargo run --release --example bench_table` (add
//! `RUSTFLAGS="-C target-cpu=native"` to compare with a native build).

#[path = "../benches/common/mod.rs"]
mod common;

fn main() {
    common::check_hand();
    common::print_table(std::time::Duration::from_millis(1000));
}
