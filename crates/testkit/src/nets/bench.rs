//! The benchmark networks N2-N4 (N1 is [`mod@super::xor`]), and N1, N3 and N4 written
//! once for any batch size. A step is loss plus every parameter gradient, f32.

use gradc::network;

/// N2: 2-2-2 sigmoid, ½‖y − ŷ‖², batch 1.
#[network]
pub fn n2(
    #[input] x: [f32; 2],
    #[input] y: [f32; 2],
    w1: [[f32; 2]; 2],
    b1: [f32; 2],
    w2: [[f32; 2]; 2],
    b2: [f32; 2],
) -> f32 {
    let h = sigmoid(x.matmul(w1) + b1);
    let yhat = sigmoid(h.matmul(w2) + b2);
    0.5 * sum((y - yhat).powi(2))
}

/// N3: 64-64-10 ReLU, softmax cross-entropy, batch 32.
#[network]
pub fn n3(
    #[input] x: [[f32; 64]; 32],
    #[input] y: [[f32; 10]; 32],
    w1: [[f32; 64]; 64],
    b1: [f32; 64],
    w2: [[f32; 10]; 64],
    b2: [f32; 10],
) -> f32 {
    let h = relu(x.matmul(w1) + b1);
    let z = h.matmul(w2) + b2;
    cross_entropy(z, y)
}

/// N4: 784-256-128-10 ReLU, softmax cross-entropy, batch 128. Its `Params`
/// (about 0.9 MB) do not fit a test thread's stack: box them.
#[network]
#[allow(clippy::too_many_arguments)]
pub fn n4(
    #[input] x: [[f32; 784]; 128],
    #[input] y: [[f32; 10]; 128],
    w1: [[f32; 256]; 784],
    b1: [f32; 256],
    w2: [[f32; 128]; 256],
    b2: [f32; 128],
    w3: [[f32; 10]; 128],
    b3: [f32; 10],
) -> f32 {
    let h1 = relu(x.matmul(w1) + b1);
    let h2 = relu(h1.matmul(w2) + b2);
    let z = h2.matmul(w3) + b3;
    cross_entropy(z, y)
}

/// N1 for any batch size.
#[network]
pub fn n1b<const B: usize>(
    #[input] x: [[f32; 2]; B],
    #[input] y: [f32; B],
    w1: [[f32; 2]; 2],
    c: [f32; 2],
    w2: [f32; 2],
    b: f32,
) -> f32 {
    let h = relu(x.matmul(w1) + c);
    let yhat = h.matmul(w2) + b;
    mse(yhat, y)
}

/// N3 for any batch size.
#[network]
pub fn n3b<const B: usize>(
    #[input] x: [[f32; 64]; B],
    #[input] y: [[f32; 10]; B],
    w1: [[f32; 64]; 64],
    b1: [f32; 64],
    w2: [[f32; 10]; 64],
    b2: [f32; 10],
) -> f32 {
    let h = relu(x.matmul(w1) + b1);
    let z = h.matmul(w2) + b2;
    cross_entropy(z, y)
}

/// N4 for any batch size.
#[network]
#[allow(clippy::too_many_arguments)]
pub fn n4b<const B: usize>(
    #[input] x: [[f32; 784]; B],
    #[input] y: [[f32; 10]; B],
    w1: [[f32; 256]; 784],
    b1: [f32; 256],
    w2: [[f32; 128]; 256],
    b2: [f32; 128],
    w3: [[f32; 10]; 128],
    b3: [f32; 10],
) -> f32 {
    let h1 = relu(x.matmul(w1) + b1);
    let h2 = relu(h1.matmul(w2) + b2);
    let z = h2.matmul(w3) + b3;
    cross_entropy(z, y)
}
