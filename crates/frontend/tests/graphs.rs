//! Lowering of valid networks: the forward graph text (written out by hand from
//! ARCHITECTURE.md's desugaring table), shapes, leaves and the model's fields.

use gradc_frontend::{lower, parse_network, Network};
use gradc_ir::{DType, Shape};
use quote::quote;

fn net(item: syn::ItemFn) -> Network {
    match lower(quote!(), item) {
        Ok(n) => n,
        Err(e) => panic!("unexpected error: {e}"),
    }
}

/// The graph text for a body over the given arguments, returning `ret`.
fn body_graph(
    args: proc_macro2::TokenStream,
    ret: proc_macro2::TokenStream,
    body: proc_macro2::TokenStream,
) -> String {
    let item: syn::ItemFn = syn::parse_quote!(fn f(#args) -> #ret { #body });
    net(item).graph.to_string()
}

/// Builds the expected text from node lines and the root.
fn text(dtype: &str, nodes: &[&str], root: usize) -> String {
    let mut s = format!("(graph {dtype}\n");
    for (i, n) in nodes.iter().enumerate() {
        s.push_str(&format!("  (let %{i} {n})\n"));
    }
    s.push_str(&format!("  (root out %{root}))\n"));
    s
}

#[test]
fn xor_network_from_the_design() {
    let item: syn::ItemFn = syn::parse_quote! {
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
    let n = net(item);
    let want = text(
        "f32",
        &[
            "x [4 2] (input 0)",
            "y [4] (input 1)",
            "w1 [2 2] (param 0)",
            "c [2] (param 1)",
            "w2 [2] (param 2)",
            "b [] (param 3)",
            "_ [4 2] (matmul %0 %2)",
            "_ [4 2] (add %6 %3)",
            "h [4 2] (relu %7)",
            "_ [2 1] (reshape [2 1] %4)",
            "_ [4 1] (matmul %8 %9)",
            "_ [4] (reshape [4] %10)",
            "yhat [4] (add %11 %5)",
            "_ [4] (sub %12 %1)",
            "_ [4] (powi 2 %13)",
            "_ [] (sum %14)",
            "_ [] (const 4.0)",
            "_ [] (div %15 %16)",
        ],
        17,
    );
    assert_eq!(n.graph.to_string(), want);
    assert_eq!(n.ident, "xor");
    assert!(matches!(n.vis, syn::Visibility::Public(_)));
    assert_eq!(n.dtype, DType::F32);
    assert_eq!(n.ret_shape, Shape::scalar());
    let names: Vec<String> = n.args.iter().map(|a| a.ident.to_string()).collect();
    assert_eq!(names, ["x", "y", "w1", "c", "w2", "b"]);
    let inputs: Vec<bool> = n.args.iter().map(|a| a.is_input).collect();
    assert_eq!(inputs, [true, true, false, false, false, false]);
    let shapes: Vec<Vec<usize>> = n.args.iter().map(|a| a.shape.0.clone()).collect();
    assert_eq!(
        shapes,
        [vec![4, 2], vec![4], vec![2, 2], vec![2], vec![2], vec![]]
    );
    assert_eq!(n.inputs().count(), 2);
    assert_eq!(n.params().count(), 4);
    // The kept item has no `#[input]` left, but the same arguments and body.
    let item = &n.item;
    let kept = quote!(#item).to_string();
    assert!(!kept.contains("input"), "{kept}");
    assert_eq!(item.sig.inputs.len(), 6);
    assert_eq!(n.args[0].ty, syn::parse_quote!([[f32; 2]; 4]));
    assert!(!n.options.fast_math);
    gradc_ir::verify(&n.graph).unwrap();
}

#[test]
fn f64_network_and_fast_math_option() {
    let item: proc_macro2::TokenStream = quote! {
        fn reg(#[input] x: [f64; 3], w: [f64; 3]) -> f64 {
            let z = x * w;
            sum(z)
        }
    };
    let n = parse_network(quote!(fast_math), item).unwrap();
    assert!(n.options.fast_math);
    assert_eq!(n.dtype, DType::F64);
    let want = text(
        "f64",
        &[
            "x [3] (input 0)",
            "w [3] (param 0)",
            "z [3] (mul %0 %1)",
            "_ [] (sum %2)",
        ],
        3,
    );
    assert_eq!(n.graph.to_string(), want);
}

#[test]
fn unary_functions_in_free_and_method_form() {
    let g = body_graph(
        quote!(#[input] x: [f32; 3]),
        quote!([f32; 3]),
        quote! {
            let a = relu(x);
            let b = a.sigmoid();
            let c = tanh(b);
            let d = c.exp();
            let e = ln(d);
            let f = e.softplus();
            let g = sqrt(f);
            let h = g.softmax();
            let i = log_softmax(h);
            let j = i.powi(3);
            let k = powi(j, -2);
            -k
        },
    );
    let want = text(
        "f32",
        &[
            "x [3] (input 0)",
            "a [3] (relu %0)",
            "b [3] (sigmoid %1)",
            "c [3] (tanh %2)",
            "d [3] (exp %3)",
            "e [3] (ln %4)",
            "f [3] (softplus %5)",
            "g [3] (sqrt %6)",
            "h [3] (softmax %7)",
            "i [3] (log_softmax %8)",
            "j [3] (powi 3 %9)",
            "k [3] (powi -2 %10)",
            "_ [3] (neg %11)",
        ],
        12,
    );
    assert_eq!(g, want);
}

#[test]
fn arithmetic_broadcasting_literals_and_max() {
    let g = body_graph(
        quote!(#[input] x: [[f32; 3]; 2], #[input] r: [f32; 3], #[input] col: [[f32; 1]; 2]),
        quote!([[f32; 3]; 2]),
        quote! {
            let a = x + r;
            let b = (a - 2) * 0.5;
            let c = b / col;
            max(c, -1.5).max(x)
        },
    );
    let want = text(
        "f32",
        &[
            "x [2 3] (input 0)",
            "r [3] (input 1)",
            "col [2 1] (input 2)",
            "a [2 3] (add %0 %1)",
            "_ [] (const 2.0)",
            "_ [2 3] (sub %3 %4)",
            "_ [] (const 0.5)",
            "b [2 3] (mul %5 %6)",
            "c [2 3] (div %7 %2)",
            "_ [] (const -1.5)",
            "_ [2 3] (max %8 %9)",
            "_ [2 3] (max %10 %0)",
        ],
        11,
    );
    assert_eq!(g, want);
}

#[test]
fn sum_mean_transpose() {
    let g = body_graph(
        quote!(#[input] m: [[f64; 3]; 2], #[input] v: [f64; 3]),
        quote!(f64),
        quote! {
            let mt = m.t();
            let same = transpose(v);
            let s = sum(mt) + same.transpose().sum();
            s + mean(mt)
        },
    );
    let want = text(
        "f64",
        &[
            "m [2 3] (input 0)",
            "v [3] (input 1)",
            "mt [3 2] (transpose %0)",
            "_ [] (sum %2)",
            // Transposing a 1-D tensor is the identity: no node.
            "_ [] (sum %1)",
            "s [] (add %3 %4)",
            "_ [] (sum %2)",
            "_ [] (const 6.0)",
            "_ [] (div %6 %7)",
            "_ [] (add %5 %8)",
        ],
        9,
    );
    assert_eq!(g, want);
}

#[test]
fn matmul_follows_numpy_for_1d_operands() {
    let g = body_graph(
        quote!(#[input] m: [[f32; 3]; 2], #[input] u: [f32; 2], #[input] v: [f32; 3]),
        quote!(f32),
        quote! {
            let row = u.matmul(m);
            let col = matmul(m, v);
            let s = dot(row, v);
            s + sum(col)
        },
    );
    let want = text(
        "f32",
        &[
            "m [2 3] (input 0)",
            "u [2] (input 1)",
            "v [3] (input 2)",
            "_ [1 2] (reshape [1 2] %1)",
            "_ [1 3] (matmul %3 %0)",
            "row [3] (reshape [3] %4)",
            "_ [3 1] (reshape [3 1] %2)",
            "_ [2 1] (matmul %0 %6)",
            "col [2] (reshape [2] %7)",
            "_ [1 3] (reshape [1 3] %5)",
            "_ [3 1] (reshape [3 1] %2)",
            "_ [1 1] (matmul %9 %10)",
            "s [] (reshape [] %11)",
            "_ [] (sum %8)",
            "_ [] (add %12 %13)",
        ],
        14,
    );
    assert_eq!(g, want);
}

#[test]
fn mse_and_bce_are_means() {
    let g = body_graph(
        quote!(#[input] p: [[f32; 2]; 3], #[input] y: [[f32; 2]; 3]),
        quote!(f32),
        quote!(mse(p, y) + p.binary_cross_entropy_with_logits(y)),
    );
    let want = text(
        "f32",
        &[
            "p [3 2] (input 0)",
            "y [3 2] (input 1)",
            "_ [3 2] (sub %0 %1)",
            "_ [3 2] (powi 2 %2)",
            "_ [] (sum %3)",
            "_ [] (const 6.0)",
            "_ [] (div %4 %5)",
            "_ [3 2] (softplus %0)",
            "_ [3 2] (mul %1 %0)",
            "_ [3 2] (sub %7 %8)",
            "_ [] (sum %9)",
            "_ [] (const 6.0)",
            "_ [] (div %10 %11)",
            "_ [] (add %6 %12)",
        ],
        13,
    );
    assert_eq!(g, want);
}

#[test]
fn cross_entropy_divides_by_the_batch() {
    let g = body_graph(
        quote!(#[input] x: [[f32; 2]; 4], #[input] t: [[f32; 3]; 4], w: [[f32; 3]; 2]),
        quote!(f32),
        quote! {
            let z = x.matmul(w);
            cross_entropy(z, t)
        },
    );
    let want = text(
        "f32",
        &[
            "x [4 2] (input 0)",
            "t [4 3] (input 1)",
            "w [2 3] (param 0)",
            "z [4 3] (matmul %0 %2)",
            "_ [4 1] (logsumexp %3)",
            "_ [] (sum %4)",
            "_ [4 3] (mul %1 %3)",
            "_ [] (sum %6)",
            "_ [] (sub %5 %7)",
            "_ [] (const 4.0)",
            "_ [] (div %8 %9)",
        ],
        10,
    );
    assert_eq!(g, want);

    // 1-D logits are one example: B = 1.
    let g = body_graph(
        quote!(#[input] t: [f64; 3], z: [f64; 3]),
        quote!(f64),
        quote!(z.cross_entropy(t)),
    );
    let want = text(
        "f64",
        &[
            "t [3] (input 0)",
            "z [3] (param 0)",
            "_ [1] (logsumexp %1)",
            "_ [] (sum %2)",
            "_ [3] (mul %0 %1)",
            "_ [] (sum %4)",
            "_ [] (sub %3 %5)",
            "_ [] (const 1.0)",
            "_ [] (div %6 %7)",
        ],
        8,
    );
    assert_eq!(g, want);
}

#[test]
fn cross_entropy_with_class_indices_uses_their_one_hot_rows() {
    // Labels have the logits' shape without the class axis; the graph is the
    // one-hot graph with `one_hot 3 labels` as the targets.
    let g = body_graph(
        quote!(#[input] x: [[f32; 2]; 4], #[input] labels: [f32; 4], w: [[f32; 3]; 2]),
        quote!(f32),
        quote!(cross_entropy(x.matmul(w), labels)),
    );
    let want = text(
        "f32",
        &[
            "x [4 2] (input 0)",
            "labels [4] (input 1)",
            "w [2 3] (param 0)",
            "_ [4 3] (matmul %0 %2)",
            "_ [4 3] (one_hot 3 %1)",
            "_ [4 1] (logsumexp %3)",
            "_ [] (sum %5)",
            "_ [4 3] (mul %4 %3)",
            "_ [] (sum %7)",
            "_ [] (sub %6 %8)",
            "_ [] (const 4.0)",
            "_ [] (div %9 %10)",
        ],
        11,
    );
    assert_eq!(g, want);

    // 1-D logits take one scalar label.
    let g = body_graph(
        quote!(#[input] label: f64, z: [f64; 3]),
        quote!(f64),
        quote!(z.cross_entropy(label)),
    );
    assert!(g.contains("(let %2 _ [3] (one_hot 3 %0))"), "{g}");
}

#[test]
fn names_follow_lets_first_name_wins_and_shadowing_reuses_names() {
    let g = body_graph(
        quote!(#[input] x: [f32; 2]),
        quote!([f32; 2]),
        quote! {
            let a = x;
            let h = relu(a);
            let g = h;
            let h = h * 2;
            let h: [f32; 2] = h + g;
            return h;
        },
    );
    let want = text(
        "f32",
        &[
            "x [2] (input 0)",
            "h [2] (relu %0)",
            "_ [] (const 2.0)",
            "h [2] (mul %1 %2)",
            "h [2] (add %3 %1)",
        ],
        4,
    );
    assert_eq!(g, want);
}

#[test]
fn forward_only_network_may_return_a_tensor() {
    let item: syn::ItemFn = syn::parse_quote! {
        fn layer(#[input] x: [[f32; 2]; 4], #[input] w: [[f32; 3]; 2]) -> [[f32; 3]; 4] {
            sigmoid(x.matmul(w))
        }
    };
    let n = net(item);
    assert_eq!(n.ret_shape, Shape::new([4, 3]));
    assert_eq!(n.params().count(), 0);
    let root = n.graph.roots()[0].node;
    assert_eq!(n.graph.roots().len(), 1);
    assert_eq!(n.graph.roots()[0].name, "out");
    assert_eq!(n.graph.shape(root), &Shape::new([4, 3]));
}

#[test]
fn deeper_arrays_and_literal_forms() {
    let g = body_graph(
        quote!(#[input] x: [[[f64; 2]; 3]; 4], s: f64),
        quote!(f64),
        quote!(sum(x * s) * 1e-3 + 2f64 - 0x10),
    );
    let want = text(
        "f64",
        &[
            "x [4 3 2] (input 0)",
            "s [] (param 0)",
            "_ [4 3 2] (mul %0 %1)",
            "_ [] (sum %2)",
            "_ [] (const 0.001)",
            "_ [] (mul %3 %4)",
            "_ [] (const 2.0)",
            "_ [] (add %5 %6)",
            "_ [] (const 16.0)",
            "_ [] (sub %7 %8)",
        ],
        9,
    );
    assert_eq!(g, want);
}

#[test]
fn a_network_with_no_arguments_is_a_constant() {
    let g = body_graph(quote!(), quote!(f32), quote!(2.5));
    assert_eq!(g, text("f32", &["_ [] (const 2.5)"], 0));
}

#[test]
fn loss_targets_may_broadcast_to_the_prediction() {
    let g = body_graph(quote!(p: [f32; 2]), quote!(f32), quote!(mse(p, 0)));
    let want = text(
        "f32",
        &[
            "p [2] (param 0)",
            "_ [] (const 0.0)",
            "_ [2] (sub %0 %1)",
            "_ [2] (powi 2 %2)",
            "_ [] (sum %3)",
            "_ [] (const 2.0)",
            "_ [] (div %4 %5)",
        ],
        6,
    );
    assert_eq!(g, want);
}
