//! The same source yields byte-identical generated code.

use quote::quote;

#[test]
fn expansion_is_byte_identical() {
    let item = quote! {
        pub fn xor(
            #[input] x: [[f32; 2]; 4],
            #[input] y: [f32; 4],
            w1: [[f32; 2]; 2],
            c: [f32; 2],
            w2: [f32; 2],
            b: f32,
        ) -> f32 {
            let h = relu(x.matmul(w1) + c);
            let yhat = h.matmul(w2) + b;
            mse(yhat, y)
        }
    };
    let first = gradc_driver::expand(quote!(), item.clone()).to_string();
    for _ in 0..3 {
        assert_eq!(
            gradc_driver::expand(quote!(), item.clone()).to_string(),
            first
        );
    }
    assert!(first.contains("fn forward_backward"), "{first}");
}
