//! A library of `#[network]`s held to the strictest common lint settings: every
//! generated public item must be documented and warning-free (rustc and clippy's
//! pedantic group), in editions 2021 and 2024. `tests/fresh_crate.rs` builds it.

#![deny(missing_docs, warnings)]
#![warn(clippy::pedantic)]

use gradc::network;

/// XOR with two `relu` hidden units.
#[network]
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

/// A classifier for any batch size, with `#[output]` values for prediction.
#[network]
pub fn classifier<const B: usize>(
    #[input] x: [[f64; 4]; B],
    #[input] labels: [f64; B],
    w: [[f64; 3]; 4],
    b: [f64; 3],
) -> f64 {
    #[output]
    let logits = x.matmul(w) + b;
    #[output]
    let probs = softmax(logits);
    cross_entropy(logits, labels)
}

/// A network of inputs only: no gradients, `forward` returns a tensor.
#[network]
pub fn affine(#[input] x: [f32; 3], #[input] w: [f32; 3]) -> [f32; 3] {
    x * w + 1.0
}

/// Large enough that its scratch lives in a `Workspace` on the heap.
#[network]
pub fn mlp<const B: usize>(
    #[input] x: [[f32; 64]; B],
    #[input] t: [[f32; 10]; B],
    w1: [[f32; 64]; 64],
    w2: [[f32; 10]; 64],
) -> f32 {
    let h = relu(x.matmul(w1));
    cross_entropy(h.matmul(w2), t)
}

/// Eight arguments: the fn's `#[allow]` also covers its generated module.
#[allow(clippy::too_many_arguments)]
#[network]
pub fn deep(
    #[input] x: [[f32; 3]; 2],
    #[input] y: [[f32; 2]; 2],
    w1: [[f32; 3]; 3],
    b1: [f32; 3],
    w2: [[f32; 3]; 3],
    b2: [f32; 3],
    w3: [[f32; 2]; 3],
    b3: [f32; 2],
) -> f32 {
    let h = tanh(x.matmul(w1) + b1);
    let h = tanh(h.matmul(w2) + b2);
    mse(h.matmul(w3) + b3, y)
}

/// Layers shared by the networks of one module.
#[gradc::layers]
pub mod shared {
    fn dense(x: _, w: _, b: _) -> _ {
        tanh(x.matmul(w) + b)
    }

    /// One dense layer against targets.
    #[network]
    pub fn wide(
        #[input] x: [[f64; 3]; 2],
        #[input] y: [[f64; 4]; 2],
        w: [[f64; 4]; 3],
        b: [f64; 4],
    ) -> f64 {
        mse(dense(x, w, b), y)
    }
}
