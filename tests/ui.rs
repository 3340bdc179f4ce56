//! Compile-fail cases: each bad network must fail with a locked, spanned message
//! that says what is supported.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
