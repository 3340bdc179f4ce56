//! Hostile inputs that are valid Rust (issue #15): any identifier rustc
//! accepts, names equal to what the macro generates, networks named like the
//! generated items or the attribute, networks in function bodies, deep and
//! long expressions, extreme but finite literals, every spelling of a length.
//! Each network's loss and gradients are checked against the tape
//! interpreter and against a hand computation in f64. The compile-fail half
//! is `tests/ui/hostile_*.rs`.
// Parenthesised types are one of the spellings tried.
#![allow(non_snake_case, mixed_script_confusables, unused_parens, clippy::all)]

use ::gradc::network;
use ::gradc::{Float, Network, Tensors};

/// Compiled and interpreted loss and gradients of `N` agree with each other
/// and with the hand-computed `loss` and `grads` (flat, parameters in order).
fn agree<N: Network>(p: &N::Params, i: &N::Inputs, loss: f64, grads: &[f64], tol: f64) {
    let close = |a: f64, b: f64| (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()));
    let mut g = *N::Grads::zeros_boxed();
    let l = N::forward_backward(p, i, &mut g).to_f64();
    let mut ig = *N::Grads::zeros_boxed();
    let il = N::interpreted_forward_backward(p, i, &mut ig).to_f64();
    assert!(
        close(l, loss) && close(il, loss),
        "{}: loss {l}, interpreted {il}, by hand {loss}",
        N::NAME
    );
    let flat =
        |g: &N::Grads| -> Vec<f64> { g.to_flat_vec().into_iter().map(Float::to_f64).collect() };
    let (cg, ig) = (flat(&g), flat(&ig));
    assert_eq!(cg.len(), grads.len(), "{}", N::NAME);
    for k in 0..grads.len() {
        assert!(
            close(cg[k], grads[k]) && close(ig[k], grads[k]),
            "{}: gradient {k}: {} compiled, {} interpreted, {} by hand",
            N::NAME,
            cg[k],
            ig[k],
            grads[k]
        );
    }
}

const F32: f64 = 1e-5;
const F64: f64 = 1e-12;

#[network]
fn unicode(#[input] ω: [f32; 2], ŷ: [f32; 2]) -> f32 {
    let δ = ω - ŷ;
    sum(δ * δ)
}

#[network]
fn raw(#[input] r#type: [f64; 2], gen: [f64; 2], r#fn: f64) -> f64 {
    let r#loop = r#type * gen;
    let r#gen = r#fn * r#fn;
    sum(r#loop) + r#gen
}

/// Arguments named like the generated functions' own arguments and locals.
#[network]
fn locals(#[input] params: [f64; 2], inputs: [f64; 2], grads: [f64; 2], ws: f64, it: f64) -> f64 {
    let loss = params * inputs + grads * ws;
    let out = sum(loss) * it;
    let t3 = out * 2.0;
    let i = t3 + out;
    let d_ws = i * 0.5;
    d_ws
}

/// Bindings named like generated items and adjoint locals.
#[network]
fn bindings(#[input] x: f64, w: f64) -> f64 {
    let forward = x * w;
    let graph = forward + w;
    let Params = graph * graph;
    let Net = Params - w;
    let d_w = Net * 0.5;
    let gradc = d_w + 1.0;
    let core = gradc * x;
    core
}

/// Arguments named like the crates generated code names (`::gradc`, `::std`).
#[network]
fn crates(#[input] core: f64, std: f64, gradc: f64) -> f64 {
    (core + std) * gradc
}

/// The network's name is also one of its arguments and a binding.
#[network]
fn x(#[input] x: f64, w: f64) -> f64 {
    let w2 = x * w;
    let x = w2 * w;
    x
}

mod named {
    use gradc::network;

    #[network]
    pub fn forward(#[input] x: f64, w: f64) -> f64 {
        x * w
    }

    #[network]
    pub fn graph(#[input] x: f64, w: f64) -> f64 {
        x * w + w
    }

    #[network]
    pub fn network(#[input] x: f64, w: f64) -> f64 {
        x * w * w
    }

    #[network]
    pub fn Params(#[input] Inputs: f64, Grads: f64) -> f64 {
        Inputs * Grads
    }

    #[network]
    pub fn ω(#[input] x: f32, w: f32) -> f32 {
        x - w
    }

    #[network]
    pub fn r#match(#[input] x: f64, w: f64) -> f64 {
        (x - w) * (x - w)
    }

    #[network]
    pub fn predict(#[input] forward: f64, report: f64, graph: f64, Net: f64, B: f64) -> f64 {
        forward * report + graph * Net * B
    }

    #[network]
    pub fn core(#[input] x: f64, w: f64) -> f64 {
        x / w
    }
}

/// A module named `gradc`: generated code names `::gradc`, never `gradc`.
mod gradc {
    #[::gradc::network]
    pub fn gradc(#[input] x: f64, w: f64) -> f64 {
        x * w - w
    }
}

/// Attributes and visibility on the function stay on it.
#[network]
#[allow(clippy::all)]
#[inline]
#[doc = "a documented network"]
pub(crate) fn attributed(#[input] x: f64, w: f64) -> f64 {
    x + w
}

/// Every spelling of a length rustc accepts.
#[network]
fn lengths(
    #[input] a: [f64; 2usize],
    b: [f64; 0x2],
    c: [f64; 0b10],
    d: [f64; 1_0],
    e: ([f64; 2]),
    f: [(f64); 2],
) -> f64 {
    sum(a * b + c * e * f) + sum(d)
}

/// Extreme but finite literals.
#[network]
fn literals64(w: f64) -> f64 {
    w * 1.7e308 * 1e-308 + w * 5e-324 * 0.0 + 1.7976931348623157e308 * 0.0
}

#[network]
fn literals32(w: f32) -> f32 {
    w * 3.4e38 * 1e-38 + w * 1e-45
}

/// 850 nested parentheses: as deep as rustc's own parser takes easily.
#[rustfmt::skip]
#[network]
fn deep(w: f64) -> f64 {
    ((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((w * 3.0))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))
}

/// 400 nested calls.
#[rustfmt::skip]
#[network]
fn nested(w: f64) -> f64 {
    tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(tanh(w))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))
}

/// A flat sum of 1000 terms.
#[rustfmt::skip]
#[network]
fn flat(w: f64) -> f64 {
    w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0 + w * 1.0 + w * 2.0 + w * 3.0 + w * 4.0 + w * 5.0
}

/// A chain of 200 `let`s rebinding one name.
#[rustfmt::skip]
#[network]
fn chain(w: f64) -> f64 {
    let h = w;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    let h = h * 0.5 + 1.0;
    h
}

#[test]
fn unicode_names() {
    let p = unicode::Params { ŷ: [1.0, 2.0] };
    let i = unicode::Inputs { ω: [3.0, 5.0] };
    // Σ(ω − ŷ)² = 4 + 9; d/dŷ = −2(ω − ŷ).
    agree::<unicode::Net>(&p, &i, 13.0, &[-4.0, -6.0], F32);
    assert_eq!(unicode::Params::SHAPES[0].0, "ŷ");
}

#[test]
fn raw_and_edition_keywords() {
    let p = raw::Params {
        gen: [0.5, -2.0],
        r#fn: 3.0,
    };
    let i = raw::Inputs { r#type: [4.0, 1.5] };
    // Σ type·gen + fn² = 2 − 3 + 9; d/dgen = type, d/dfn = 2·fn.
    agree::<raw::Net>(&p, &i, 8.0, &[4.0, 1.5, 6.0], F64);
}

#[test]
fn names_of_generated_locals() {
    let p = locals::Params {
        inputs: [1.0, 2.0],
        grads: [3.0, -1.0],
        ws: 0.5,
        it: 2.0,
    };
    let i = locals::Inputs { params: [4.0, 5.0] };
    // s = Σ(params·inputs + grads·ws) = 4 + 10 + 1.5 − 0.5 = 15; out = s·it;
    // result = (3·out)·0.5 = 1.5·s·it.
    let s = 15.0;
    let k = 1.5 * 2.0;
    agree::<locals::Net>(
        &p,
        &i,
        1.5 * s * 2.0,
        &[
            4.0 * k,
            5.0 * k,
            0.5 * k,
            0.5 * k,
            1.5 * (3.0 - 1.0) * 2.0,
            1.5 * s,
        ],
        F64,
    );
}

#[test]
fn bindings_named_like_generated_items() {
    let (x, w) = (1.5f64, -0.5f64);
    let p = bindings::Params { w };
    let i = bindings::Inputs { x };
    // ((x·w + w)² − w)/2 + 1, times x.
    let g = x * w + w;
    let loss = ((g * g - w) * 0.5 + 1.0) * x;
    let dw = (2.0 * g * (x + 1.0) - 1.0) * 0.5 * x;
    agree::<bindings::Net>(&p, &i, loss, &[dw], F64);
}

#[test]
fn arguments_named_like_crates() {
    let p = crates::Params {
        std: 2.0,
        gradc: 3.0,
    };
    let i = crates::Inputs { core: 1.0 };
    agree::<crates::Net>(&p, &i, 9.0, &[3.0, 3.0], F64);
}

#[test]
fn network_named_like_its_argument() {
    let p = x::Params { w: 3.0 };
    let i = x::Inputs { x: 2.0 };
    // x·w²; d/dw = 2xw.
    agree::<x::Net>(&p, &i, 18.0, &[12.0], F64);
    assert_eq!(x(2.0, 3.0), 18.0);
}

#[test]
fn networks_named_like_generated_items() {
    use named::*;
    agree::<forward::Net>(
        &forward::Params { w: 3.0 },
        &forward::Inputs { x: 2.0 },
        6.0,
        &[2.0],
        F64,
    );
    agree::<graph::Net>(
        &graph::Params { w: 3.0 },
        &graph::Inputs { x: 2.0 },
        9.0,
        &[3.0],
        F64,
    );
    agree::<network::Net>(
        &network::Params { w: 3.0 },
        &network::Inputs { x: 2.0 },
        18.0,
        &[12.0],
        F64,
    );
    agree::<Params::Net>(
        &Params::Params { Grads: 3.0 },
        &Params::Inputs { Inputs: 2.0 },
        6.0,
        &[2.0],
        F64,
    );
    agree::<ω::Net>(
        &ω::Params { w: 0.25 },
        &ω::Inputs { x: 2.0 },
        1.75,
        &[-1.0],
        F32,
    );
    agree::<r#match::Net>(
        &r#match::Params { w: 0.5 },
        &r#match::Inputs { x: 2.0 },
        2.25,
        &[-3.0],
        F64,
    );
    let p = predict::Params {
        report: 2.0,
        graph: 3.0,
        Net: -1.0,
        B: 0.5,
    };
    // forward·report + graph·Net·B.
    agree::<predict::Net>(
        &p,
        &predict::Inputs { forward: 4.0 },
        8.0 - 1.5,
        &[4.0, -0.5, 1.5, -3.0],
        F64,
    );
    agree::<core::Net>(
        &core::Params { w: 4.0 },
        &core::Inputs { x: 2.0 },
        0.5,
        &[-2.0 / 16.0],
        F64,
    );
    agree::<gradc::gradc::Net>(
        &gradc::gradc::Params { w: 3.0 },
        &gradc::gradc::Inputs { x: 2.0 },
        3.0,
        &[1.0],
        F64,
    );
    assert_eq!(<named::ω::Net as Network>::NAME, "ω");
}

#[test]
fn network_in_a_function_body() {
    #[network]
    fn inner(#[input] x: [f64; 2], w: f64) -> f64 {
        sum(x * w * w)
    }
    agree::<inner::Net>(
        &inner::Params { w: 3.0 },
        &inner::Inputs { x: [1.0, 2.0] },
        27.0,
        &[18.0],
        F64,
    );
    assert_eq!(inner([1.0, 2.0], 3.0), 27.0);
}

#[test]
fn attributes_stay() {
    agree::<attributed::Net>(
        &attributed::Params { w: 3.0 },
        &attributed::Inputs { x: 2.0 },
        5.0,
        &[1.0],
        F64,
    );
}

#[test]
fn length_spellings() {
    let p = lengths::Params {
        b: [1.0, 2.0],
        c: [3.0, 4.0],
        d: [1.0; 10],
        e: [0.5, 2.0],
        f: [1.0, -1.0],
    };
    let i = lengths::Inputs { a: [2.0, 3.0] };
    // Σ(a·b + c·e·f) + Σd = (2 + 6) + (1.5 − 8) + 10.
    let grads = [
        [2.0, 3.0].as_slice(),
        &[0.5, -2.0],
        &[1.0; 10],
        &[3.0, -4.0],
        &[1.5, 8.0],
    ]
    .concat();
    agree::<lengths::Net>(&p, &i, 11.5, &grads, F64);
}

#[test]
fn extreme_finite_literals() {
    agree::<literals64::Net>(
        &literals64::Params { w: 0.5 },
        &literals64::Inputs {},
        0.5 * 1.7e308 * 1e-308,
        &[1.7e308 * 1e-308],
        1e-12,
    );
    // 3.4e38 and 1e-45 round to f32 values (the largest finite, the smallest subnormal).
    let k = 3.4e38f32 as f64 * 1e-38f32 as f64;
    agree::<literals32::Net>(
        &literals32::Params { w: 2.0 },
        &literals32::Inputs {},
        2.0 * k,
        &[k],
        F32,
    );
}

#[test]
fn deep_expressions() {
    agree::<deep::Net>(&deep::Params { w: 2.0 }, &deep::Inputs {}, 6.0, &[3.0], F64);
    let (mut v, mut d) = (0.3f64, 1.0f64);
    for _ in 0..400 {
        d *= 1.0 - v.tanh() * v.tanh();
        v = v.tanh();
    }
    agree::<nested::Net>(
        &nested::Params { w: 0.3 },
        &nested::Inputs {},
        v,
        &[d],
        1e-10,
    );
    agree::<flat::Net>(
        &flat::Params { w: 0.5 },
        &flat::Inputs {},
        0.5 * 3000.0,
        &[3000.0],
        F64,
    );
    // h ← h·0.5 + 1, 200 times: h = w/2²⁰⁰ + Σ 2⁻ᵏ.
    let (mut h, mut dh) = (0.75f64, 1.0f64);
    for _ in 0..200 {
        h = h * 0.5 + 1.0;
        dh *= 0.5;
    }
    agree::<chain::Net>(&chain::Params { w: 0.75 }, &chain::Inputs {}, h, &[dh], F64);
}
