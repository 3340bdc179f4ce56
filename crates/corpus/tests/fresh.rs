//! The committed corpora (`networks.rs`, `networks_batch.rs`, `networks_class.rs`,
//! `networks_ops.rs`, `networks_axis.rs`, `networks_loops.rs`) are what the generator makes from the seed, so
//! `regenerate-corpus` reproduces it and a generator change cannot go unnoticed.
//! Compared as tokens: `cargo fmt` may re-layout the committed file.

use gradc_corpus::generate::{
    corpus_axis_source, corpus_batch_source, corpus_class_source, corpus_ops_source, corpus_source,
    COUNT, COUNT_AXIS, COUNT_BATCH, COUNT_CLASS, COUNT_OPS, SEED, SEED_AXIS, SEED_BATCH,
    SEED_CLASS, SEED_OPS,
};
use gradc_corpus::loops::{corpus_loops_source, COUNT_LOOPS, SEED_LOOPS};

use proc_macro2::{Group, TokenStream, TokenTree};

/// The tokens without trailing commas, which rustfmt adds or drops with the layout.
fn normalize(ts: TokenStream) -> TokenStream {
    let mut out: Vec<TokenTree> = ts
        .into_iter()
        .map(|t| match t {
            TokenTree::Group(g) => {
                TokenTree::Group(Group::new(g.delimiter(), normalize(g.stream())))
            }
            t => t,
        })
        .collect();
    if matches!(out.last(), Some(TokenTree::Punct(p)) if p.as_char() == ',') {
        out.pop();
    }
    out.into_iter().collect()
}

fn tokens(src: &str) -> String {
    normalize(src.parse().expect("the corpus lexes")).to_string()
}

#[test]
fn committed_corpus_matches_the_generator() {
    let expected = corpus_source(SEED, COUNT).expect("the generator makes valid networks");
    let committed = include_str!("networks.rs");
    assert!(
        tokens(committed) == tokens(&expected),
        "tests/networks.rs is stale: run `cargo run -p gradc-corpus --bin regenerate-corpus`"
    );
    const { assert!(COUNT >= 100) };
}

#[test]
fn committed_batch_corpus_matches_the_generator() {
    let expected = corpus_batch_source(SEED_BATCH, COUNT_BATCH)
        .expect("the generator makes valid batch-generic networks");
    let committed = include_str!("networks_batch.rs");
    assert!(
        tokens(committed) == tokens(&expected),
        "tests/networks_batch.rs is stale: run `cargo run -p gradc-corpus --bin regenerate-corpus`"
    );
    const { assert!(COUNT_BATCH >= 20) };
}

#[test]
fn committed_class_corpus_matches_the_generator() {
    let expected = corpus_class_source(SEED_CLASS, COUNT_CLASS)
        .expect("the generator makes valid class-index networks");
    let committed = include_str!("networks_class.rs");
    assert!(
        tokens(committed) == tokens(&expected),
        "tests/networks_class.rs is stale: run `cargo run -p gradc-corpus --bin regenerate-corpus`"
    );
    const { assert!(COUNT_CLASS >= 10) };
    // Every network's loss is against class-index labels.
    let losses = committed
        .lines()
        .filter(|l| l.trim_start().starts_with("cross_entropy(") && l.contains(", lab)"))
        .count();
    assert_eq!(losses, COUNT_CLASS + COUNT_CLASS.div_ceil(2));
}

#[test]
fn committed_ops_corpus_matches_the_generator() {
    let expected = corpus_ops_source(SEED_OPS, COUNT_OPS)
        .expect("the generator makes valid networks with the new ops");
    let committed = include_str!("networks_ops.rs");
    assert!(
        tokens(committed) == tokens(&expected),
        "tests/networks_ops.rs is stale: run `cargo run -p gradc-corpus --bin regenerate-corpus`"
    );
    // Every op of the ops vocabulary appears somewhere.
    for op in [
        "abs",
        "leaky_relu",
        "elu",
        "gelu",
        "gelu_tanh",
        "silu",
        "clamp",
        "hardtanh",
        "square",
        "ln_1p",
        "min",
    ] {
        assert!(
            committed.contains(&format!("{op}(")),
            "the ops corpus never draws `{op}`"
        );
    }
}

#[test]
fn committed_loop_corpus_matches_the_generator() {
    let expected = corpus_loops_source(SEED_LOOPS, COUNT_LOOPS)
        .expect("the generator makes valid loop networks");
    let committed = include_str!("networks_loops.rs");
    assert!(
        tokens(committed) == tokens(&expected),
        "tests/networks_loops.rs is stale: run `cargo run -p gradc-corpus --bin regenerate-corpus`"
    );
    const { assert!(COUNT_LOOPS >= 24) };
    // What the corpus is for: loops (nested too), closures, outputs, twins.
    let count = |s: &str| committed.matches(s).count();
    assert!(count("for ") >= COUNT_LOOPS, "every network loops");
    assert!(count("        for ") >= 4, "some loops are nested");
    assert!(count("let mut h") >= 2 * COUNT_LOOPS / 2);
    assert!(count("= |") >= COUNT_LOOPS / 2, "closures");
    assert!(count("#[output]") >= COUNT_LOOPS / 2, "outputs");
    assert!(
        count("check_unrolled!") >= COUNT_LOOPS / 3,
        "unrolled twins"
    );
}

#[test]
fn committed_axis_corpus_matches_the_generator() {
    let expected = corpus_axis_source(SEED_AXIS, COUNT_AXIS)
        .expect("the generator makes valid networks with the axis ops");
    let committed = include_str!("networks_axis.rs");
    assert!(
        tokens(committed) == tokens(&expected),
        "tests/networks_axis.rs is stale: run `cargo run -p gradc-corpus --bin regenerate-corpus`"
    );
    // Every function of the axis vocabulary appears somewhere.
    for f in [
        "sum_axis",
        "mean_axis",
        "max_axis",
        "logsumexp_axis",
        "layer_norm",
        "concat",
    ] {
        assert!(
            committed.contains(&format!("{f}(")),
            "the axis corpus never draws `{f}`"
        );
    }
}
