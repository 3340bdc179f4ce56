//! The same source yields byte-identical generated code: within one process,
//! in two builds of the same network in one crate, and across processes (whose
//! hash seeds differ, so any `HashMap` iteration deciding output would show).

use quote::quote;
use std::process::Command;

/// Expansions of a few networks (shared subexpressions, fan-out, softmax,
/// fast_math) concatenated: everything the macro emits, `GRADIENT_CODE` included.
fn expansions() -> String {
    let items = [
        (
            quote!(),
            quote! {
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
            },
        ),
        (
            quote!(fast_math),
            quote! {
                fn clf(#[input] x: [[f64; 3]; 4], #[input] t: [[f64; 2]; 4], w: [[f64; 3]; 2], b: [f64; 2]) -> f64 {
                    let z = x.matmul(w.t()) + b;
                    let s = sigmoid(z);
                    let u = sigmoid(z) * s + s;
                    cross_entropy(z, t) + mean(log_softmax(u)) + sum(softmax(z) * t)
                }
            },
        ),
        (
            quote!(),
            quote! {
                fn gen<const B: usize>(#[input] x: [[f32; 64]; B], #[input] t: [[f32; 10]; B], w1: [[f32; 64]; 64], b1: [f32; 64], w2: [[f32; 10]; 64]) -> f32 {
                    let h = relu(x.matmul(w1) + b1);
                    cross_entropy(h.matmul(w2), t) + mse(h, 0.5)
                }
            },
        ),
        (
            quote!(),
            quote! {
                fn chain(w: f64) -> f64 {
                    let x = sigmoid(w);
                    let y = sigmoid(x);
                    sigmoid(y)
                }
            },
        ),
    ];
    items
        .into_iter()
        .map(|(attr, item)| gradc_driver::expand(attr, item).to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn expansion_is_byte_identical() {
    let first = expansions();
    for _ in 0..3 {
        assert_eq!(expansions(), first);
    }
    assert!(first.contains("fn forward_backward"), "{first}");
    assert!(first.contains("GRADIENT_CODE"), "{first}");
}

const CHILD: &str = "GRADC_DETERMINISM_CHILD_OUT";

/// Runs this very test in a child process, which writes its expansions to a
/// file; the parent compares them with its own byte for byte.
#[test]
fn expansion_is_byte_identical_across_processes() {
    if let Ok(path) = std::env::var(CHILD) {
        std::fs::write(path, expansions()).expect("child writes its expansion");
        return;
    }
    let path = std::env::temp_dir().join(format!("gradc-determinism-{}.txt", std::process::id()));
    let status = Command::new(std::env::current_exe().expect("test binary path"))
        .args([
            "--exact",
            "expansion_is_byte_identical_across_processes",
            "--test-threads=1",
        ])
        .env(CHILD, &path)
        .status()
        .expect("spawn the test binary");
    assert!(status.success(), "child process failed");
    let child = std::fs::read_to_string(&path).expect("child output");
    let _ = std::fs::remove_file(&path);
    let mine = expansions();
    assert!(!child.is_empty());
    assert!(child == mine, "the expansion differs between two processes");
}

mod first {
    use gradc::network;

    #[network(fast_math)]
    pub fn net(
        #[input] x: [[f64; 3]; 4],
        #[input] t: [[f64; 2]; 4],
        w: [[f64; 3]; 2],
        b: [f64; 2],
    ) -> f64 {
        let z = x.matmul(w.t()) + b;
        let s = sigmoid(z);
        cross_entropy(z, t) + mean(log_softmax(sigmoid(z) * s + s))
    }
}

mod second {
    use gradc::network;

    #[network(fast_math)]
    pub fn net(
        #[input] x: [[f64; 3]; 4],
        #[input] t: [[f64; 2]; 4],
        w: [[f64; 3]; 2],
        b: [f64; 2],
    ) -> f64 {
        let z = x.matmul(w.t()) + b;
        let s = sigmoid(z);
        cross_entropy(z, t) + mean(log_softmax(sigmoid(z) * s + s))
    }
}

/// The same network built twice by the macro in one crate.
#[test]
fn two_builds_give_the_same_gradient_code() {
    assert_eq!(first::net::GRADIENT_CODE, second::net::GRADIENT_CODE);
    assert!(first::net::GRADIENT_CODE.contains("fn forward_backward"));
}
