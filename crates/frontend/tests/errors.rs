//! Every rejected input is a `syn::Error` at the offending tokens, with a message
//! saying what is supported. The sources are parsed from strings so that spans
//! carry real positions (proc-macro2's `span-locations`) and each error's span
//! can be compared with the text it covers.

use gradc_frontend::parse_network;
use proc_macro2::TokenStream;

/// Each error's message and the source text its span covers.
fn errors_with(attr: &str, src: &str) -> Vec<(String, String)> {
    let attr: TokenStream = attr.parse().expect("attr tokens");
    let item: TokenStream = src.parse().expect("item tokens");
    match parse_network(attr, item) {
        Ok(n) => panic!("expected an error, got a network:\n{}", n.graph),
        Err(e) => e
            .into_iter()
            .map(|e| {
                let text = e
                    .span()
                    .source_text()
                    .unwrap_or_else(|| "<no source text>".into());
                (e.to_string(), text)
            })
            .collect(),
    }
}

fn errors(src: &str) -> Vec<(String, String)> {
    errors_with("", src)
}

/// Asserts exactly one error, whose message contains `msg` and whose span covers `at`.
#[track_caller]
fn one(src: &str, msg: &str, at: &str) {
    let errs = errors(src);
    assert_eq!(errs.len(), 1, "expected one error, got {errs:#?}");
    check(&errs[0], msg, at);
}

#[track_caller]
fn check(err: &(String, String), msg: &str, at: &str) {
    assert!(
        err.0.contains(msg),
        "message {:?} does not contain {msg:?}",
        err.0
    );
    assert_eq!(err.1, at, "span of {:?}", err.0);
}

/// A valid signature around a body.
fn body(b: &str) -> String {
    format!("fn f(#[input] x: [[f32; 2]; 4], #[input] y: [f32; 4], w: [f32; 2], b: f32) -> f32 {{ {b} }}")
}

// ---- attribute ----

#[test]
fn unknown_option_lists_supported_ones() {
    let errs = errors_with("foo", "fn f(x: f32) -> f32 { x }");
    assert_eq!(errs.len(), 1);
    check(
        &errs[0],
        "unknown option `foo`; supported options: `fast_math`",
        "foo",
    );
}

#[test]
fn fast_math_takes_no_value() {
    let errs = errors_with("fast_math = true", "fn f(x: f32) -> f32 { x }");
    assert_eq!(errs.len(), 1);
    check(
        &errs[0],
        "`fast_math` is a flag and takes no value",
        "fast_math",
    );
}

// ---- signature ----

#[test]
fn integer_element_type() {
    one(
        "fn f(x: [i32; 3]) -> f32 { sum(x) }",
        "unsupported element type `i32`; types are `f32`, `f64`",
        "i32",
    );
}

#[test]
fn usize_scalar_and_vec_and_reference() {
    let errs = errors("fn f(n: usize, v: Vec<f32>, r: &[f32; 2]) -> f32 { 1.0 }");
    assert_eq!(errs.len(), 3, "{errs:#?}");
    check(&errs[0], "unsupported element type `usize`", "usize");
    check(&errs[1], "unsupported type `Vec<f32>`", "Vec<f32>");
    check(&errs[2], "references are not supported", "&[f32; 2]");
}

#[test]
fn const_generic_length() {
    // Only `B` may be a length; batch-generic networks are in tests/batch.rs.
    let errs = errors("fn f<const N: usize>(#[input] x: [f32; N]) -> f32 { sum(x) }");
    assert_eq!(errs.len(), 2, "{errs:#?}");
    check(&errs[0], "the batch size must be named `B`", "N");
    check(&errs[1], "array lengths must be integer literals", "N");
}

#[test]
fn mixed_element_types() {
    one(
        "fn f(x: [f32; 2], w: [[f64; 2]; 2]) -> f32 { sum(x) }",
        "mixed element types: this is `f64` but the network's element type is `f32`",
        "f64",
    );
}

#[test]
fn mixed_element_type_in_the_return_type() {
    one(
        "fn f(x: [f32; 2]) -> f64 { sum(x) }",
        "mixed element types",
        "f64",
    );
}

#[test]
fn argument_patterns_and_self() {
    let errs = errors("fn f(&self, (a, b): (f32, f32), mut m: f32) -> f32 { m }");
    assert_eq!(errs.len(), 4, "{errs:#?}");
    check(&errs[0], "`self` is not supported", "&self");
    check(&errs[1], "unsupported type", "(f32, f32)");
    check(
        &errs[2],
        "each argument must be a plain identifier",
        "(a, b)",
    );
    check(
        &errs[3],
        "each argument must be a plain identifier",
        "mut m",
    );
}

#[test]
fn fn_qualifiers_and_where_clause() {
    let errs = errors("const async unsafe fn f<T>(x: f32) -> f32 where T: Copy { x }");
    assert_eq!(errs.len(), 5, "{errs:#?}");
    check(&errs[0], "`const fn` is not supported", "const");
    check(&errs[1], "`async fn` is not supported", "async");
    check(&errs[2], "`unsafe fn` is not supported", "unsafe");
    check(
        &errs[3],
        "type parameters are not supported; the only generic parameter supported is the batch size",
        "T",
    );
    check(
        &errs[4],
        "`where` clauses are not supported",
        "where T: Copy",
    );
}

#[test]
fn attributes_on_arguments() {
    let errs = errors(
        "fn f(#[input(grad)] x: f32, #[weight] w: f32, #[input] #[input] y: f32) -> f32 { x * w * y }",
    );
    assert_eq!(errs.len(), 3, "{errs:#?}");
    check(&errs[0], "`#[input]` takes no arguments", "#[input(grad)]");
    check(&errs[1], "only `#[input]` is supported", "#[weight]");
    check(&errs[2], "duplicate `#[input]`", "#[input]");
}

#[test]
fn duplicate_argument() {
    one(
        "fn f(x: f32, x: f32) -> f32 { x }",
        "duplicate argument `x`",
        "x",
    );
}

#[test]
fn missing_return_type() {
    one("fn f(x: f32) { x }", "missing return type", "f");
}

#[test]
fn non_scalar_loss_with_parameters() {
    one(
        "fn f(#[input] x: [f32; 3], w: [f32; 3]) -> [f32; 3] { x * w }",
        "the loss must be a scalar (`f32`/`f64`) when the network has parameters; this return type has shape [3]",
        "[f32; 3]",
    );
}

#[test]
fn zero_length_array() {
    one(
        "fn f(#[input] x: [f32; 0]) -> f32 { sum(x) }",
        "array lengths must be at least 1",
        "0",
    );
}

#[test]
fn result_shape_differs_from_return_type() {
    one(
        "fn f(#[input] x: [[f32; 2]; 4], #[input] w: [f32; 2]) -> [f32; 2] { x.matmul(w) }",
        "the result has shape [4], but the return type declares shape [2]",
        "x.matmul(w)",
    );
}

// ---- body: names, calls, shapes ----

#[test]
fn unknown_function_lists_supported_ones() {
    one(
        &body("foo(x)"),
        "unknown function `foo`; supported: matmul, dot, t, transpose, sum, mean, softmax, log_softmax, powi, max, min, leaky_relu, clamp, hardtanh, square, sum_axis, mean_axis, max_axis, logsumexp_axis, layer_norm, concat, mse, cross_entropy, binary_cross_entropy_with_logits, and elementwise relu, sigmoid, tanh, exp, ln, softplus, sqrt, abs, elu, gelu, gelu_tanh, silu, ln_1p",
        "foo",
    );
}

#[test]
fn literal_parameters_must_be_number_literals() {
    one(
        &body("leaky_relu(x, x)"),
        "`leaky_relu`: `slope` must be a number literal, such as `0.01` or `-1.0`",
        "x",
    );
    one(
        &body("x.clamp(-1.0, x)"),
        "`clamp`: `hi` must be a number literal, such as `0.01` or `-1.0`",
        "x",
    );
    one(
        &body("clamp(x, 1, -1)"),
        "clamp: the lower bound 1.0 must not exceed the upper bound -1.0",
        "clamp(x, 1, -1)",
    );
    one(
        &body("leaky_relu(x, \"s\")"),
        "`leaky_relu`: `slope` must be a number literal, such as `0.01` or `-1.0`",
        "\"s\"",
    );
}

#[test]
fn unknown_method() {
    one(
        &body("x.len()"),
        "unknown method `.len()`; supported: matmul, dot",
        "len",
    );
}

#[test]
fn wrong_arity_free_and_method() {
    let errs = errors(&body("let a = relu(x, y); let c = x.matmul(); mse(y)"));
    assert_eq!(errs.len(), 3, "{errs:#?}");
    check(&errs[0], "`relu` takes 1 argument (x), got 2", "relu(x, y)");
    check(
        &errs[1],
        "`.matmul(..)` takes 1 argument (b) after the receiver, got 0",
        "matmul()",
    );
    check(
        &errs[2],
        "`mse` takes 2 arguments (pred, target), got 1",
        "mse(y)",
    );
}

#[test]
fn method_without_arguments_given_one() {
    one(
        &body("sum(x.relu(w))"),
        "`.relu()` takes no arguments, got 1",
        "relu(w)",
    );
}

#[test]
fn unknown_variable_lists_names_in_scope() {
    one(
        &body("let h = x; sum(q)"),
        "unknown variable `q`; in scope: x, y, w, b, h",
        "q",
    );
}

#[test]
fn a_failed_let_is_reported_once() {
    // `h` fails, so its later uses stay silent instead of "unknown variable".
    one(
        &body("let h = foo(x); let k = h + 1; sum(k)"),
        "unknown function `foo`",
        "foo",
    );
}

#[test]
fn broadcast_mismatch() {
    one(
        &body("let z = x + y; sum(z)"),
        "`+`: shapes [4 2] and [4] do not broadcast (NumPy rules: trailing dimensions must be equal or 1)",
        "x + y",
    );
}

#[test]
fn matmul_not_aligned() {
    let src = "fn f(#[input] a: [[f32; 2]; 4], w: [[f32; 2]; 3]) -> f32 { sum(a.matmul(w)) }";
    one(
        src,
        "matmul: shapes [4 2] and [3 2] are not aligned (2 != 3)",
        "matmul(w)",
    );
    let src = "fn f(#[input] a: [[f32; 2]; 4], w: [[f32; 2]; 3]) -> f32 { sum(matmul(a, w)) }";
    one(
        src,
        "matmul: shapes [4 2] and [3 2] are not aligned (2 != 3)",
        "matmul(a, w)",
    );
}

#[test]
fn matmul_of_a_scalar() {
    one(
        &body("sum(dot(x, b))"),
        "dot: scalar operands are not allowed",
        "dot(x, b)",
    );
}

#[test]
fn powi_exponent_must_be_an_integer_literal() {
    let errs = errors(&body(
        "let n = 2; let a = powi(b, n); let c = b.powi(2.0); a + c",
    ));
    assert_eq!(errs.len(), 2, "{errs:#?}");
    check(
        &errs[0],
        "the exponent of `powi` must be an integer literal, such as `2` or `-1`",
        "n",
    );
    check(
        &errs[1],
        "the exponent of `powi` must be an integer literal",
        "2.0",
    );
}

#[test]
fn loss_shape_checks() {
    let errs = errors(
        "fn f(#[input] z: [[f32; 3]; 4], #[input] t: [f32; 4], #[input] p: [[f32; 1]; 4]) -> f32 { \
         cross_entropy(z, t) + cross_entropy(z, p) + mse(p, t) + softmax(1.0).sum() }",
    );
    // `t` [4] is one class index per row of `z`: accepted.
    assert_eq!(errs.len(), 3, "{errs:#?}");
    check(
        &errs[0],
        "cross_entropy: targets must have the logits' shape [4 3] (one-hot or probabilities) or have shape [4] (class indices), got [4 1]",
        "cross_entropy(z, p)",
    );
    check(
        &errs[1],
        "mse: target shape [4] does not match the prediction shape [4 1]",
        "mse(p, t)",
    );
    check(
        &errs[2],
        "`softmax` normalises over the last axis",
        "softmax(1.0)",
    );
}

#[test]
fn bce_target_must_match_the_logits() {
    one(
        &body("binary_cross_entropy_with_logits(y, x)"),
        "binary_cross_entropy_with_logits: target shape [4 2] does not match the logits shape [4]",
        "binary_cross_entropy_with_logits(y, x)",
    );
}

#[test]
fn let_type_annotation_is_checked() {
    one(
        &body("let h: [[f32; 2]; 4] = x.matmul(w); sum(h)"),
        "the type annotation declares shape [4 2], but the value has shape [4]",
        "[[f32; 2]; 4]",
    );
}

// ---- body: syntax outside the language ----

// ---- loops, assignment, indexing, closures, outputs ----

#[test]
fn loop_errors() {
    one(
        &body("let n = b; for k in 0..n { } sum(x)"),
        "a `for` loop runs over a range with integer bounds known at compile time",
        "n",
    );
    one(
        &body("for k in 0.. { } sum(x)"),
        "a `for` loop runs over a range with integer bounds",
        "0..",
    );
    one(
        &body("for k in w { } sum(x)"),
        "a `for` loop runs over a range",
        "w",
    );
    one(
        &body("let mut h = x; for k in 0..2 { relu(h); } sum(h)"),
        "this statement has no effect: a loop body has no value",
        "relu(h);",
    );
    one(
        &body("let mut h = x; for k in 0..2 { h = h * k; } sum(h)"),
        "`k` is a loop variable",
        "k",
    );
    one(
        &body("'outer: for k in 0..2 { } sum(x)"),
        "loop labels are not supported",
        "'outer:",
    );
    one(
        &body("for k in 0..1000000000 { } sum(x)"),
        "this loop runs 1000000000 times; gradc unrolls loops, at most 100000",
        "0..1000000000",
    );
}

#[test]
fn assignment_errors() {
    one(
        &body("h = x; sum(x)"),
        "cannot assign to `h`: no such variable; declare it first with `let mut h = EXPR;`",
        "h",
    );
    one(
        &body("let h = x; h = relu(h); sum(h)"),
        "cannot assign twice to immutable variable `h`; declare it with `let mut h = ...`",
        "h",
    );
    one(
        &body("let mut h = x; h = sum(h); b"),
        "`h` has shape [4 2], but the assigned value has shape []",
        "sum(h)",
    );
    one(
        &body("let mut h = x; h[0] = w; sum(h)"),
        "unsupported assignment: assign to a variable declared with `let mut`",
        "h[0]",
    );
}

#[test]
fn index_errors() {
    one(
        &body("let r = x[4]; sum(r)"),
        "index 4 is out of range: the first axis has length 4 (shape [4 2])",
        "4",
    );
    one(&body("let r = b[0]; r"), "cannot index a scalar", "b");
    one(
        &body("let r = x[b]; sum(r)"),
        "an index is an integer known at compile time",
        "b",
    );
    one(
        &body("let r = x[0 - 1]; sum(r)"),
        "index -1 is out of range",
        "0 - 1",
    );
}

#[test]
fn closure_errors() {
    one(
        &body("let f = |a, c| a * c; f(b)"),
        "closure `f` takes 2 arguments (a, c), got 1",
        "f(b)",
    );
    one(
        &body("let f = |a| -> f32 { a }; f(b)"),
        "a layer closure takes no return type",
        "-> f32",
    );
    one(
        &body("let f = |(a, c)| a; f(b)"),
        "unsupported closure parameter",
        "(a, c)",
    );
    one(&body("let f = |a| a; f"), "`f` is a closure: call it", "f");
    one(
        &body("let f = |a: [f32; 2]| a * 2.0; sum(f(x))"),
        "closure `f`: parameter `a` is declared [f32 ; 2] but this call passes shape [4 2]",
        "f(x)",
    );
}

#[test]
fn output_errors() {
    one(
        &body("let mut h = x; for k in 0..2 { #[output] let p = h; h = p; } sum(h)"),
        "`#[output]` marks a value of the function body itself",
        "#[output]",
    );
    one(
        &body("#[output] let p = b; #[output] let p = b * 2.0; p"),
        "`p` is already an output",
        "p",
    );
    one(
        &body("#[output(x)] let p = b; p"),
        "unsupported attribute on `let`: only `#[output]`",
        "#[output(x)]",
    );
}

#[test]
fn many_unsupported_constructs_are_all_reported() {
    let errs = errors(&body(
        "let a = if b > 0.0 { b } else { 0.0 };
         let c = match b { _ => b };
         let e = vec![1.0];
         let h = y.len;
         let i = b as f64;
         let j = &b;
         let k = b?;
         let l = { b };
         let m = (b, b);
         b",
    ));
    let want = [
        (
            "unsupported syntax: `if` expressions",
            "if b > 0.0 { b } else { 0.0 }",
        ),
        ("unsupported syntax: `match`", "match b { _ => b }"),
        ("unsupported syntax: macros", "vec![1.0]"),
        ("unsupported syntax: field access", "y.len"),
        ("unsupported syntax: `as` casts", "b as f64"),
        ("unsupported syntax: references", "&b"),
        ("unsupported syntax: the `?` operator", "b?"),
        ("unsupported syntax: blocks", "{ b }"),
        ("unsupported syntax: tuples", "(b, b)"),
    ];
    assert_eq!(errs.len(), want.len(), "{errs:#?}");
    for (e, (msg, at)) in errs.iter().zip(want) {
        check(e, msg, at);
    }
}

#[test]
fn unsupported_operators() {
    let errs = errors(&body("let a = b % 2.0; let c = !b; b += 1.0; a"));
    assert_eq!(errs.len(), 3, "{errs:#?}");
    check(
        &errs[0],
        "unsupported operator; supported operators are `+`, `-`, `*`, `/` and unary `-`",
        "%",
    );
    check(&errs[1], "unsupported operator", "!");
    check(
        &errs[2],
        "unsupported syntax: compound assignment",
        "b += 1.0",
    );
}

#[test]
fn assignment_inside_an_expression() {
    one(
        &body("let a = (b = 1.0); b"),
        "an assignment is a statement of its own",
        "b = 1.0",
    );
}

#[test]
fn statements_that_are_not_let() {
    let errs = errors(&body("relu(b); fn helper() {} b"));
    assert_eq!(errs.len(), 2, "{errs:#?}");
    check(&errs[0], "this statement has no effect", "relu(b);");
    check(
        &errs[1],
        "items (`fn`, `struct`, `use`, ...) are not allowed in a network body",
        "fn helper() {}",
    );
}

#[test]
fn macro_statement() {
    one(
        &body("println!(\"hi\"); b"),
        "unsupported syntax: macros",
        "println!(\"hi\");",
    );
}

#[test]
fn let_patterns() {
    let errs = errors(&body("let (p, q) = (b, b); let mut r = b; let s; r"));
    assert_eq!(errs.len(), 3, "{errs:#?}");
    check(
        &errs[0],
        "unsupported `let` pattern: bind one plain identifier",
        "(p, q)",
    );
    check(&errs[1], "unsupported syntax: tuples", "(b, b)");
    check(&errs[2], "`let` needs a value", "let s;");
}

#[test]
fn missing_tail_expression() {
    one(&body("let a = b;"), "missing final expression", "}");
    one("fn f(x: f32) -> f32 {}", "missing final expression", "}");
}

#[test]
fn trailing_semicolon_on_the_result() {
    one(&body("mse(x.matmul(w), y);"), "remove this `;`", ";");
}

#[test]
fn early_return() {
    one(
        &body("return b; b"),
        "`return` is only allowed as the last statement",
        "return b",
    );
}

#[test]
fn literals_that_are_not_numbers() {
    let errs = errors(&body(
        "let s = \"one\"; let t = true; let u = 2usize; let v = 1.0f64; b",
    ));
    assert_eq!(errs.len(), 4, "{errs:#?}");
    check(
        &errs[0],
        "unsupported literal: only number literals",
        "\"one\"",
    );
    check(&errs[1], "unsupported literal", "true");
    check(&errs[2], "unsupported literal suffix `usize`", "2usize");
    check(
        &errs[3],
        "literal suffix `f64` does not match the network's element type `f32`",
        "1.0f64",
    );
}

#[test]
fn paths_and_indirect_calls() {
    let errs = errors(&body(
        "let a = std::f32::consts::PI; let c = f32::max(b, b); a",
    ));
    assert_eq!(errs.len(), 2, "{errs:#?}");
    check(
        &errs[0],
        "unsupported path: expected a variable name",
        "std::f32::consts::PI",
    );
    check(
        &errs[1],
        "unsupported call: call a supported function by its plain name",
        "f32::max",
    );
}

// ---- collecting ----

#[test]
fn errors_from_attribute_signature_and_body_are_combined_in_order() {
    let errs = errors_with(
        "bogus",
        "fn f(x: i32, #[input] y: [f32; 2]) -> f32 { let a = y + q; let c = for_each(y); a }",
    );
    let at: Vec<&str> = errs.iter().map(|e| e.1.as_str()).collect();
    assert_eq!(at, ["bogus", "i32", "q", "for_each"], "{errs:#?}");
}

#[test]
fn compile_error_tokens_carry_every_message() {
    let item: TokenStream = body("let a = foo(x); let c = y.t() + w; a")
        .parse()
        .unwrap();
    let Err(err) = parse_network(TokenStream::new(), item) else {
        panic!("expected errors");
    };
    let tokens = err.to_compile_error().to_string();
    assert!(tokens.contains("unknown function `foo`"), "{tokens}");
    assert!(
        tokens.contains("shapes [4] and [2] do not broadcast"),
        "{tokens}"
    );
    assert_eq!(tokens.matches("compile_error").count(), 2, "{tokens}");
}

#[test]
fn unparsable_item_is_an_error_not_a_panic() {
    let errs = errors("struct S;");
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert!(errs[0].0.contains("expected"), "{errs:#?}");
}

// ---- axis reductions, layer_norm, concat ----

#[test]
fn axis_out_of_range_names_the_valid_axes() {
    one(
        &body("sum(x.max_axis(2))"),
        "`max_axis`: axis 2 is out of range for shape [4 2]; valid axes are 0 and 1",
        "2",
    );
    one(
        "fn f(w: [[[f32; 2]; 3]; 4]) -> f32 { sum(logsumexp_axis(w, 3)) }",
        "axis 3 is out of range for shape [4 3 2]; valid axes are 0 to 2",
        "3",
    );
    one(
        &body("sum(sum_axis(y, -1))"),
        "`sum_axis`: the axis must be a non-negative integer literal",
        "-1",
    );
}

#[test]
fn concat_along_the_batch_axis_is_an_error() {
    one(
        "fn f<const B: usize>(#[input] x: [f32; B], w: [f32; 3]) -> f32 { sum(concat(x, w)) }",
        "the last axis, along which it joins, must not be the batch size `B`",
        "concat(x, w)",
    );
}

#[test]
fn layer_norm_needs_an_axis() {
    one(
        &body("layer_norm(b, w, w)"),
        "`layer_norm` normalises over the last axis and needs a 1-D or larger tensor",
        "layer_norm(b, w, w)",
    );
}
