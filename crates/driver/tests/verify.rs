//! Real networks pass every verifier check on the driver path: the forward,
//! joint and optimized graphs `compile` gives for the `#[network]` functions of
//! the repository's tests, examples and fixtures. (`compile` runs the same
//! checks and would fail first; calling them again here keeps the test honest
//! should the driver stop running them.)

use std::path::Path;

/// Files whose top-level (or module-level) `#[network]` functions are checked.
const FILES: &[&str] = &[
    "examples/xor.rs",
    "examples/digits.rs",
    "tests/gradcheck.rs",
    "tests/numerics.rs",
    "tests/batch.rs",
    "tests/optimizer.rs",
    "crates/testkit/src/nets/slides.rs",
    "crates/testkit/src/nets/bench.rs",
    "crates/testkit/src/nets/batch.rs",
    "crates/testkit/src/nets/handrolled.rs",
    "crates/corpus/tests/networks_class.rs",
    "crates/corpus/tests/networks_batch.rs",
];

fn is_network(a: &syn::Attribute) -> bool {
    a.path()
        .segments
        .last()
        .is_some_and(|s| s.ident == "network")
}

/// `(attribute arguments, function without the attribute)` for each network.
fn networks(items: &[syn::Item], out: &mut Vec<(proc_macro2::TokenStream, syn::ItemFn)>) {
    for item in items {
        match item {
            syn::Item::Fn(f) => {
                if let Some(pos) = f.attrs.iter().position(is_network) {
                    let mut f = f.clone();
                    let attr = match f.attrs.remove(pos).meta {
                        syn::Meta::List(l) => l.tokens,
                        _ => proc_macro2::TokenStream::new(),
                    };
                    out.push((attr, f));
                }
            }
            syn::Item::Mod(m) => {
                if let Some((_, items)) = &m.content {
                    networks(items, out);
                }
            }
            _ => {}
        }
    }
}

#[test]
fn real_networks_pass_every_check() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let (mut checked, mut forward_only, mut batch) = (0, 0, 0);
    for file in FILES {
        let src = std::fs::read_to_string(root.join(file)).unwrap();
        let parsed = syn::parse_file(&src).unwrap();
        let mut found = Vec::new();
        networks(&parsed.items, &mut found);
        assert!(!found.is_empty(), "no networks in {file}");
        for (attr, item) in found {
            let name = format!("{file}: {}", item.sig.ident);
            let network = gradc_frontend::lower(attr, item)
                .unwrap_or_else(|e| panic!("{name}: frontend: {e}"));
            let c = gradc_driver::compile(network).unwrap_or_else(|e| panic!("{name}: {e}"));
            let forward = &c.network.graph;
            gradc_ir::verify_forward(forward).unwrap_or_else(|e| panic!("{name}:\n{e}"));
            batch += usize::from(forward.is_batch_generic());
            checked += 1;
            let (Some(joint), Some(opt)) = (&c.joint, &c.optimized) else {
                forward_only += 1;
                continue;
            };
            gradc_ir::verify_joint(forward, joint).unwrap_or_else(|e| panic!("{name}:\n{e}"));
            gradc_ir::verify_optimized(joint, opt).unwrap_or_else(|e| panic!("{name}:\n{e}"));
        }
    }
    // The kinds of network the contracts must fit are all here.
    assert!(checked >= 60, "{checked} networks");
    assert!(forward_only > 0, "no network without parameters");
    assert!(batch > 0, "no batch-generic network");
}
