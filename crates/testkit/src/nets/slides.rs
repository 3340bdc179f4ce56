// The lecture's networks (`shared/seed/deep-feedforward-networks.txt`), compiled
// here by `#[network]` and read by the `gradc` CLI tests as a source file, so
// both paths see the same text.
use gradc::network;

/// Slide 14: one ReLU hidden layer of two units, a linear output, MSE. Also N1,
/// the first benchmark network.
// The path form of the attribute, which the CLI must recognise too.
#[gradc::network]
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

/// The same network's predictions (every argument is data, so no gradients).
#[network]
pub fn xor_predict(
    #[input] x: [[f32; 2]; 4],
    #[input] w1: [[f32; 2]; 2],
    #[input] c: [f32; 2],
    #[input] w2: [f32; 2],
    #[input] b: f32,
) -> [f32; 4] {
    let h = relu(x.matmul(w1) + c);
    h.matmul(w2) + b
}

/// Slides 7-10: the linear model f(x) = xᵀw + b on XOR.
#[network]
pub fn linear(#[input] x: [[f64; 2]; 4], #[input] y: [f64; 4], w: [f64; 2], b: f64) -> f64 {
    mse(x.matmul(w) + b, y)
}

/// Slides 42-52: the 2-2-2 sigmoid network without biases, a = xᵀW, loss ½‖y − ŷ‖².
#[network]
pub fn slides_222(
    #[input] x: [f64; 2],
    #[input] y: [f64; 2],
    w1: [[f64; 2]; 2],
    w2: [[f64; 2]; 2],
) -> f64 {
    let h = sigmoid(x.matmul(w1));
    let yhat = sigmoid(h.matmul(w2));
    0.5 * sum((y - yhat).powi(2))
}

/// Slide 53: x = f(w), y = f(x), z = f(y). The fused pass evaluates each f once and
/// the derivative reuses the stored values.
#[network]
pub fn chain(w: f64) -> f64 {
    let x = sigmoid(w);
    let y = sigmoid(x);
    sigmoid(y)
}
