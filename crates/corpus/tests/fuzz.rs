//! No panics: seeded fuzzing of the frontend, the whole macro expansion and the
//! graph stages. Every input must give a value or an error, never a panic.
//!
//! - `mutated_networks`: valid networks (the corpus generator's and hand-written
//!   ones) with random token edits: deletions, duplications, swaps and
//!   insertions from a vocabulary of keywords, operators, function names and
//!   extreme literals, fed to `gradc_frontend::parse_network` and
//!   `gradc_driver::expand`.
//!   Batch-generic networks (`fn net<const B: usize>`, hand-written and from
//!   the batch corpus) are among them, with edits aimed at the generics:
//!   other generic parameter lists, `B` dropped, doubled, moved into parameter
//!   types or replaced by expressions, literal lengths replaced by `B`.
//! - `random_token_streams`: token soup from the same vocabulary inside a
//!   function shell, half of them declared `<const B: usize>` (or another
//!   generic list).
//!   Class-index `cross_entropy` networks (hand-written and from the
//!   class-index corpus) are among them too.
//! - `random_graphs`: graphs of random ops and shapes built through
//!   `Graph::add` (and some through the unchecked `Graph::push`), run through
//!   autodiff, opt, codegen and the interpreter.
//! - `random_batch_graphs`: the same with inputs whose leading (sometimes
//!   trailing) dimension is the symbolic batch size `gradc_ir::BATCH`, some
//!   payload shapes and `count` leaves in `B`; the optimized and unoptimized
//!   joint graphs instantiated at several `b` give the same interpreter results.
//!
//! - `mutated_loop_networks`, `mutated_layer_modules`: networks with `for`
//!   loops over stacked weights, closures, indexing and `#[output]` values
//!   (hand-written and from the loop corpus), and `#[gradc::layers]` modules,
//!   with edits aimed at them: loop bounds swapped or made non-literal,
//!   indices out of range or unknown, `mut` dropped, closure arities changed,
//!   statements inserted (assignments to immutables, `#[output]` inside loops
//!   and on closures, loop variables misused, control flow). A stricter
//!   property here: a network the frontend rejects has every error spanned
//!   at the user's tokens, and one it accepts expands without
//!   `compile_error!` and its graph gets through every stage with the
//!   interpreter agreeing optimized vs not.
//! - `random_loop_token_streams`: token soup (and whole statements) aimed at
//!   loops, closures and outputs inside loop and closure bodies, with the
//!   same stricter property.
//!
//! CI runs a hundred to a few hundred cases each; set `GRADC_FUZZ_CASES=100000` (or
//! `PROPTEST_CASES`) for a long run. Failures print the seed and the input.

use gradc_corpus::generate::{self, Rng};
use gradc_ir::{BinaryOp, Graph, Op, RowOp, Shape, UnaryOp, BATCH};
use proc_macro2::{Delimiter, TokenStream, TokenTree};
use std::panic::{catch_unwind, AssertUnwindSafe};

fn cases(default: usize) -> usize {
    ["GRADC_FUZZ_CASES", "PROPTEST_CASES"]
        .iter()
        .find_map(|k| std::env::var(k).ok()?.parse().ok())
        .unwrap_or(default)
}

/// Runs `f`; a panic becomes an `Err` with its message.
fn no_panic<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|e| {
        e.downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "non-string panic".into())
    })
}

const VOCAB: &[&str] = &[
    "let",
    "return",
    "fn",
    "mut",
    "ref",
    "if",
    "else",
    "for",
    "in",
    "while",
    "loop",
    "match",
    "=>",
    "|",
    "&",
    "&&",
    "!",
    "%",
    "+",
    "-",
    "*",
    "/",
    "=",
    "+=",
    "==",
    "<",
    ">",
    ".",
    ",",
    ";",
    ":",
    "::",
    "?",
    "..",
    "#",
    "@",
    "_",
    "x",
    "y",
    "w",
    "v",
    "b",
    "h0",
    "h1",
    "input",
    "self",
    "Self",
    "f32",
    "f64",
    "i32",
    "usize",
    "matmul",
    "dot",
    "t",
    "transpose",
    "sum",
    "mean",
    "relu",
    "sigmoid",
    "tanh",
    "exp",
    "ln",
    "softplus",
    "softmax",
    "log_softmax",
    "powi",
    "sqrt",
    "max",
    "min",
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
    "normal_cdf",
    "sum_axis",
    "mean_axis",
    "max_axis",
    "logsumexp_axis",
    "layer_norm",
    "concat",
    "max_last",
    "max_mask",
    "slice_last",
    "mse",
    "cross_entropy",
    "binary_cross_entropy_with_logits",
    "lab",
    "labels",
    "one_hot",
    "3.5",
    "-0.0",
    "f64::NAN",
    "0",
    "1",
    "2",
    "-1",
    "0.0",
    "1e308",
    "1e-320",
    "1e400",
    "4294967296",
    "99999999999999999999",
    "18446744073709551615",
    "1_000_000_000",
    "0x10",
    "2f32",
    "2f64",
    "2u8",
    "\"s\"",
    "'c'",
    "true",
    "'a",
    "[",
    "]",
    "(",
    ")",
    "{",
    "}",
    "[f64; 3]",
    "[[f64; 2]; 2]",
    "[f64; 0]",
    "[f64; 100000000000]",
    "[[f64; 4294967296]; 4294967296]",
    "[[[f64; 2]; 2]; 2]",
    "B",
    "N",
    "T",
    "const",
    "where",
    "<const B: usize>",
    "<const N: usize>",
    "<const B: u32>",
    "<T>",
    "<'a>",
    "<const B: usize, const C: usize>",
    "[f64; B]",
    "[[f64; 2]; B]",
    "[[f64; B]; 2]",
    "[[f64; B]; B]",
    "[[f32; 3]; B]",
    "[f64; 1000003]",
];

const UNARY: &[&str] = &[
    "relu",
    "sigmoid",
    "tanh",
    "exp",
    "ln",
    "softplus",
    "softmax",
    "log_softmax",
    "sqrt",
    "sum",
    "mean",
    "t",
    "transpose",
    "abs",
    "elu",
    "gelu",
    "gelu_tanh",
    "silu",
    "hardtanh",
    "square",
    "ln_1p",
];
const BINARY: &[&str] = &[
    "+",
    "-",
    "*",
    "/",
    "matmul",
    "dot",
    "max",
    "min",
    "leaky_relu",
    "mse",
    "cross_entropy",
    "sum_axis",
    "mean_axis",
    "max_axis",
    "logsumexp_axis",
    "concat",
];
const NUMBERS: &[&str] = &[
    "0",
    "1",
    "2",
    "3",
    "0.5",
    "1.0",
    "0.0",
    "1e308",
    "1e-320",
    "1e400",
    "1e-400",
    "2147483647",
    "2147483648",
    "4294967296",
    "1e4",
    "1e3",
];

/// A token as text, with groups opened and closed, so edits can unbalance them.
fn flatten(ts: TokenStream, out: &mut Vec<String>) {
    for t in ts {
        match t {
            TokenTree::Group(g) => {
                let (open, close) = match g.delimiter() {
                    Delimiter::Parenthesis => ("(", ")"),
                    Delimiter::Brace => ("{", "}"),
                    Delimiter::Bracket => ("[", "]"),
                    Delimiter::None => ("", ""),
                };
                out.push(open.into());
                flatten(g.stream(), out);
                out.push(close.into());
            }
            TokenTree::Punct(p) => {
                // Keep multi-character operators together (`->`, `::`).
                let joint = p.spacing() == proc_macro2::Spacing::Joint;
                out.push(if joint {
                    format!("{}\u{0}", p.as_char())
                } else {
                    p.as_char().to_string()
                });
            }
            t => out.push(t.to_string()),
        }
    }
}

fn join(tokens: &[String]) -> String {
    let mut s = String::new();
    for t in tokens {
        if let Some(c) = t.strip_suffix('\u{0}') {
            s.push_str(c);
        } else {
            s.push_str(t);
            s.push(' ');
        }
    }
    s
}

/// Generic parameter lists to put where `const B: usize` was (or add one).
const GENERICS: &[&str] = &[
    "const B: usize",
    "const N: usize",
    "const B: u32",
    "const B: i64",
    "const B: usize, const C: usize",
    "const C: usize, const B: usize",
    "const B: usize, const B: usize",
    "const B: usize = 3",
    "const B: usize, T",
    "T, const B: usize",
    "T",
    "T: Copy",
    "'a",
    "'a, const B: usize",
    "const B",
    "B",
    "const B: [usize; 2]",
    "",
];

/// What a `B` becomes (or a length becomes instead of `B`).
const LENGTHS: &[&str] = &[
    "B", "B", "N", "C", "3", "1", "0", "B B", "(B)", "{ B }", "B + 1", "2 * B", "B * 2", "B - 1",
    "usize", "_", "1000003", "2000006", "B::<3>", "<B>",
];

/// An edit of the generics of a network: returns whether it applied.
fn mutate_generics(rng: &mut Rng, tokens: &mut Vec<String>) -> bool {
    let open = tokens.iter().position(|t| t == "<" || t == "<\u{0}");
    let lengths: Vec<usize> = (1..tokens.len())
        .filter(|&i| {
            tokens[i] == "B"
                || (tokens[i - 1] == ";" && tokens[i].bytes().all(|c| c.is_ascii_digit()))
        })
        .collect();
    match rng.below(4) {
        // Another generic list in place of `<..>`.
        0 => {
            let Some(open) = open else { return false };
            let Some(len) = tokens[open..].iter().position(|t| t == ">") else {
                return false;
            };
            let new = format!("<{}>", GENERICS[rng.below(GENERICS.len())]);
            tokens.splice(open..open + len + 1, [new]);
        }
        // A generic list on a network without one (after the name).
        1 => {
            if open.is_some() {
                return false;
            }
            let Some(f) = tokens.iter().position(|t| t == "fn") else {
                return false;
            };
            let new = format!("<{}>", GENERICS[rng.below(GENERICS.len())]);
            tokens.insert((f + 2).min(tokens.len()), new);
        }
        // A `B` or a literal length (inputs, parameters, annotations) replaced.
        _ => {
            if lengths.is_empty() {
                return false;
            }
            let i = lengths[rng.below(lengths.len())];
            tokens[i] = LENGTHS[rng.below(LENGTHS.len())].into();
        }
    }
    true
}

fn mutate(rng: &mut Rng, tokens: &mut Vec<String>) {
    // Mostly one edit, so a fair share still parses and reaches later stages.
    let edits = if rng.chance(0.6) { 1 } else { 2 + rng.below(3) };
    let generic = tokens.iter().any(|t| t == "B");
    for _ in 0..edits {
        if tokens.is_empty() {
            tokens.push(VOCAB[rng.below(VOCAB.len())].into());
        }
        if rng.chance(if generic { 0.4 } else { 0.05 }) && mutate_generics(rng, tokens) {
            continue;
        }
        let i = rng.below(tokens.len());
        // Like-for-like swaps keep the syntax valid and reach the later stages.
        let like = |set: &[&str], t: &str| set.contains(&t);
        let same_kind: Vec<usize> = (0..tokens.len())
            .filter(|&j| {
                like(UNARY, &tokens[j]) || like(NUMBERS, &tokens[j]) || like(BINARY, &tokens[j])
            })
            .collect();
        if !same_kind.is_empty() && rng.chance(0.5) {
            let j = same_kind[rng.below(same_kind.len())];
            for set in [UNARY, NUMBERS, BINARY] {
                if like(set, &tokens[j]) {
                    tokens[j] = set[rng.below(set.len())].into();
                    break;
                }
            }
            continue;
        }
        match rng.below(6) {
            0 => {
                let n = 1 + rng.below(3.min(tokens.len() - i));
                tokens.drain(i..i + n);
            }
            1 => {
                let t = tokens[i].clone();
                tokens.insert(i, t);
            }
            2 => {
                let j = rng.below(tokens.len());
                tokens.swap(i, j);
            }
            3 => tokens[i] = VOCAB[rng.below(VOCAB.len())].into(),
            _ => tokens.insert(i, VOCAB[rng.below(VOCAB.len())].into()),
        }
    }
}

/// Networks to mutate: hand-written ones touching every construct, plus the
/// first corpus networks.
fn seeds() -> Vec<String> {
    let mut v: Vec<String> = [
        "fn xor(#[input] x: [[f32; 2]; 4], #[input] y: [f32; 4], w1: [[f32; 2]; 2], c: [f32; 2], w2: [f32; 2], b: f32) -> f32 { let h = relu(x.matmul(w1) + c); let yhat = h.matmul(w2) + b; mse(yhat, y) }",
        "fn clf(#[input] x: [[f64; 3]; 2], #[input] t: [[f64; 2]; 2], w: [[f64; 3]; 2]) -> f64 { let z = x.matmul(w.t()); cross_entropy(z, t) + mean(log_softmax(z)) * 0.0 }",
        "fn s(w: f32) -> f32 { let x = sigmoid(w); let y = x.sigmoid(); return powi(y, -2) / sqrt(softplus(y)) + ln(exp(tanh(y))); }",
        "fn acts(#[input] x: [f64; 3], w: [f64; 3]) -> f64 { let h = leaky_relu(x * w, 0.1) + w.clamp(-0.5, 2.0) + gelu(w).abs(); sum(min(elu(h), silu(h)) + gelu_tanh(h).square() + hardtanh(h) + ln_1p(h * h)) }",
        "fn fwd(#[input] x: [[f32; 2]; 2]) -> [[f32; 2]; 2] { let a: [[f32; 2]; 2] = softmax(x); max(a, x.transpose()) - -x }",
        "fn b(#[input] z: [f64; 4], #[input] y: [f64; 4], w: [f64; 4]) -> f64 { binary_cross_entropy_with_logits(z * w, y) + sum(dot(w, w)) }",
        "fn mlp<const B: usize>(#[input] x: [[f32; 4]; B], #[input] t: [[f32; 3]; B], w: [[f32; 3]; 4], b: [f32; 3]) -> f32 { let h: [[f32; 3]; B] = x.matmul(w) + b; cross_entropy(h, t) + mean(x.t().matmul(x)) * 0.0 }",
        "fn fwd<const B: usize>(#[input] x: [[f64; 2]; B], #[input] w: [[f64; 2]; 2]) -> [[f64; 2]; B] { softmax(relu(x.matmul(w))) }",
        "fn col<const B: usize>(#[input] x: [[f64; B]; 2], #[input] y: [f64; B], w: [f64; 2]) -> f64 { mse(w.matmul(x), y) + mean(softplus(x)) + sum(x.matmul(y)) }",
        // Reductions along one axis, layer norm, concat; over `B` too.
        "fn ax(#[input] x: [[f64; 3]; 2], w: [[f64; 3]; 3], g: [f64; 3], b: [f64; 3]) -> f64 { let h = layer_norm(x.matmul(w), g, b); sum(sum_axis(h, 0)) + mean(h.mean_axis(1)) + sum(max_axis(h, 1)) + sum(logsumexp_axis(concat(h, x), 0)) }",
        "fn axb<const B: usize>(#[input] x: [[f32; 3]; B], w: [f32; 3]) -> f32 { sum(mean_axis(x * w, 0)) + sum(concat(x, x).max_axis(1)) + sum(x.logsumexp_axis(0)) }",
        // Class-index targets: labels of the logits' shape without the class axis.
        "fn ci(#[input] x: [[f64; 3]; 2], #[input] lab: [f64; 2], w: [[f64; 4]; 3]) -> f64 { cross_entropy(x.matmul(w), lab) }",
        "fn ci1(#[input] lab: f32, w: [f32; 4], v: f32) -> f32 { cross_entropy(w, lab) + cross_entropy(w * v, 2.0) }",
        "fn cib<const B: usize>(#[input] x: [[f32; 4]; B], #[input] labels: [f32; B], w: [[f32; 3]; 4], b: [f32; 3]) -> f32 { cross_entropy(relu(x.matmul(w)) + b, labels) }",
        "fn cip<const B: usize>(#[input] x: [[f64; 2]; B], w: [f64; B], v: [[f64; 5]; 2]) -> f64 { cross_entropy(x.matmul(v), w) + sum(x) }",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for i in 0..8 {
        let g = generate::network(generate::SEED, i).expect("corpus network");
        // Without the `#[network]` line.
        v.push(g.source.lines().skip(1).collect::<Vec<_>>().join("\n"));
    }
    for i in 0..6 {
        let g = generate::network_batch(generate::SEED_BATCH, i).expect("batch corpus network");
        v.push(g.source.lines().skip(1).collect::<Vec<_>>().join("\n"));
    }
    for i in 0..4 {
        let g = if i % 2 == 0 {
            generate::network_class_batch(generate::SEED_CLASS, i)
        } else {
            generate::network_class(generate::SEED_CLASS, i)
        }
        .expect("class-index corpus network");
        v.push(g.source.lines().skip(1).collect::<Vec<_>>().join("\n"));
    }
    v
}

/// Feeds `src` (if it lexes) to the frontend and the whole expansion.
fn feed(src: &str, attr: &str) -> Result<bool, String> {
    let (Ok(item), Ok(attr)) = (src.parse::<TokenStream>(), attr.parse::<TokenStream>()) else {
        return Ok(false);
    };
    let parsed = no_panic(|| gradc_frontend::parse_network(attr.clone(), item.clone()).is_ok())?;
    let expanded = no_panic(|| gradc_driver::expand(attr, item))?;
    // A network the frontend rejects must expand to a `compile_error!`.
    if !parsed && !expanded.to_string().contains("compile_error") {
        return Err("rejected network expanded without compile_error!".into());
    }
    Ok(parsed)
}

#[test]
fn mutated_networks() {
    let n = cases(300);
    let seeds = seeds();
    let (mut accepted, mut generic, mut generic_accepted) = (0, 0, 0);
    for case in 0..n {
        let mut rng = Rng::new(0xF022 ^ (case as u64).wrapping_mul(0x9E37_79B9));
        let src = &seeds[rng.below(seeds.len())];
        let mut tokens = Vec::new();
        flatten(src.parse().expect("seed lexes"), &mut tokens);
        mutate(&mut rng, &mut tokens);
        let text = join(&tokens);
        let attr = [
            "",
            "fast_math",
            "fast_math, fast_math",
            "fast",
            "fast_math = 1",
        ][rng.below(5)];
        let is_generic = text.contains('<');
        match feed(&text, attr) {
            Ok(ok) => {
                accepted += ok as usize;
                generic += is_generic as usize;
                generic_accepted += (ok && is_generic) as usize;
            }
            Err(e) => panic!("case {case}: panic `{e}` on\n#[network({attr})]\n{text}"),
        }
    }
    println!(
        "mutated networks: {n} tried, {accepted} accepted; \
         {generic} with generics, {generic_accepted} of them accepted"
    );
}

#[test]
fn random_token_streams() {
    let n = cases(300);
    for case in 0..n {
        let mut rng = Rng::new(0x7070 ^ (case as u64).wrapping_mul(0x9E37_79B9));
        let body: Vec<String> = (0..rng.below(30))
            .map(|_| VOCAB[rng.below(VOCAB.len())].to_string())
            .collect();
        let args: Vec<String> = (0..rng.below(8))
            .map(|_| VOCAB[rng.below(VOCAB.len())].to_string())
            .collect();
        let generics = if rng.chance(0.5) {
            format!("<{}>", GENERICS[rng.below(GENERICS.len())])
        } else {
            String::new()
        };
        let ret = ["f32", "f32", "[f32; B]", "[[f32; 2]; B]"][rng.below(4)];
        let text = format!(
            "fn f{generics}({}) -> {ret} {{ {} }}",
            args.join(" "),
            body.join(" ")
        );
        if let Err(e) = feed(&text, "") {
            panic!("case {case}: panic `{e}` on\n{text}");
        }
    }
}

fn random_shape(rng: &mut Rng) -> Shape {
    let d = |rng: &mut Rng| 1 + rng.below(3);
    match rng.below(4) {
        0 => Shape::scalar(),
        1 => Shape::new([d(rng)]),
        _ => Shape::new([d(rng), d(rng)]),
    }
}

/// A shape with the symbolic batch size: mostly leading, sometimes trailing,
/// sometimes `c·B` (a flattened batch), rarely two `B` axes (which the
/// frontend never makes; the stages must still not panic).
fn random_batch_shape(rng: &mut Rng) -> Shape {
    let d = 1 + rng.below(3);
    match rng.below(10) {
        0 => Shape::new([BATCH]),
        1 | 2 => Shape::new([d, BATCH]),
        3 => Shape::new([d * BATCH]),
        4 => Shape::new([BATCH, BATCH]),
        _ => Shape::new([BATCH, d]),
    }
}

/// A payload shape for `reshape`, `broadcast_to`, `sum_to`: in a batch graph
/// sometimes with `B`.
fn payload_shape(rng: &mut Rng, batch: bool) -> Shape {
    if batch && rng.chance(0.5) {
        random_batch_shape(rng)
    } else {
        random_shape(rng)
    }
}

fn random_op(rng: &mut Rng, batch: bool) -> Op {
    let s = payload_shape(rng, batch);
    if batch && rng.chance(0.04) {
        let c = 1 + rng.below(4);
        return Op::Count(if rng.chance(0.7) { c * BATCH } else { c });
    }
    let c = |rng: &mut Rng| {
        gradc_ir::Const::new([0.0, 0.1, -1.0, 1.0, 1e300, -1e300, f64::NAN][rng.below(7)])
    };
    match rng.below(38) {
        0 => Op::Unary(UnaryOp::Neg),
        1 => Op::Unary(UnaryOp::Relu),
        2 => Op::Unary(UnaryOp::Sigmoid),
        3 => Op::Unary(UnaryOp::Tanh),
        4 => Op::Unary(UnaryOp::Exp),
        5 => Op::Unary(UnaryOp::Ln),
        6 => Op::Unary(UnaryOp::Softplus),
        7 => Op::Unary(UnaryOp::Sqrt),
        8 => Op::Unary(UnaryOp::Powi(
            [-3, -1, 0, 1, 2, 3, i32::MAX, i32::MIN][rng.below(8)],
        )),
        9 => Op::Binary(BinaryOp::Add),
        10 => Op::Binary(BinaryOp::Sub),
        11 => Op::Binary(BinaryOp::Mul),
        12 => Op::Binary(BinaryOp::Div),
        13 => Op::Binary(BinaryOp::Max),
        14 => Op::Binary(BinaryOp::Gt),
        15 => Op::MatMul {
            ta: rng.chance(0.5),
            tb: rng.chance(0.5),
        },
        16 => Op::Transpose,
        17 => Op::Reshape(s),
        18 => Op::BroadcastTo(s),
        19 => Op::SumTo(s),
        20 => Op::Sum,
        21 => Op::Row(RowOp::SumLast),
        22 => Op::Row(RowOp::LogSumExp),
        23 => Op::Row(RowOp::Softmax),
        24 => Op::Row(RowOp::LogSoftmax),
        25 => Op::constant([0.0, 1.0, -1.0, 0.5, 1e300, -1e-300][rng.below(6)]),
        // Class counts the IR must reject too: 0 and the symbolic batch.
        26 => Op::OneHot([1, 2, 3, 4, 0, BATCH, 2 * BATCH][rng.below(7)]),
        27 => Op::Unary(UnaryOp::Abs),
        28 => Op::Unary(UnaryOp::LeakyRelu(c(rng))),
        29 => Op::Unary(UnaryOp::Elu),
        30 => Op::Unary(UnaryOp::Gelu),
        31 => Op::Unary(UnaryOp::GeluTanh),
        32 => Op::Unary(UnaryOp::Silu),
        // Bounds in either order, NaN among them: the IR must reject the bad ones.
        33 => Op::Unary(UnaryOp::Clamp(c(rng), c(rng))),
        34 => Op::Unary(UnaryOp::Ln1p),
        35 => Op::Unary(UnaryOp::NormalCdf),
        36 => Op::Binary(BinaryOp::Min),
        _ => Op::Param(rng.below(3)),
    }
}

/// A random forward graph: 1-3 leaves, then ops on random earlier nodes (those
/// `Graph::add` rejects are skipped), a scalar root. Sometimes an unchecked
/// `push` with a wrong shape or argument, which every stage must reject.
///
/// With `batch`, one or two inputs have a `B` dimension, and payload shapes and
/// `count` leaves may too.
fn random_graph(rng: &mut Rng, batch: bool) -> Graph {
    let mut g = Graph::new(if rng.chance(0.5) {
        gradc_ir::DType::F32
    } else {
        gradc_ir::DType::F64
    });
    if batch {
        for i in 0..1 + rng.below(2) {
            g.add_input(["x", "y"][i], random_batch_shape(rng));
        }
    } else if rng.chance(0.5) {
        g.add_input("x", random_shape(rng));
    }
    for i in 0..1 + rng.below(3) {
        g.add_param(&format!("p{i}"), random_shape(rng));
    }
    for _ in 0..rng.below(25) {
        let op = random_op(rng, batch);
        if op.is_leaf() && !matches!(op, Op::Const(_) | Op::Count(_)) {
            continue;
        }
        let args: Vec<_> = (0..op.arity())
            .map(|_| gradc_ir::NodeId::from_index(rng.below(g.len())))
            .collect();
        if rng.chance(0.03) {
            // Unchecked: a node whose recorded shape may be wrong.
            let s = payload_shape(rng, batch);
            g.push(op, args, s, None);
        } else {
            let _ = g.add(op, &args);
        }
    }
    let last = gradc_ir::NodeId::from_index(g.len() - 1);
    let root = if g.shape(last).is_scalar() {
        last
    } else {
        g.add(Op::Sum, &[last]).expect("sum of any tensor")
    };
    g.add_root("out", root);
    g
}

/// Runs every graph stage; returns whether the graph got through all of them.
fn pipeline(g: &Graph) -> Result<bool, String> {
    if gradc_ir::verify(g).is_err() {
        // A malformed graph: every stage must say so with an error.
        let text = g.to_string();
        if gradc_autodiff::differentiate(g).is_ok()
            || gradc_codegen::emit_forward(g).is_ok()
            || gradc_ir::interp::Interpreter::<f64>::new(g).is_ok()
            || text.parse::<Graph>().is_ok()
        {
            return Err(format!(
                "a stage accepted a graph the verifier rejects:\n{text}"
            ));
        }
        return Ok(false);
    }
    let text = g.to_string();
    let back = text
        .parse::<Graph>()
        .map_err(|e| format!("text form does not round-trip: {e}\n{text}"))?;
    if back.to_string() != text {
        return Err(format!("text form changed on a round trip:\n{text}"));
    }
    let Ok(joint) = gradc_autodiff::differentiate(g) else {
        return Ok(false);
    };
    if let Err(e) = gradc_ir::verify_joint(g, &joint) {
        return Err(format!("autodiff broke the joint contract:\n{e}\n{joint}"));
    }
    let _ = gradc_codegen::emit_forward(g);
    for fast_math in [false, true] {
        let config = gradc_opt::OptConfig {
            fast_math,
            ..Default::default()
        };
        let Ok((opt, _)) = gradc_opt::optimize(&joint, &config) else {
            return Err(format!(
                "opt rejected a valid joint graph (fast_math {fast_math}):\n{joint}"
            ));
        };
        if let Err(e) = gradc_ir::verify_optimized(&joint, &opt) {
            return Err(format!(
                "opt broke the optimized contract (fast_math {fast_math}):\n{e}\n{opt}"
            ));
        }
        if let Ok(fb) = gradc_codegen::emit_forward_backward(&opt) {
            let _ = gradc_codegen::pretty(&fb);
        } else {
            return Err(format!("codegen rejected an optimized graph:\n{opt}"));
        }
        // Same numbers as the unoptimized graph where both are finite (exact
        // tier); a batch-generic graph at several batch sizes.
        if !g.is_batch_generic() {
            same_numbers(g, &joint, &opt, fast_math)?;
            continue;
        }
        for b in BATCHES {
            let at = |h: &Graph, what: &str| {
                h.instantiate(b)
                    .map_err(|e| format!("instantiate({b}) of the {what} graph: {e}\n{h}"))
            };
            let (gb, jb, ob) = (
                at(g, "forward")?,
                at(&joint, "joint")?,
                at(&opt, "optimized")?,
            );
            for (h, what) in [(&gb, "forward"), (&jb, "joint"), (&ob, "optimized")] {
                if let Err(e) = gradc_ir::verify(h) {
                    return Err(format!(
                        "the {what} graph at B = {b} does not verify: {e}\n{h}"
                    ));
                }
            }
            same_numbers(&gb, &jb, &ob, fast_math).map_err(|e| format!("B = {b}: {e}"))?;
        }
    }
    Ok(true)
}

/// The batch sizes a batch-generic random graph is instantiated at.
const BATCHES: [usize; 3] = [1, 2, 5];

/// The interpreter on `joint` and on `opt` (both concrete) agree where both
/// are finite, unless `fast_math`; leaf data comes from the shapes of `g`.
fn same_numbers(g: &Graph, joint: &Graph, opt: &Graph, fast_math: bool) -> Result<(), String> {
    let data = |ids: &[gradc_ir::NodeId], salt: u64| -> Vec<Vec<f64>> {
        let mut rng = Rng::new(salt);
        ids.iter()
            .map(|i| {
                // Sometimes class indices 1 and 2, so a `one_hot` selects a class.
                let labels = rng.chance(0.3);
                (0..g.shape(*i).numel())
                    .map(|_| {
                        if labels {
                            1.0 + rng.below(2) as f64
                        } else {
                            rng.float(0.1, 1.0)
                        }
                    })
                    .collect()
            })
            .collect()
    };
    let (xs, ps) = (data(g.inputs(), 1), data(g.params(), 2));
    let xs: Vec<&[f64]> = xs.iter().map(|v| v.as_slice()).collect();
    let ps: Vec<&[f64]> = ps.iter().map(|v| v.as_slice()).collect();
    let a = gradc_ir::interp::evaluate::<f64>(joint, &xs, &ps).map_err(|e| e.to_string())?;
    let b = gradc_ir::interp::evaluate::<f64>(opt, &xs, &ps).map_err(|e| e.to_string())?;
    // The optimizer folds constants of an f32 graph in f32 (an f32 network
    // computes them so), while the interpreter here runs in f64.
    let tol = match g.dtype() {
        gradc_ir::DType::F32 => 1e-6,
        _ => 1e-9,
    };
    if !fast_math {
        for (ra, rb) in a.iter().zip(&b) {
            for (x, y) in ra.iter().zip(rb) {
                let same = (x - y).abs() <= tol * (1.0 + x.abs().max(y.abs()))
                    || (x.is_nan() && y.is_nan())
                    || x == y;
                if !same && x.is_finite() && y.is_finite() {
                    return Err(format!("optimized {y} vs unoptimized {x}:\n{joint}"));
                }
            }
        }
    }
    Ok(())
}

#[test]
fn random_graphs() {
    let n = cases(300);
    let mut through = 0;
    for case in 0..n {
        let mut rng = Rng::new(0x6A4F ^ (case as u64).wrapping_mul(0x9E37_79B9));
        let g = random_graph(&mut rng, false);
        match no_panic(|| pipeline(&g)) {
            Ok(Ok(ok)) => through += ok as usize,
            Ok(Err(e)) => panic!("case {case}: {e}"),
            Err(p) => panic!("case {case}: panic `{p}` on\n{g}"),
        }
    }
    println!("random graphs: {n} tried, {through} through every stage");
}

#[test]
fn random_batch_graphs() {
    let n = cases(300);
    let (mut through, mut generic) = (0, 0);
    for case in 0..n {
        let mut rng = Rng::new(0xB47C ^ (case as u64).wrapping_mul(0x9E37_79B9));
        let g = random_graph(&mut rng, true);
        generic += g.is_batch_generic() as usize;
        match no_panic(|| pipeline(&g)) {
            Ok(Ok(ok)) => through += ok as usize,
            Ok(Err(e)) => panic!("case {case}: {e}\nforward graph:\n{g}"),
            Err(p) => panic!("case {case}: panic `{p}` on\n{g}"),
        }
    }
    println!("random batch graphs: {n} tried, {generic} with B, {through} through every stage");
}

/// Found by `random_graphs`: `powi` with exponent `i32::MIN` overflowed
/// computing the derivative's `n − 1` (a panic in autodiff and in the
/// interpreter); the IR now rejects that exponent, so the macro reports it.
#[test]
fn regression_powi_i32_min_is_an_error() {
    let item: TokenStream = "fn f(w: f32) -> f32 { powi(w, -2147483648) }"
        .parse()
        .unwrap();
    let e = gradc_frontend::parse_network(TokenStream::new(), item.clone()).expect_err("rejected");
    assert!(e.to_string().contains("exponent"), "{e}");
    let out = no_panic(|| gradc_driver::expand(TokenStream::new(), item)).expect("no panic");
    assert!(out.to_string().contains("compile_error"));
    let mut g = Graph::new(gradc_ir::DType::F64);
    let p = g.add_param("w", Shape::scalar());
    assert!(g.add(Op::Unary(UnaryOp::Powi(i32::MIN)), &[p]).is_err());
    assert!(g.add(Op::Unary(UnaryOp::Powi(i32::MIN + 1)), &[p]).is_ok());
}

/// Found by `random_graphs`: in an f32 graph the literal 2147483647 (from
/// `powi`'s derivative) and a folded 2147483648 are the same f32, but the
/// optimizer's analysis saw two different constants in one e-class and
/// panicked (a debug assertion, so in the proc macro). A literal that f32
/// cannot hold exactly does it from user code too.
#[test]
fn regression_f32_constants_compare_as_f32() {
    let item: TokenStream = "fn f(#[input] x: f32, w: f32) -> f32 { w * (16777217.0 * 1.0) + powi(w * x, 2147483647) * 0.0 }"
        .parse()
        .unwrap();
    for attr in ["", "fast_math"] {
        let out = no_panic(|| gradc_driver::expand(attr.parse().unwrap(), item.clone()))
            .expect("no panic");
        assert!(!out.to_string().contains("compile_error"), "{out}");
    }
}

// Loops, closures, indexing, `#[output]` and `#[gradc::layers]` modules.

/// Hand-written networks with loops over stacked weights, closures,
/// indexing and `#[output]` values.
const LOOP_SEEDS: &[&str] = &[
    "fn deep(#[input] x: [[f32; 3]; 2], #[input] labels: [f32; 2], w_in: [[f32; 4]; 3], ws: [[[f32; 4]; 4]; 3], bs: [[f32; 4]; 3], w_out: [[f32; 2]; 4]) -> f32 { let mut h = relu(x.matmul(w_in)); for k in 0..3 { h = tanh(h.matmul(ws[k]) + bs[k]); } cross_entropy(h.matmul(w_out), labels) }",
    "fn slide40(#[input] x: [f64; 4], #[input] y: [f64; 4], ws: [[[f64; 4]; 4]; 3], bs: [[f64; 4]; 3]) -> f64 { let mut h = x; for k in 0..3 { let a = h.matmul(ws[k]) + bs[k]; h = sigmoid(a); } mse(h, y) }",
    "fn nested(#[input] x: [[f64; 2]; 3], #[input] y: [[f64; 2]; 3], ws: [[[[f64; 2]; 2]; 3]; 2], skip: [[f64; 2]; 4]) -> f64 { let mut h = x + skip[0]; for i in 0..=1 { for j in 1..3 { h = tanh(h.matmul(ws[i][j]) + skip[i + j]); } } mse(h, y) }",
    "fn tri(#[input] x: [[f64; 2]; 2], ws: [[[f64; 2]; 2]; 3]) -> f64 { let mut h = x; let mut acc = mean(h); for i in 0..3 { for j in i..3 { h = h + 0.5 * tanh(h.matmul(ws[2 - j])); acc = acc + h[0][1]; } } sum(h) + acc }",
    "fn layers(#[input] x: [[f64; 3]; 2], #[input] y: [[f64; 3]; 2], ws: [[[f64; 3]; 3]; 2], w: [[f64; 3]; 3], scale: f64) -> f64 { let affine = |x, w| x.matmul(w) * scale; let dense = |x, w| { let z = affine(x, w); relu(z) + 0.1 * z }; let h = dense(x, ws[0]); let h = dense(h, ws[1]); let h = dense(h, w); mse(h, y) }",
    "fn mlp<const B: usize>(#[input] x: [[f64; 5]; B], #[input] labels: [f64; B], w_in: [[f64; 4]; 5], ws: [[[f64; 4]; 4]; 3], w_out: [[f64; 3]; 4]) -> f64 { let mut h = relu(x.matmul(w_in)); for k in 0..3 { h = tanh(h.matmul(ws[k])); } #[output] let logits = h.matmul(w_out); #[output] let probs = softmax(logits); #[output] let mean_logit = mean(logits); cross_entropy(logits, labels) }",
    "fn rnn(#[input] xs: [[[f32; 2]; 3]; 4], #[input] y: [[f32; 2]; 3], u: [[f32; 2]; 2], wx: [[f32; 2]; 2], b: [f32; 2]) -> f32 { let cell = |h, xt| tanh(h.matmul(u) + xt.matmul(wx) + b); let mut h = xs[0]; for t in 1..4 { h = cell(h, xs[t]); } #[output] let state = h; #[output] let first = h[0]; mse(h, y) }",
    "fn vals(#[input] x: [[f64; 2]; 2], ws: [[[f64; 2]; 2]; 4], s: f64) -> f64 { let vs = tanh(ws) * s; let mut h = x; for k in 1..=3 { h = sigmoid(h.matmul(vs[k - 1]) + h.matmul(vs[k])); } #[output] let out = h[1]; sum(out) }",
    "fn fwd(#[input] x: [[f64; 2]; 2], #[input] ws: [[[f64; 2]; 2]; 2]) -> [[f64; 2]; 2] { let f = |a| { let mut z = a; for k in 0..2 { z = tanh(z.matmul(ws[k])); } z }; f(f(x)) }",
];

/// `#[gradc::layers]` modules: layer `fn`s shared by `#[network]` fns.
const LAYER_SEEDS: &[&str] = &[
    "mod shared { fn dense(x: _, w: _, b: _) -> _ { tanh(x.matmul(w) + b) } fn block(x: [[f64; 4]; 2], w: _, b: _) -> _ { let h = dense(x, w, b); h + x } #[network] pub fn wide(#[input] x: [[f64; 3]; 2], #[input] y: [[f64; 4]; 2], w0: [[f64; 4]; 3], b0: [f64; 4], ws: [[[f64; 4]; 4]; 2], bs: [[f64; 4]; 2]) -> f64 { let mut h = dense(x, w0, b0); for k in 0..2 { h = block(h, ws[k], bs[k]); } mse(h, y) } #[network] pub fn narrow(#[input] x: [[f64; 3]; 2], #[input] y: [[f64; 2]; 2], w: [[f64; 2]; 3], b: [f64; 2]) -> f64 { mse(dense(x, w, b), y) } }",
    "mod m { use super::*; fn act(z: _) -> _ { z * sigmoid(z) } fn layer(x: _, w: _) -> _ { act(x.matmul(w)) } #[network(fast_math)] fn a(#[input] x: [[f32; 2]; 3], ws: [[[f32; 2]; 2]; 3]) -> f32 { let mut h = x; for k in 0..3 { h = layer(h, ws[k]); } #[output] let o = h; sum(o) } #[gradc::network] fn b<const B: usize>(#[input] x: [[f32; 2]; B], w: [[f32; 2]; 2]) -> f32 { mean(layer(x, w)) } }",
];

/// Every loop seed: the hand-written ones, the first loop-corpus networks
/// and their unrolled twins.
fn loop_seeds() -> Vec<String> {
    let mut v: Vec<String> = LOOP_SEEDS.iter().map(|s| s.to_string()).collect();
    for i in 0..6 {
        let (g, twin) = gradc_corpus::loops::network_loops(gradc_corpus::loops::SEED_LOOPS, i)
            .expect("loop corpus network");
        for g in std::iter::once(g).chain(twin) {
            v.push(g.source.lines().skip(1).collect::<Vec<_>>().join("\n"));
        }
    }
    v
}

/// What a loop bound becomes.
const BOUNDS: &[&str] = &[
    "x",
    "h",
    "k",
    "k + k",
    "L",
    "N",
    "B",
    "2.0",
    "-1",
    "-3",
    "0",
    "1e9",
    "100000",
    "4294967296",
    "18446744073709551616",
    "w.len()",
    "(3)",
    "{ 3 }",
    "3 as usize",
    "3usize",
    "3u8",
    "3i32",
    "\"3\"",
    "",
];
/// What an index becomes.
const INDICES: &[&str] = &[
    "99",
    "k + 100",
    "k - 1",
    "-1",
    "0 - k",
    "1.5",
    "h",
    "x",
    "k * k",
    "k * 1000",
    "k][k",
    "k][0][0][0",
    "0..2",
    "..",
    "B",
    "usize::MAX",
    "4294967296",
    "",
    "k, k",
    "(k)",
    "k as usize",
    "1 << 40",
];
/// Statements inserted among others (assignments to immutables, misuse of
/// loop variables and closures, `#[output]` in odd places, control flow).
const STATEMENTS: &[&str] = &[
    "x = h;",
    "w = w;",
    "k = 0;",
    "dense = h;",
    "h = 1.0;",
    "h = x;",
    "logits = h;",
    "ws[0] = h;",
    "h += h;",
    "h = h * k;",
    "let k = h;",
    "let mut k = 0;",
    "break;",
    "continue;",
    "return h;",
    "#[output] let o = h;",
    "#[output] let x = x;",
    "#[output] let ws = ws;",
    "#[output] h = h;",
    "#[output] let f = |x| x;",
    "#[output(x)] let o = h;",
    "#[output] #[output] let o = h;",
    "#[output] let (a, b) = (h, h);",
    "#[output] let o = k;",
    "let f = |x| f(x);",
    "let g = |x, y| x + y; h = g(h);",
    "let g = |x| x; h = g(h, h);",
    "let g = || h; h = g();",
    "h = dense(h);",
    "for k in 0..2 { h = h; }",
    "for k in 0..2 { for k in 0..2 { h = tanh(h); } }",
    "for _ in 0..1000000 { h = h; }",
    "for (a, b) in 0..2 { h = h; }",
    "for mut k in 0..2 { h = h; }",
    "for k in [0, 1] { h = h; }",
    "while true { h = h; }",
    "let mut h = h; h = h[0];",
    "let z = h[0][0][0][0];",
];

fn occurrences(s: &str, pat: &str) -> Vec<usize> {
    s.match_indices(pat).map(|(i, _)| i).collect()
}

/// One edit aimed at loops, indices, `mut`, closures and `#[output]`, on
/// source text; returns whether it applied.
fn mutate_loop_source(rng: &mut Rng, src: &mut String) -> bool {
    let body = src.find("->").unwrap_or(0);
    let any = |rng: &mut Rng, v: Vec<usize>| (!v.is_empty()).then(|| v[rng.below(v.len())]);
    match rng.below(7) {
        // Swap a loop's bounds, or make one non-literal.
        0 | 1 => {
            let Some(at) = any(rng, occurrences(src, "for ")) else {
                return false;
            };
            let Some(start) = src[at..].find(" in ").map(|i| at + i + 4) else {
                return false;
            };
            let Some(end) = src[start..].find(" {").map(|i| start + i) else {
                return false;
            };
            let range = src[start..end].to_string();
            let Some(dots) = range.find("..") else {
                return false;
            };
            let (op, rest) = if range[dots..].starts_with("..=") {
                ("..=", dots + 3)
            } else {
                ("..", dots + 2)
            };
            let (a, b) = (&range[..dots], &range[rest..]);
            let new = if rng.chance(0.4) {
                format!("{b}{op}{a}")
            } else if rng.chance(0.5) {
                format!("{}{op}{b}", BOUNDS[rng.below(BOUNDS.len())])
            } else {
                format!("{a}{op}{}", BOUNDS[rng.below(BOUNDS.len())])
            };
            src.replace_range(start..end, &new);
        }
        // An index out of range or not known at compile time.
        2 => {
            let ix: Vec<usize> = occurrences(src, "[")
                .into_iter()
                .filter(|&i| {
                    i > body
                        && src[..i]
                            .chars()
                            .last()
                            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ']')
                })
                .collect();
            let Some(open) = any(rng, ix) else {
                return false;
            };
            let Some(close) = src[open..].find(']').map(|i| open + i) else {
                return false;
            };
            src.replace_range(open + 1..close, INDICES[rng.below(INDICES.len())]);
        }
        // Drop a `mut`.
        3 => {
            let Some(at) = any(rng, occurrences(src, "mut ")) else {
                return false;
            };
            src.replace_range(at..at + 4, "");
        }
        // Closure arity: a parameter list or a call with one argument more or less.
        4 => {
            let params: Vec<usize> = occurrences(src, "= |").into_iter().map(|i| i + 2).collect();
            if rng.chance(0.5) {
                let Some(open) = any(rng, params) else {
                    return false;
                };
                let Some(close) = src[open + 1..].find('|').map(|i| open + 1 + i) else {
                    return false;
                };
                let list = src[open + 1..close].to_string();
                let new = match rng.below(4) {
                    0 => list
                        .rsplit_once(", ")
                        .map_or(String::new(), |(a, _)| a.to_string()),
                    1 => format!("{list}, extra"),
                    2 => format!("{list}: f64"),
                    _ => String::new(),
                };
                src.replace_range(open + 1..close, &new);
            } else {
                // A call `name(` of a closure bound as `let name = |`.
                let names: Vec<String> = occurrences(src, "= |")
                    .into_iter()
                    .filter_map(|i| src[..i].trim_end().rsplit(' ').next().map(str::to_string))
                    .collect();
                let Some(name) = (!names.is_empty()).then(|| names[rng.below(names.len())].clone())
                else {
                    return false;
                };
                let calls = occurrences(src, &format!("{name}("));
                let Some(at) = any(rng, calls) else {
                    return false;
                };
                let open = at + name.len();
                let Some(close) = src[open..].find(')').map(|i| open + i) else {
                    return false;
                };
                let args = src[open + 1..close].to_string();
                let new = match rng.below(3) {
                    0 => args
                        .rsplit_once(", ")
                        .map_or(String::new(), |(a, _)| a.to_string()),
                    1 => format!("{args}, h"),
                    _ => String::new(),
                };
                src.replace_range(open + 1..close, &new);
            }
        }
        // A statement among the others: inside a loop or closure body (after
        // its `{`) or after any `;` of the body.
        _ => {
            let mut at: Vec<usize> = occurrences(src, ") {")
                .into_iter()
                .chain(
                    occurrences(src, "..")
                        .into_iter()
                        .filter_map(|i| src[i..].find('{').map(|j| i + j - 2)),
                )
                .map(|i| i + 3)
                .chain(occurrences(src, ";").into_iter().map(|i| i + 1))
                .filter(|&i| i > body && i <= src.len())
                .collect();
            at.dedup();
            let Some(pos) = any(rng, at) else {
                return false;
            };
            if !src.is_char_boundary(pos) {
                return false;
            }
            let stmt = STATEMENTS[rng.below(STATEMENTS.len())];
            src.insert_str(pos, &format!(" {stmt} "));
        }
    }
    true
}

/// Whether `e` and every error combined into it point at the user's tokens
/// (a zero-width span is the call site or the end of the input).
fn spanned(e: &syn::Error) -> Result<(), String> {
    for e in e.clone() {
        let s = e.span();
        if s.start() == s.end() {
            return Err(format!("an error without a span: {e}"));
        }
    }
    Ok(())
}

/// An accepted network's graph through every stage (see [`pipeline`]).
/// Without parameters there is no joint graph: the driver emits the forward
/// pass only.
fn accepted_graph(g: &Graph) -> Result<(), String> {
    // Edits make huge arrays (`[f64; 100000000000]`) too: the frontend
    // accepts them, but the interpreter here cannot hold their data.
    let numel: usize = g
        .node_ids()
        .map(|i| {
            let dims = g.shape(i).dims().iter();
            dims.map(|&d| if d == BATCH { BATCHES[2] } else { d })
                .fold(1, usize::saturating_mul)
        })
        .fold(0, usize::saturating_add);
    if g.params().is_empty() || numel > 1 << 20 {
        return Ok(());
    }
    no_panic(|| pipeline(g))?.map_err(|e| format!("accepted network: {e}"))?;
    Ok(())
}

/// Feeds `src` to the frontend and the whole expansion: no panic; a function
/// the frontend rejects expands to a `compile_error!` and, when it parsed as
/// a function, every error is spanned; an accepted one expands without
/// `compile_error!` and its graph gets through every stage with the
/// interpreter agreeing optimized vs not. `Some(accepted)` when it lexed.
fn feed_checked(src: &str, attr: &str) -> Result<Option<bool>, String> {
    let (Ok(item), Ok(attr)) = (src.parse::<TokenStream>(), attr.parse::<TokenStream>()) else {
        return Ok(None);
    };
    let parsed = no_panic(|| gradc_frontend::parse_network(attr.clone(), item.clone()))?;
    let expanded = no_panic(|| gradc_driver::expand(attr, item.clone()))?.to_string();
    let rejected = expanded.contains("compile_error");
    match parsed {
        Err(e) => {
            if !rejected {
                return Err("rejected network expanded without compile_error!".into());
            }
            if syn::parse2::<syn::ItemFn>(item).is_ok() {
                spanned(&e)?;
            }
            Ok(Some(false))
        }
        Ok(net) => {
            if rejected {
                return Err(format!(
                    "accepted network expanded with compile_error!:\n{expanded}"
                ));
            }
            accepted_graph(&net.graph)?;
            Ok(Some(true))
        }
    }
}

/// [`feed_checked`] for a `#[gradc::layers]` module: each `#[network]` fn
/// lowered with the module's layer `fn`s; returns (networks, accepted).
fn feed_layers(src: &str) -> Result<(usize, usize), String> {
    let Ok(item) = src.parse::<TokenStream>() else {
        return Ok((0, 0));
    };
    let expanded =
        no_panic(|| gradc_driver::expand_layers(TokenStream::new(), item.clone()))?.to_string();
    let rejected = expanded.contains("compile_error");
    let Ok(module) = syn::parse2::<syn::ItemMod>(item) else {
        return if rejected {
            Ok((0, 0))
        } else {
            Err("a module that does not parse expanded without compile_error!".into())
        };
    };
    let items = module.content.map(|c| c.1).unwrap_or_default();
    let is_network = |a: &syn::Attribute| {
        a.path()
            .segments
            .last()
            .is_some_and(|s| s.ident == "network")
    };
    let (mut layers, mut networks) = (Vec::new(), Vec::new());
    for item in items {
        if let syn::Item::Fn(mut f) = item {
            match f.attrs.iter().position(is_network) {
                Some(i) => {
                    let args = match f.attrs.remove(i).meta {
                        syn::Meta::List(l) => l.tokens,
                        _ => TokenStream::new(),
                    };
                    networks.push((args, f));
                }
                None => layers.push(f),
            }
        }
    }
    let (n, mut accepted) = (networks.len(), 0);
    for (args, f) in networks {
        match no_panic(|| gradc_frontend::lower_with_layers(args, f, &layers))? {
            Err(e) => {
                if !rejected {
                    return Err("a rejected network expanded without compile_error!".into());
                }
                spanned(&e)?;
            }
            Ok(net) => {
                accepted += 1;
                accepted_graph(&net.graph)?;
            }
        }
    }
    if accepted == n && rejected {
        return Err(format!(
            "every network accepted, yet the module expanded with compile_error!:\n{expanded}"
        ));
    }
    Ok((n, accepted))
}

/// 1-2 aimed edits, sometimes followed by token edits of [`mutate`].
fn mutate_loops(rng: &mut Rng, src: &str) -> String {
    let mut text = src.to_string();
    let edits = if rng.chance(0.7) { 1 } else { 2 };
    for _ in 0..edits {
        mutate_loop_source(rng, &mut text);
    }
    if rng.chance(0.3) {
        if let Ok(ts) = text.parse::<TokenStream>() {
            let mut tokens = Vec::new();
            flatten(ts, &mut tokens);
            mutate(rng, &mut tokens);
            text = join(&tokens);
        }
    }
    text
}

#[test]
fn mutated_loop_networks() {
    // Most of these reach the optimizer twice (expansion and `pipeline`):
    // fewer cases by default than the other fuzzers.
    let n = cases(100);
    let seeds = loop_seeds();
    let (mut lexed, mut accepted) = (0, 0);
    for case in 0..n {
        let mut rng = Rng::new(0x100F ^ (case as u64).wrapping_mul(0x9E37_79B9));
        let src = &seeds[rng.below(seeds.len())];
        let text = mutate_loops(&mut rng, src);
        let attr = ["", "fast_math"][rng.below(2)];
        match feed_checked(&text, attr) {
            Ok(r) => {
                lexed += r.is_some() as usize;
                accepted += (r == Some(true)) as usize;
            }
            Err(e) => panic!("case {case}: `{e}` on\n#[network({attr})]\n{text}"),
        }
    }
    // The seeds themselves pass the same checks.
    for s in &seeds {
        assert_eq!(feed_checked(s, ""), Ok(Some(true)), "seed\n{s}");
    }
    println!("mutated loop networks: {n} tried, {lexed} lexed, {accepted} accepted");
    assert!(accepted > 0 && accepted < n, "{accepted} of {n} accepted");
}

#[test]
fn mutated_layer_modules() {
    let n = cases(100);
    let (mut networks, mut accepted) = (0, 0);
    for case in 0..n {
        let mut rng = Rng::new(0x1A7E ^ (case as u64).wrapping_mul(0x9E37_79B9));
        let src = LAYER_SEEDS[rng.below(LAYER_SEEDS.len())];
        let text = mutate_loops(&mut rng, src);
        match feed_layers(&text) {
            Ok((nets, ok)) => {
                networks += nets;
                accepted += ok;
            }
            Err(e) => panic!("case {case}: `{e}` on\n#[gradc::layers]\n{text}"),
        }
    }
    for s in LAYER_SEEDS {
        assert_eq!(feed_layers(s), Ok((2, 2)), "seed\n{s}");
    }
    println!("mutated layer modules: {n} tried, {networks} networks, {accepted} accepted");
}

/// Token soup aimed at loops, closures, indexing and outputs.
const LOOP_VOCAB: &[&str] = &[
    "for",
    "k",
    "i",
    "in",
    "0..3",
    "0..=2",
    "1..k",
    "k..3",
    "..",
    "..=",
    "ws",
    "bs",
    "xs",
    "h",
    "[k]",
    "[0]",
    "[k + 1]",
    "[3 - k]",
    "[9]",
    "[k][k]",
    "#[output]",
    "#",
    "output",
    "let",
    "mut",
    "let mut h =",
    "h =",
    "=",
    "|x|",
    "|x, w|",
    "||",
    "|",
    "dense",
    "dense(h, ws[k])",
    "act",
    "{",
    "}",
    "(",
    ")",
    ";",
    ",",
    "tanh",
    "relu",
    "matmul",
    ".",
    "+",
    "*",
    "0.5",
    "x",
    "w",
    "s",
    "mean",
    "sum",
    "h[0]",
    "return",
    "break",
];

/// Whole statements for the soup, so some of it is accepted.
const LOOP_PHRASES: &[&str] = &[
    "h = tanh(h.matmul(ws[k]));",
    "h = tanh(h.matmul(ws[k]) + bs[k]);",
    "h = h + 0.5 * tanh(h.matmul(ws[0]));",
    "h = dense(h, ws[k]);",
    "h = dense(h, w);",
    "let z = h.matmul(w);",
    "let mut g = h;",
    "g = g * 0.5;",
    "#[output] let o = h;",
    "for k in 0..3 { h = tanh(h.matmul(ws[k])); }",
    "for j in 0..k { h = h * 0.5; }",
    "let act = |z| tanh(z) * z;",
    "h = act(h);",
    "sum(h)",
    "mean(dense(x, ws[2]))",
    "tanh(x.matmul(w))",
];

#[test]
fn random_loop_token_streams() {
    let n = cases(300);
    let mut accepted = 0;
    let shells = [
        // Every parameter reaches the loss whatever the soup does (an unused
        // parameter is an error).
        "fn f(#[input] x: [[f64; 2]; 2], ws: [[[f64; 2]; 2]; 3], bs: [[f64; 2]; 3]) -> f64 { let mut h = x; BODY sum(h) + mean(ws) + mean(bs) }",
        "fn f(#[input] x: [[f64; 2]; 2], ws: [[[f64; 2]; 2]; 3], w: [[f64; 2]; 2]) -> f64 { let mut h = x; let dense = |x, w| tanh(x.matmul(w)); for k in 0..3 { BODY } sum(h) + mean(ws) + mean(w) }",
        "fn f(#[input] xs: [[[f64; 2]; 2]; 3], w: [[f64; 2]; 2]) -> f64 { let dense = |x, w| { BODY }; let mut h = xs[0]; for k in 1..3 { h = dense(h + xs[k], w); } sum(h) + mean(w) }",
        "fn f(#[input] x: [[f64; 2]; 2], ws: [[[f64; 2]; 2]; 3], w: [[f64; 2]; 2]) -> f64 { let dense = |x, w| tanh(x.matmul(w)); let mut h = x; BODY + mean(ws) + mean(w) }",
    ];
    for case in 0..n {
        let mut rng = Rng::new(0x1007 ^ (case as u64).wrapping_mul(0x9E37_79B9));
        let body: Vec<&str> = (0..rng.below(12))
            .map(|_| {
                if rng.chance(0.35) {
                    LOOP_PHRASES[rng.below(LOOP_PHRASES.len())]
                } else if rng.chance(0.8) {
                    LOOP_VOCAB[rng.below(LOOP_VOCAB.len())]
                } else {
                    VOCAB[rng.below(VOCAB.len())]
                }
            })
            .collect();
        let text = shells[rng.below(shells.len())].replace("BODY", &body.join(" "));
        match feed_checked(&text, "") {
            Ok(r) => accepted += (r == Some(true)) as usize,
            Err(e) => panic!("case {case}: `{e}` on\n{text}"),
        }
    }
    println!("random loop token streams: {n} tried, {accepted} accepted");
}

/// Found by `random_loop_token_streams`: an empty statement (a lone `;`, in
/// the body or a loop) was reported at the call site, since syn gives it an
/// expression without tokens; the error now points at the `;`.
#[test]
fn regression_empty_statement_error_is_spanned() {
    for src in [
        "fn f(#[input] x: [[f64; 2]; 2], ws: [[[f64; 2]; 2]; 3]) -> f64 { let mut h = x; for k in 0..3 { ; } sum(h) }",
        "fn f(w: f64) -> f64 { let a = w; ; a }",
    ] {
        let item: TokenStream = src.parse().unwrap();
        let e = gradc_frontend::parse_network(TokenStream::new(), item)
            .expect_err("rejected");
        assert!(e.to_string().contains("empty statement"), "{e}");
        assert_eq!(spanned(&e), Ok(()));
    }
}
