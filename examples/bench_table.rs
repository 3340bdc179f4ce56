//! Prints the benchmark tables: compiled vs interpreted vs hand-written steps of
//! the four benchmark networks (issue 4), then the wide networks N5/N6 at one
//! and two threads, N3 against constant-size loops and the deep N7 networks
//! against hand-written steps, with GFLOP/s and the measured FMA peak (issue 14).
//!
//! Run: `cargo run --release --example bench_table` (add
//! `RUSTFLAGS="-C target-cpu=native"` to compare with a native build).
//! `-- --small`: the N1-N4 table and N3 against constant loops only (about 30 s).

#[path = "../benches/common/mod.rs"]
mod common;

use std::time::Duration;

fn main() {
    let budget = Duration::from_millis(1000);
    common::check_hand();
    if std::env::args().any(|a| a == "--small") {
        common::print_steps(budget);
        let peak = common::fma_peak();
        println!();
        println!("Measured single-core f32 FMA peak: {peak:.1} GFLOP/s");
        println!();
        println!("| net | compiled | hand-written | compiled/hand | compiled GFLOP/s (% of peak) | hand GFLOP/s | |");
        println!("|---|---|---|---|---|---|---|");
        let d3 = common::print_n3_loops(budget, peak);
        println!("hand-written (constant loops) vs compiled, max relative difference: N3 {d3:.1e}");
        return;
    }
    common::print_table(budget);
    common::print_wide(budget);
}
