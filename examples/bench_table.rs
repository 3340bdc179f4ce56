//! Prints the benchmark tables: compiled vs interpreted vs hand-written steps of
//! the four benchmark networks (issue 4), then the wide networks N5/N6 at one
//! and two threads, N3 against constant-size loops and the deep N7 networks
//! against hand-written steps, with GFLOP/s and the measured FMA peak (issue 14).
//!
//! Run: `cargo run --release --example bench_table` (add
//! `RUSTFLAGS="-C target-cpu=native"` to compare with a native build).

#[path = "../benches/common/mod.rs"]
mod common;

fn main() {
    common::check_hand();
    common::print_table(std::time::Duration::from_millis(1000));
    common::print_wide(std::time::Duration::from_millis(1000));
}
