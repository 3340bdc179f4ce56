//! Times the `#[network]` expansion of every network in the test suites, the
//! corpus, the fuzzers' seeds and the hostile set, and prints the slowest with
//! their e-graph sizes:
//! `cargo run -p gradc-corpus --bin expansion-budget [-- [--fast-math] [--dump DIR] FILE..]`.
//! With `--fast-math`, every network written without attribute arguments is
//! expanded as `#[network(fast_math)]`. With `--dump DIR`, each expansion
//! (the generated module: its `GRADIENT_CODE`, the optimized graph's
//! `GRAPH_TEXT`, every item) is written to `DIR/NNNN-NAME.rs`, numbered in the
//! order found, so two builds' dumps can be compared byte for byte
//! (`diff -r`) after an optimizer or codegen change.
//!
//! A network is every `fn` with a `#[network]` attribute in a file (in
//! modules and function bodies too), and every string literal that parses as
//! a `fn` (the fuzzers' seeds). Without arguments it reads the workspace's
//! test, example and fixture files. Times are wall time of
//! `gradc_driver::expand` in this build (a dev build unless `--release`),
//! printed, never compared with a limit: they depend on the machine. A second,
//! staged run shows where the time goes (frontend, autodiff, optimizer, and
//! the rest: verifier, codegen, the module).

#![forbid(unsafe_code)]

use proc_macro2::TokenStream;
use quote::ToTokens;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use syn::visit::Visit;

/// The default files: every `.rs` under these directories of the workspace.
const DIRS: &[&str] = &[
    "tests",
    "tests/ui",
    "examples",
    "crates/corpus/tests",
    "crates/testkit/src/nets",
    "crates/frontend/tests",
    "crates/codegen/tests",
];

struct Found {
    attr: TokenStream,
    item: TokenStream,
    name: String,
}

#[derive(Default)]
struct Finder {
    found: Vec<Found>,
}

impl<'a> Visit<'a> for Finder {
    fn visit_item_fn(&mut self, f: &'a syn::ItemFn) {
        let network = f.attrs.iter().position(|a| {
            a.path()
                .segments
                .last()
                .is_some_and(|s| s.ident == "network")
        });
        if let Some(i) = network {
            let mut item = f.clone();
            let a = item.attrs.remove(i);
            let attr = match a.meta {
                syn::Meta::List(l) => l.tokens,
                syn::Meta::Path(_) | syn::Meta::NameValue(_) => TokenStream::new(),
            };
            self.found.push(Found {
                attr,
                item: item.into_token_stream(),
                name: f.sig.ident.to_string(),
            });
        }
        syn::visit::visit_item_fn(self, f);
    }

    fn visit_lit_str(&mut self, s: &'a syn::LitStr) {
        let v = s.value();
        if v.trim_start().starts_with("fn ") {
            if let Ok(f) = syn::parse_str::<syn::ItemFn>(&v) {
                self.found.push(Found {
                    attr: TokenStream::new(),
                    item: f.to_token_stream(),
                    name: format!("seed {}", f.sig.ident),
                });
            }
        }
    }
}

fn files(args: Vec<String>) -> Vec<PathBuf> {
    if !args.is_empty() {
        return args.into_iter().map(PathBuf::from).collect();
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut out = Vec::new();
    for d in DIRS {
        let Ok(rd) = std::fs::read_dir(root.join(d)) else {
            continue;
        };
        let mut v: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "rs"))
            .collect();
        v.sort();
        out.extend(v);
    }
    out
}

fn main() {
    // Parsing the hostile set's deepest files recurses as deep as the macro.
    let run = std::thread::Builder::new()
        .stack_size(gradc_driver::stack::STACK_BYTES)
        .spawn(budget)
        .and_then(|h| h.join().map_err(|_| std::io::Error::other("panicked")));
    if let Err(e) = run {
        eprintln!("expansion-budget: {e}");
        std::process::exit(1);
    }
}

fn budget() {
    let mut rows: Vec<Row> = Vec::new();
    let mut unreadable = 0;
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let fast_math = args.iter().any(|a| a == "--fast-math");
    args.retain(|a| a != "--fast-math");
    let dump = match args.iter().position(|a| a == "--dump") {
        Some(i) if i + 1 < args.len() => {
            let dir = PathBuf::from(args.remove(i + 1));
            args.remove(i);
            if let Err(e) = std::fs::create_dir_all(&dir) {
                eprintln!("expansion-budget: cannot create {}: {e}", dir.display());
                return;
            }
            Some(dir)
        }
        Some(_) => {
            eprintln!("expansion-budget: --dump needs a directory");
            return;
        }
        None => None,
    };
    let mut dumped = 0usize;
    for path in files(args) {
        let Ok(text) = std::fs::read_to_string(&path) else {
            unreadable += 1;
            continue;
        };
        let Ok(file) = syn::parse_file(&text) else {
            unreadable += 1;
            continue;
        };
        let mut finder = Finder::default();
        finder.visit_file(&file);
        let short = path
            .components()
            .rev()
            .take(2)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<PathBuf>();
        for mut f in finder.found {
            if fast_math && f.attr.is_empty() {
                f.attr = quote::quote!(fast_math);
            }
            let start = Instant::now();
            let out = gradc_driver::expand(f.attr.clone(), f.item.clone());
            let took = start.elapsed();
            if let Some(dir) = &dump {
                let name: String = format!("{} {}", short.display(), f.name)
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                    .collect();
                let file = dir.join(format!("{dumped:04}-{name}.rs"));
                dumped += 1;
                if let Err(e) = std::fs::write(&file, out.to_string()) {
                    eprintln!("expansion-budget: cannot write {}: {e}", file.display());
                }
            }
            let error = if out.to_string().contains("compile_error") {
                " (an error)"
            } else {
                ""
            };
            rows.push(Row {
                took,
                name: format!("{} {}{error}", short.display(), f.name),
                stages: stages(f.attr, f.item),
            });
        }
    }
    rows.sort_by_key(|r| std::cmp::Reverse(r.took));
    let total: Duration = rows.iter().map(|r| r.took).sum();
    println!(
        "{} networks expanded in {:.2} s ({} files unreadable); slowest first:",
        rows.len(),
        total.as_secs_f64(),
        unreadable
    );
    println!(
        "{:>10}  {:>8}  {:>8}  {:>8}  {:>8}  {:>8}  {:>8}  network",
        "time (ms)", "frontend", "autodiff", "opt", "rest", "joint", "e-nodes"
    );
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    for r in rows.iter().take(15) {
        let s = &r.stages;
        println!(
            "{:>10.1}  {:>8.1}  {:>8.1}  {:>8.1}  {:>8.1}  {:>8}  {:>8}  {}",
            ms(r.took),
            ms(s.frontend),
            ms(s.autodiff),
            ms(s.opt),
            ms(r.took.saturating_sub(s.frontend + s.autodiff + s.opt)),
            s.joint_nodes,
            s.egraph_nodes,
            r.name
        );
    }
    let over = rows
        .iter()
        .filter(|r| r.took >= Duration::from_secs(1))
        .count();
    println!("{over} of {} took 1 s or more", rows.len());
}

struct Row {
    took: Duration,
    name: String,
    stages: Stages,
}

/// Where an expansion's time goes, from a second run of the stages: the
/// frontend, autodiff and the optimizer (saturation and extraction); the
/// rest of the expansion (verifier, codegen, the module) is the difference.
#[derive(Default)]
struct Stages {
    frontend: Duration,
    autodiff: Duration,
    opt: Duration,
    joint_nodes: usize,
    egraph_nodes: usize,
}

fn stages(attr: TokenStream, item: TokenStream) -> Stages {
    let mut s = Stages::default();
    let start = Instant::now();
    let Ok(network) = gradc_frontend::parse_network(attr, item) else {
        return s;
    };
    s.frontend = start.elapsed();
    if network.args.iter().all(|a| a.is_input) {
        return s;
    }
    let start = Instant::now();
    let Ok(joint) = gradc_autodiff::differentiate(&network.graph) else {
        return s;
    };
    s.autodiff = start.elapsed();
    s.joint_nodes = joint.len();
    let start = Instant::now();
    if let Ok((_, report)) = gradc_opt::optimize(&joint, &gradc_driver::opt_config(&network)) {
        s.opt = start.elapsed();
        s.egraph_nodes = report.egraph_nodes;
    }
    s
}
