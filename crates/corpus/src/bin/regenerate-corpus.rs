//! Writes `tests/networks.rs` from the seed: `cargo run -p gradc-corpus --bin regenerate-corpus`.

use gradc_corpus::generate::{corpus_source, COUNT, SEED};

fn main() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/networks.rs");
    match corpus_source(SEED, COUNT) {
        Ok(src) => {
            if let Err(e) = std::fs::write(path, src) {
                eprintln!("cannot write {path}: {e}");
                std::process::exit(1);
            }
            // Best effort: the committed file is formatted like the rest of
            // the tree; `tests/fresh.rs` compares tokens, so layout never matters.
            let _ = std::process::Command::new("rustfmt")
                .args(["--edition", "2021", path])
                .status();
            println!("wrote {COUNT} networks from seed {SEED:#x} to {path}");
        }
        Err(e) => {
            eprintln!("generator failed: {e}");
            std::process::exit(1);
        }
    }
}
