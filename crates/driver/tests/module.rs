//! The module `#[network]` expands to: every public item documented, and the
//! fn's attributes that also concern the module carried to it.

use proc_macro2::TokenStream;
use quote::quote;

/// The generated module of an expansion.
fn module(item: TokenStream) -> syn::ItemMod {
    let out: syn::File = syn::parse2(gradc_driver::expand(TokenStream::new(), item)).unwrap();
    out.items
        .into_iter()
        .find_map(|i| match i {
            syn::Item::Mod(m) => Some(m),
            _ => None,
        })
        .expect("a module")
}

fn has_doc(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| a.path().is_ident("doc"))
}

fn is_pub(vis: &syn::Visibility) -> bool {
    matches!(vis, syn::Visibility::Public(_))
}

/// The names of the public items (and fields) without a doc comment.
fn undocumented(m: &syn::ItemMod) -> Vec<String> {
    let mut missing = Vec::new();
    for item in &m.content.as_ref().unwrap().1 {
        match item {
            syn::Item::Fn(f) if is_pub(&f.vis) && !has_doc(&f.attrs) => {
                missing.push(f.sig.ident.to_string());
            }
            syn::Item::Const(c) if is_pub(&c.vis) && !has_doc(&c.attrs) => {
                missing.push(c.ident.to_string());
            }
            syn::Item::Struct(s) if is_pub(&s.vis) => {
                if !has_doc(&s.attrs) {
                    missing.push(s.ident.to_string());
                }
                for f in &s.fields {
                    if is_pub(&f.vis) && !has_doc(&f.attrs) {
                        missing.push(format!("{}.{}", s.ident, f.ident.as_ref().unwrap()));
                    }
                }
            }
            syn::Item::Impl(i) => {
                for it in &i.items {
                    if let syn::ImplItem::Fn(f) = it {
                        if is_pub(&f.vis) && !has_doc(&f.attrs) {
                            missing.push(f.sig.ident.to_string());
                        }
                    }
                }
            }
            _ => {}
        }
    }
    missing
}

#[test]
fn every_public_item_is_documented() {
    let networks = [
        // Parameters, a small stack-only pass.
        quote! {
            pub fn xor(#[input] x: [[f32; 2]; 4], #[input] y: [f32; 4], w1: [[f32; 2]; 2], c: [f32; 2], w2: [f32; 2], b: f32) -> f32 {
                mse(relu(x.matmul(w1) + c).matmul(w2) + b, y)
            }
        },
        // A batch size, `#[output]`s and a workspace.
        quote! {
            pub fn mlp<const B: usize>(#[input] x: [[f32; 64]; B], #[input] t: [f32; B], w1: [[f32; 64]; 64], w2: [[f32; 10]; 64]) -> f32 {
                #[output]
                let logits = relu(x.matmul(w1)).matmul(w2);
                cross_entropy(logits, t)
            }
        },
        // No parameters: the forward pass only.
        quote! {
            pub fn affine(#[input] x: [f32; 3], #[input] w: [f32; 3]) -> [f32; 3] {
                x * w + 1.0
            }
        },
    ];
    for net in networks {
        let m = module(net);
        assert_eq!(undocumented(&m), Vec::<String>::new(), "module {}", m.ident);
        assert!(has_doc(&m.attrs), "module {}", m.ident);
    }
}

#[test]
fn cfg_lint_levels_and_doc_hidden_reach_the_module() {
    let m = module(quote! {
        /// The fn's own docs.
        #[cfg(test)]
        #[allow(clippy::too_many_arguments)]
        #[doc(hidden)]
        #[inline]
        pub fn net(#[input] x: [f32; 2], w: [f32; 2]) -> f32 {
            sum(x * w)
        }
    });
    let attrs: Vec<String> = m.attrs.iter().map(|a| quote!(#a).to_string()).collect();
    for carried in [
        "# [cfg (test)]",
        "# [allow (clippy :: too_many_arguments)]",
        "# [doc (hidden)]",
    ] {
        assert!(attrs.iter().any(|a| a == carried), "{carried} in {attrs:?}");
    }
    assert!(
        !attrs
            .iter()
            .any(|a| a.contains("own docs") || a.contains("inline")),
        "{attrs:?}"
    );
}
