//! Batch-generic networks (`fn net<const B: usize>(..)`): the length `B` becomes
//! the dimension `gradc_ir::BATCH`, divisors that depend on it become `count`
//! leaves, and everything outside the supported form is an error at the
//! user's tokens. Expected graph texts are written out by hand.

use gradc_frontend::parse_network;
use gradc_ir::{Shape, BATCH};
use proc_macro2::TokenStream;

fn net(src: &str) -> gradc_frontend::Network {
    let item: TokenStream = src.parse().expect("item tokens");
    match parse_network(TokenStream::new(), item) {
        Ok(n) => n,
        Err(e) => panic!("unexpected error: {e}"),
    }
}

/// Each error's message and the source text its span covers.
fn errors(src: &str) -> Vec<(String, String)> {
    let item: TokenStream = src.parse().expect("item tokens");
    match parse_network(TokenStream::new(), item) {
        Ok(n) => panic!("expected an error, got a network:\n{}", n.graph),
        Err(e) => e
            .into_iter()
            .map(|e| {
                let text = e.span().source_text().unwrap_or_default();
                (e.to_string(), text)
            })
            .collect(),
    }
}

/// Asserts exactly one error, whose message contains `msg` and whose span covers `at`.
#[track_caller]
fn one(src: &str, msg: &str, at: &str) {
    let errs = errors(src);
    assert_eq!(errs.len(), 1, "expected one error, got {errs:#?}");
    assert!(errs[0].0.contains(msg), "{:?} lacks {msg:?}", errs[0].0);
    assert_eq!(errs[0].1, at, "span of {:?}", errs[0].0);
}

const GENERICS: &str = "the only generic parameter supported is the batch size `const B: usize`";

/// The graph's node lines, without the header and the root line.
fn lines(n: &gradc_frontend::Network) -> Vec<String> {
    let text = n.graph.to_string();
    let all: Vec<&str> = text.lines().collect();
    all[1..all.len() - 1]
        .iter()
        .map(|l| l.trim().to_string())
        .collect()
}

#[test]
fn digits_mlp_has_batch_shapes_and_a_row_count() {
    let n = net("pub fn mlp<const B: usize>(
            #[input] x: [[f32; 64]; B],
            #[input] t: [[f32; 10]; B],
            w1: [[f32; 64]; 64], b1: [f32; 64], w2: [[f32; 10]; 64], b2: [f32; 10],
        ) -> f32 {
            let h = relu(x.matmul(w1) + b1);
            cross_entropy(h.matmul(w2) + b2, t)
        }");
    assert!(n.batch);
    assert_eq!(n.args[0].shape, Shape::new([BATCH, 64]));
    assert_eq!(n.args[1].shape, Shape::new([BATCH, 10]));
    assert!(n.params().all(|p| !p.shape.is_batch_generic()));
    assert!(n.graph.is_batch_generic());
    // The generic parameter stays on the item for code generation.
    assert_eq!(n.item.sig.generics.params.len(), 1);
    let want = [
        "(let %0 x [B 64] (input 0))",
        "(let %1 t [B 10] (input 1))",
        "(let %2 w1 [64 64] (param 0))",
        "(let %3 b1 [64] (param 1))",
        "(let %4 w2 [64 10] (param 2))",
        "(let %5 b2 [10] (param 3))",
        "(let %6 _ [B 64] (matmul %0 %2))",
        "(let %7 _ [B 64] (add %6 %3))",
        "(let %8 h [B 64] (relu %7))",
        "(let %9 _ [B 10] (matmul %8 %4))",
        "(let %10 _ [B 10] (add %9 %5))",
        "(let %11 _ [B 1] (logsumexp %10))",
        "(let %12 _ [] (sum %11))",
        "(let %13 _ [B 10] (mul %1 %10))",
        "(let %14 _ [] (sum %13))",
        "(let %15 _ [] (sub %12 %14))",
        "(let %16 _ [] (count B))",
        "(let %17 _ [] (div %15 %16))",
    ];
    assert_eq!(lines(&n), want);
}

#[test]
fn mean_and_mse_and_bce_count_elements() {
    let n = net("fn f<const B: usize>(#[input] x: [[f32; 3]; B], #[input] y: [[f32; 3]; B], w: [f32; 3]) -> f32 {
            mean(x * w) + mse(x * w, y) + binary_cross_entropy_with_logits(x * w, y)
        }");
    let counts: Vec<String> = lines(&n)
        .into_iter()
        .filter(|l| l.contains("count") || l.contains("const"))
        .collect();
    // Each mean is over 3·B elements.
    assert_eq!(counts.len(), 3, "{counts:?}");
    assert!(
        counts.iter().all(|l| l.ends_with("(count 3B))")),
        "{counts:?}"
    );
}

#[test]
fn literal_batch_still_uses_constants() {
    let n = net(
        "fn f(#[input] x: [[f32; 3]; 4], #[input] t: [[f32; 3]; 4], w: [f32; 3]) -> f32 {
            mean(x * w) + cross_entropy(x * w, t)
        }",
    );
    assert!(!n.batch);
    let ls = lines(&n);
    assert!(ls.iter().any(|l| l.ends_with("(const 12.0))")), "{ls:?}");
    assert!(ls.iter().any(|l| l.ends_with("(const 4.0))")), "{ls:?}");
    assert!(!ls.iter().any(|l| l.contains("count")), "{ls:?}");
}

#[test]
fn reductions_over_the_batch_axis_are_literal() {
    // Batch along the second axis: the row count of the logits is literal.
    let n = net("fn f<const B: usize>(#[input] x: [[f32; B]; 2], #[input] t: [[f32; B]; 2], w: f32) -> f32 {
            let z: [[f32; B]; 2] = x * w;
            cross_entropy(z, t)
        }");
    let ls = lines(&n);
    assert_eq!(ls[9], "(let %9 _ [] (const 2.0))");
    assert_eq!(ls[10], "(let %10 _ [] (div %8 %9))");
    // `x.t() x` sums over B: a literal shape.
    let n = net(
        "fn f<const B: usize>(#[input] x: [[f32; 4]; B], w: [[f32; 4]; 4]) -> f32 {
            sum(x.t().matmul(x) * w)
        }",
    );
    assert!(lines(&n).contains(&"(let %3 _ [4 4] (matmul %2 %0))".to_string()));
}

#[test]
fn forward_only_network_may_return_a_batch_shape() {
    let n = net(
        "fn f<const B: usize>(#[input] x: [[f32; 2]; B], #[input] w: [f32; 2]) -> [f32; B] {
            x.matmul(w)
        }",
    );
    assert_eq!(n.ret_shape, Shape::new([BATCH]));
}

// ---- errors ----

#[test]
fn batch_in_a_parameter_type() {
    one(
        "fn f<const B: usize>(#[input] x: [f32; B], w: [f32; B]) -> f32 { sum(x * w) }",
        "parameters do not depend on the batch size",
        "B",
    );
}

#[test]
fn batch_twice_in_one_type() {
    let errs = errors("fn f<const B: usize>(#[input] x: [[f32; B]; B]) -> f32 { sum(x) }");
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert!(errs[0]
        .0
        .contains("at most one length of a type may be the batch size `B`"));
    // The inner `B`, seen second.
    assert_eq!(errs[0].1, "B");
}

#[test]
fn batch_squared_intermediate() {
    one(
        "fn f<const B: usize>(#[input] x: [[f32; 4]; B], w: f32) -> f32 { sum(x.matmul(x.t())) * w }",
        "this would have shape [B B]: at most one dimension may depend on the batch size `B`",
        "matmul(x.t())",
    );
    // Broadcasting a column against a row.
    one(
        "fn f<const B: usize>(#[input] x: [[f32; 1]; B], #[input] y: [f32; B], w: f32) -> f32 { sum(x + y) * w }",
        "this would have shape [B B]",
        "x + y",
    );
}

#[test]
fn batch_in_let_annotation_checked() {
    one(
        "fn f<const B: usize>(#[input] x: [[f32; 4]; B], w: f32) -> f32 { let h: [[f32; 4]; 4] = x * w; sum(h) }",
        "the type annotation declares shape [4 4], but the value has shape [B 4]",
        "[[f32; 4]; 4]",
    );
}

#[test]
fn generic_parameters_other_than_b() {
    one(
        "fn f<const B: usize, const C: usize>(#[input] x: [f32; B]) -> f32 { sum(x) }",
        "only one generic parameter is supported",
        "C",
    );
    one(
        "fn f<const B: usize, const B: usize>(#[input] x: [f32; B]) -> f32 { sum(x) }",
        "only one generic parameter is supported",
        "const B: usize",
    );
    one(
        "fn f<T, const B: usize>(#[input] x: [f32; B]) -> f32 { sum(x) }",
        "type parameters are not supported; the only generic parameter supported is the batch size `const B: usize`",
        "T",
    );
    one(
        "fn f<'a, const B: usize>(#[input] x: [f32; B]) -> f32 { sum(x) }",
        "lifetime parameters are not supported",
        "'a",
    );
    one(
        "fn f<const B: u32>(#[input] x: [f32; B]) -> f32 { sum(x) }",
        "the batch size must have type `usize`",
        "u32",
    );
    one(
        "fn f<const B: usize = 4>(#[input] x: [f32; B]) -> f32 { sum(x) }",
        "a default batch size is not supported",
        "= 4",
    );
    for src in [
        "fn f<const N: usize>(#[input] x: [f32; 2]) -> f32 { sum(x) }",
        "fn f<T>(#[input] x: [f32; 2]) -> f32 { sum(x) }",
    ] {
        let errs = errors(src);
        assert_eq!(errs.len(), 1, "{errs:#?}");
        assert!(errs[0].0.contains(GENERICS), "{:?}", errs[0].0);
    }
}

#[test]
fn other_const_name_as_length() {
    let errs = errors("fn f<const N: usize>(#[input] x: [f32; N]) -> f32 { sum(x) }");
    assert_eq!(errs.len(), 2, "{errs:#?}");
    assert!(errs[0].0.contains("must be named `B`"));
    assert_eq!(errs[0].1, "N");
    assert!(errs[1].0.contains(
        "array lengths must be integer literals, such as `[f32; 4]`, or the batch size `B`"
    ));
    assert_eq!(errs[1].1, "N");
}

#[test]
fn b_without_declaration_is_not_a_length() {
    one(
        "fn f(#[input] x: [f32; B]) -> f32 { sum(x) }",
        "or the batch size `B` of a network declared as `fn net<const B: usize>(..)`",
        "B",
    );
}

#[test]
fn declared_but_unused() {
    one(
        "fn f<const B: usize>(#[input] x: [f32; 4], w: f32) -> f32 { sum(x * w) }",
        "the batch size `B` is declared but no `#[input]` type uses it",
        "B",
    );
    // The return type alone does not count.
    let errs = errors("fn f<const B: usize>(#[input] x: [f32; 4]) -> [f32; B] { x }");
    assert!(
        errs[0].0.contains("declared but no `#[input]`"),
        "{errs:#?}"
    );
}

#[test]
fn literal_multiple_of_the_sentinel() {
    one(
        "fn f(#[input] x: [f32; 2000006], w: f32) -> f32 { sum(x * w) }",
        "array lengths that are multiples of 1000003 are not supported",
        "2000006",
    );
}

#[test]
fn b_as_a_value() {
    one(
        "fn f<const B: usize>(#[input] x: [f32; B], w: f32) -> f32 { sum(x * w) / B }",
        "`B` is the batch size, an array length in types, not a value",
        "B",
    );
}

#[test]
fn huge_lengths_do_not_panic() {
    // 2^45 · B overflows a 64-bit element count.
    one(
        "fn f<const B: usize>(#[input] x: [[f32; 35184372088832]; B], w: f32) -> f32 { sum(x * w) }",
        "values of this type would take more than 9223372036854775807 bytes",
        "[[f32; 35184372088832]; B]",
    );
    // An outer product of two large literal vectors.
    one(
        "fn f(#[input] x: [[f32; 1]; 4294967296], #[input] y: [f32; 4294967296], w: f32) -> f32 { sum(x * y) * w }",
        "the most any Rust value may take",
        "x * y",
    );
}
