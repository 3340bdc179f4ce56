//! The shape of the generated code: it parses, formats, is deterministic, and
//! reads as expected (snapshots). Running it is tested in `run_generated.rs`.

mod common;

use common::{kitchen_sink, xor_graph, xor_joint};
use gradc_codegen::{emit_forward, emit_forward_backward, pretty, rust_type};
use gradc_ir::{DType, Graph, Op, Shape, UnaryOp};

/// The first fn of the generated items (`forward_backward` also comes with its
/// `Workspace` API).
fn parses_as_fn(ts: &proc_macro2::TokenStream) -> syn::ItemFn {
    let file: syn::File = syn::parse2(ts.clone()).expect("generated code parses");
    file.items
        .into_iter()
        .find_map(|i| match i {
            syn::Item::Fn(f) => Some(f),
            _ => None,
        })
        .expect("generated code has a fn")
}

#[test]
fn rust_types_nest_outermost_first() {
    let t = |d: &[usize]| rust_type(DType::F32, &Shape::new(d.to_vec())).to_string();
    assert_eq!(t(&[]), "f32");
    assert_eq!(t(&[2]), "[f32 ; 2]");
    assert_eq!(t(&[4, 2]), "[[f32 ; 2] ; 4]");
    assert_eq!(
        rust_type(DType::F64, &Shape::new([3, 1, 2])).to_string(),
        "[[[f64 ; 2] ; 1] ; 3]"
    );
}

#[test]
fn xor_forward_backward_reads_like_the_hand_derivation() {
    let ts = emit_forward_backward(&xor_joint(DType::F32)).unwrap();
    let f = parses_as_fn(&ts);
    assert_eq!(f.sig.ident, "forward_backward");
    insta::assert_snapshot!("xor_forward_backward", pretty(&ts).unwrap());
}

#[test]
fn xor_forward_returns_the_loss() {
    let ts = emit_forward(&xor_graph(DType::F64)).unwrap();
    assert_eq!(parses_as_fn(&ts).sig.ident, "forward");
    insta::assert_snapshot!("xor_forward", pretty(&ts).unwrap());
}

#[test]
fn kitchen_sink_snapshot() {
    let ts = emit_forward(&kitchen_sink()).unwrap();
    parses_as_fn(&ts);
    let src = pretty(&ts).unwrap();
    // Unused leaves get no binding; names never shadow the function's own.
    assert!(!src.contains("unused"));
    assert!(src.contains("let params_2: &[f32] = &params.params[..];"));
    insta::assert_snapshot!("kitchen_sink_forward", src);
}

#[test]
fn same_graph_same_tokens() {
    for g in [xor_joint(DType::F32), xor_joint(DType::F64)] {
        let a = emit_forward_backward(&g).unwrap().to_string();
        let b = emit_forward_backward(&g.clone()).unwrap().to_string();
        assert_eq!(a, b);
    }
    let a = emit_forward(&kitchen_sink()).unwrap().to_string();
    let b = emit_forward(&kitchen_sink()).unwrap().to_string();
    assert_eq!(a, b);
}

#[test]
fn large_buffers_go_on_the_heap() {
    let mut g = Graph::new(DType::F32);
    let x = g.add_input("x", Shape::new([64, 80]));
    let s = g.add(Op::Unary(UnaryOp::Sigmoid), &[x]).unwrap();
    let t = g.add(Op::Unary(UnaryOp::Tanh), &[x]).unwrap();
    g.add_root("out", t);
    let _ = s;
    let src = pretty(&emit_forward(&g).unwrap()).unwrap();
    assert!(src.contains("vec![0.0f32; 5120]"), "{src}");
    // The sigmoid node is dead: not emitted.
    assert!(!src.contains("sigmoid"), "{src}");
}

#[test]
fn a_constant_output_reads_nothing() {
    let mut g = Graph::new(DType::F64);
    g.add_input("x", Shape::new([2]));
    let c = g.constant(-2.5);
    g.add_root("out", c);
    let src = pretty(&emit_forward(&g).unwrap()).unwrap();
    assert!(
        src.contains("pub fn forward(_params: &Params, _inputs: &Inputs) -> f64"),
        "{src}"
    );
    assert!(src.contains("-2.5f64"), "{src}");
}

#[test]
fn malformed_joint_graphs_are_errors_not_panics() {
    // Roots in the wrong order.
    let mut g = xor_graph(DType::F32);
    let w1 = g.params()[0];
    g.add_root("d_w1", w1);
    assert!(emit_forward_backward(&g).is_err());
    // A gradient with the wrong shape.
    let (mut g, h, _, loss) = common::xor_forward(DType::F32);
    g.add_root("loss", loss);
    for name in ["d_w1", "d_c", "d_w2", "d_b"] {
        g.add_root(name, h);
    }
    let e = emit_forward_backward(&g).unwrap_err();
    assert!(e.message.contains("d_w1"), "{}", e.message);
    // A root naming a node that does not exist.
    let mut g = xor_graph(DType::F32);
    g.add_root("d_w1", gradc_ir::NodeId::from_index(999));
    assert!(emit_forward_backward(&g).is_err());
    // No root at all.
    assert!(emit_forward(&Graph::new(DType::F32)).is_err());
    // A leaf whose name is no identifier.
    let mut g = Graph::new(DType::F32);
    let x = g.add_input("not an ident", Shape::new([2]));
    g.add_root("out", x);
    assert!(emit_forward(&g).is_err());
}
