//! Writes `tests/networks.rs`, `tests/networks_batch.rs`,
//! `tests/networks_class.rs`, `tests/networks_ops.rs`, `tests/networks_axis.rs`
//! and `tests/networks_loops.rs` from their seeds:
//! `cargo run -p gradc-corpus --bin regenerate-corpus`.

#![forbid(unsafe_code)]

use gradc_corpus::generate::{
    corpus_axis_source, corpus_batch_source, corpus_class_source, corpus_ops_source, corpus_source,
    COUNT, COUNT_AXIS, COUNT_BATCH, COUNT_CLASS, COUNT_OPS, SEED, SEED_AXIS, SEED_BATCH,
    SEED_CLASS, SEED_OPS,
};
use gradc_corpus::loops::{corpus_loops_source, COUNT_LOOPS, SEED_LOOPS};

fn write(file: &str, src: Result<String, String>, what: &str) {
    let path = format!("{}/tests/{file}", env!("CARGO_MANIFEST_DIR"));
    match src {
        Ok(src) => {
            if let Err(e) = std::fs::write(&path, src) {
                eprintln!("cannot write {path}: {e}");
                std::process::exit(1);
            }
            // Best effort: the committed file is formatted like the rest of
            // the tree; `tests/fresh.rs` compares tokens, so layout never matters.
            let _ = std::process::Command::new("rustfmt")
                .args(["--edition", "2021", &path])
                .status();
            println!("wrote {what} to {path}");
        }
        Err(e) => {
            eprintln!("generator failed: {e}");
            std::process::exit(1);
        }
    }
}

fn main() {
    write(
        "networks.rs",
        corpus_source(SEED, COUNT),
        &format!("{COUNT} networks from seed {SEED:#x}"),
    );
    write(
        "networks_batch.rs",
        corpus_batch_source(SEED_BATCH, COUNT_BATCH),
        &format!("{COUNT_BATCH} batch-generic networks from seed {SEED_BATCH:#x}"),
    );
    write(
        "networks_class.rs",
        corpus_class_source(SEED_CLASS, COUNT_CLASS),
        &format!("{COUNT_CLASS} class-index networks from seed {SEED_CLASS:#x}"),
    );
    write(
        "networks_ops.rs",
        corpus_ops_source(SEED_OPS, COUNT_OPS),
        &format!("{COUNT_OPS} networks with the issue #13 ops from seed {SEED_OPS:#x}"),
    );
    write(
        "networks_loops.rs",
        corpus_loops_source(SEED_LOOPS, COUNT_LOOPS),
        &format!("{COUNT_LOOPS} loop networks from seed {SEED_LOOPS:#x}"),
    );
    write(
        "networks_axis.rs",
        corpus_axis_source(SEED_AXIS, COUNT_AXIS),
        &format!("{COUNT_AXIS} networks with the axis reductions, layer_norm and concat from seed {SEED_AXIS:#x}"),
    );
}
