//! The driver: runs the pipeline stages in order (frontend → autodiff → opt →
//! codegen) and assembles the module that `#[network]` expands to. The proc-macro
//! crate and the CLI both call it, so what a tool shows is what the macro compiles.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod stack;

use gradc_frontend::Network;
use gradc_ir::{Graph, Report};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

pub use gradc_opt::OptConfig;

/// Every stage's output for one network.
pub struct Compiled {
    /// The parsed network (signature, options, forward graph).
    pub network: Network,
    /// Forward graph plus symbolic adjoints, before rewriting; `None` when the
    /// network has no parameters.
    pub joint: Option<Graph>,
    /// The joint graph after e-graph optimization.
    pub optimized: Option<Graph>,
    /// What the optimizer did.
    pub report: Report,
    /// `pub fn forward(...)`.
    pub forward_fn: TokenStream,
    /// `pub fn forward_backward(...)`, when the network has parameters.
    pub forward_backward_fn: Option<TokenStream>,
    /// The fused pass (or the forward pass, without parameters), formatted.
    pub gradient_code: String,
    /// The `#[output]` values' graph and `predict`, when the body marks any.
    pub prediction: Option<Prediction>,
}

/// What `predict` computes and its code.
pub struct Prediction {
    /// The forward graph cut down to the outputs ([`Graph::extract`]): all
    /// parameters, only the inputs the outputs read, one root per output.
    pub graph: Graph,
    /// `pub fn predict(..)` (and its workspace, when it needs one).
    pub predict_fn: TokenStream,
}

/// Optimizer settings for a network's options. Limits are counts, never time, so
/// the output does not depend on the machine.
pub fn opt_config(network: &Network) -> OptConfig {
    OptConfig {
        fast_math: network.options.fast_math,
        ..OptConfig::default()
    }
}

/// Runs every stage after the frontend, and the verifier on each stage's graph
/// (cheap next to the stages, so in every build). Errors here are gradc bugs,
/// not user errors, and are reported at the function's name.
pub fn compile(network: Network) -> Result<Compiled, syn::Error> {
    let internal = |stage: &str, e: &dyn std::fmt::Display| {
        syn::Error::new(
            network.ident.span(),
            format!("gradc internal error in {stage}: {e} (please report this network)"),
        )
    };
    gradc_ir::verify_forward(&network.graph).map_err(|e| internal("frontend", &e))?;
    let forward_fn =
        gradc_codegen::emit_forward(&network.graph).map_err(|e| internal("codegen", &e))?;
    let prediction = if network.outputs.is_empty() {
        None
    } else {
        let roots: Vec<(String, gradc_ir::NodeId)> = network
            .outputs
            .iter()
            .map(|(ident, node)| (ident.to_string(), *node))
            .collect();
        let graph = network
            .graph
            .extract(&roots)
            .map_err(|e| internal("frontend", &e))?;
        let predict_fn =
            gradc_codegen::emit_predict(&graph).map_err(|e| internal("codegen", &e))?;
        Some(Prediction { graph, predict_fn })
    };
    let has_params = network.args.iter().any(|a| !a.is_input);
    if !has_params {
        let gradient_code =
            gradc_codegen::forward_code(&network.graph).map_err(|e| internal("codegen", &e))?;
        return Ok(Compiled {
            network,
            joint: None,
            optimized: None,
            report: Report::default(),
            forward_fn,
            forward_backward_fn: None,
            gradient_code,
            prediction,
        });
    }
    let joint =
        gradc_autodiff::differentiate(&network.graph).map_err(|e| internal("autodiff", &e))?;
    gradc_ir::verify_joint(&network.graph, &joint).map_err(|e| internal("autodiff", &e))?;
    let (optimized, report) =
        gradc_opt::optimize(&joint, &opt_config(&network)).map_err(|e| internal("opt", &e))?;
    gradc_ir::verify_optimized(&joint, &optimized).map_err(|e| internal("opt", &e))?;
    let fb =
        gradc_codegen::emit_forward_backward(&optimized).map_err(|e| internal("codegen", &e))?;
    let gradient_code =
        gradc_codegen::forward_backward_code(&optimized).map_err(|e| internal("codegen", &e))?;
    Ok(Compiled {
        network,
        joint: Some(joint),
        optimized: Some(optimized),
        report,
        forward_fn,
        forward_backward_fn: Some(fb),
        gradient_code,
        prediction,
    })
}

/// The `#[network]` expansion: the original function (now calling the compiled
/// forward pass) and a module of the same name holding the generated items.
/// Errors become `compile_error!`s at the user's tokens plus stubs of the expected
/// items, so a user sees the real error rather than a cascade.
///
/// Runs on a thread with a large stack ([`stack::STACK_BYTES`]), so bodies as
/// deeply nested as rustc accepts do not overflow the macro's stack.
pub fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    stack::on_big_stack(expand_here, attr, item)
}

fn expand_here(attr: TokenStream, item: TokenStream) -> TokenStream {
    let network = match gradc_frontend::parse_network(attr, item.clone()) {
        Ok(n) => n,
        Err(e) => return with_stub(e, item),
    };
    match compile(network) {
        Ok(c) => emit(&c),
        Err(e) => with_stub(e, item),
    }
}

/// The `#[gradc::layers]` expansion: an inline module whose plain `fn`s are
/// layer functions that every `#[network]` fn in it may call. The layers are
/// inlined at each call (shapes from the call) and do not remain in the
/// module; each network expands as `#[network]` does; other items stay.
pub fn expand_layers(attr: TokenStream, item: TokenStream) -> TokenStream {
    stack::on_big_stack(expand_layers_here, attr, item)
}

fn expand_layers_here(attr: TokenStream, item: TokenStream) -> TokenStream {
    let usage = "`#[gradc::layers]` goes on an inline module, `mod NAME { .. }`, holding layer `fn`s and the `#[network]` fns that call them";
    if !attr.is_empty() {
        return syn::Error::new_spanned(attr, "`#[gradc::layers]` takes no arguments")
            .to_compile_error();
    }
    let mut module = match syn::parse2::<syn::ItemMod>(item.clone()) {
        Ok(m) => m,
        Err(e) => {
            let mut err = syn::Error::new(e.span(), usage);
            err.combine(e);
            return err.to_compile_error();
        }
    };
    let Some((_, items)) = module.content.take() else {
        return syn::Error::new_spanned(&module, usage).to_compile_error();
    };
    let is_network = |a: &syn::Attribute| {
        a.path()
            .segments
            .last()
            .is_some_and(|s| s.ident == "network")
    };
    let mut layers = Vec::new();
    let mut networks = Vec::new();
    let mut kept = Vec::new();
    for item in items {
        match item {
            syn::Item::Fn(mut f) => match f.attrs.iter().position(is_network) {
                Some(i) => {
                    let a = f.attrs.remove(i);
                    let args = match a.meta {
                        syn::Meta::List(l) => l.tokens,
                        syn::Meta::Path(_) | syn::Meta::NameValue(_) => TokenStream::new(),
                    };
                    networks.push((args, f));
                }
                None => layers.push(f),
            },
            other => kept.push(other),
        }
    }
    let expanded = networks.into_iter().map(|(args, f)| {
        let tokens = quote!(#f);
        match gradc_frontend::lower_with_layers(args, f, &layers) {
            Ok(n) => match compile(n) {
                Ok(c) => emit(&c),
                Err(e) => with_stub(e, tokens),
            },
            Err(e) => with_stub(e, tokens),
        }
    });
    let (attrs, vis, ident) = (&module.attrs, &module.vis, &module.ident);
    quote! {
        #(#attrs)*
        #vis mod #ident {
            #(#kept)*
            #(#expanded)*
        }
    }
}

fn with_stub(err: syn::Error, item: TokenStream) -> TokenStream {
    let error = err.to_compile_error();
    let Ok(mut f) = syn::parse2::<syn::ItemFn>(item) else {
        return error;
    };
    // Attributes the frontend reported must not cascade into rustc errors.
    // A second `#[network]` (reported) must not expand the stub again.
    f.attrs.retain(|a| {
        !a.path().is_ident("input")
            && a.path()
                .segments
                .last()
                .is_none_or(|s| s.ident != "network")
    });
    for input in &mut f.sig.inputs {
        if let syn::FnArg::Typed(p) = input {
            p.attrs.clear();
        }
    }
    let (attrs, vis, sig, ident) = (&f.attrs, &f.vis, &f.sig, &f.sig.ident);
    quote! {
        #error
        #(#attrs)*
        #[allow(unused_variables, dead_code)]
        #vis #sig { ::core::unimplemented!("this network failed to compile") }
        #[allow(dead_code)]
        #vis mod #ident {}
    }
}

/// The attributes of a network's fn that also apply to its generated module:
/// `cfg` (the module exists when the fn does), lint levels (`allow`, `warn`,
/// `deny`, `forbid`) and `#[doc(hidden)]`. Not `expect` (the module may not
/// trigger the lint), nor doc comments (their examples would run twice).
fn carried_attrs(attrs: &[syn::Attribute]) -> Vec<&syn::Attribute> {
    let hidden = |a: &syn::Attribute| {
        a.path().is_ident("doc") && a.parse_args::<syn::Ident>().is_ok_and(|i| i == "hidden")
    };
    attrs
        .iter()
        .filter(|a| {
            hidden(a)
                || ["cfg", "allow", "warn", "deny", "forbid"]
                    .iter()
                    .any(|n| a.path().is_ident(n))
        })
        .collect()
}

/// `items` with a doc comment added to each named `pub fn` that has none. The
/// codegen items carry no docs because `GRADIENT_CODE` shows them as code.
/// Works on the top-level tokens only: a generated body can nest deeper than
/// a parser's recursion may go on a small stack.
fn with_fn_docs(items: &TokenStream, docs: &[(&str, &str)]) -> TokenStream {
    use proc_macro2::{Delimiter, TokenTree};
    let tokens: Vec<TokenTree> = items.clone().into_iter().collect();
    let is_ident =
        |t: Option<&TokenTree>, s: &str| matches!(t, Some(TokenTree::Ident(i)) if i == s);
    let mut out = TokenStream::new();
    // Whether the item being read so far has a `#[doc ..]` attribute.
    let mut documented = false;
    for (i, t) in tokens.iter().enumerate() {
        if is_ident(Some(t), "pub") && is_ident(tokens.get(i + 1), "fn") && !documented {
            if let Some((_, doc)) = docs.iter().find(|(n, _)| is_ident(tokens.get(i + 2), n)) {
                out.extend(quote!(#[doc = #doc]));
            }
        }
        match t {
            TokenTree::Group(g) if g.delimiter() == Delimiter::Bracket => {
                let first = g.stream().into_iter().next();
                let after_hash =
                    i > 0 && matches!(&tokens[i - 1], TokenTree::Punct(p) if p.as_char() == '#');
                documented |= after_hash && is_ident(first.as_ref(), "doc");
            }
            // A body or a `;` ends an item.
            TokenTree::Group(g) if g.delimiter() == Delimiter::Brace => documented = false,
            TokenTree::Punct(p) if p.as_char() == ';' => documented = false,
            TokenTree::Group(_)
            | TokenTree::Punct(_)
            | TokenTree::Ident(_)
            | TokenTree::Literal(_) => {}
        }
        out.extend([t.clone()]);
    }
    out
}

fn struct_def(
    name: &str,
    doc: &str,
    field_doc: &dyn Fn(&syn::Ident) -> String,
    elem: &syn::Ident,
    fields: &[(&syn::Ident, &syn::Type)],
    batch: bool,
) -> TokenStream {
    let name = format_ident!("{}", name);
    // `Inputs` of a batch-generic network: `Inputs<const B: usize>`.
    let (gp, ty) = if batch {
        (quote!(<const B: usize>), quote!(#name<B>))
    } else {
        (quote!(), quote!(#name))
    };
    let (idents, types): (Vec<_>, Vec<_>) = fields.iter().copied().unzip();
    let field_docs = idents.iter().map(|i| field_doc(i));
    let zero = fields.iter().map(|(_, ty)| zero_value(ty));
    let labels = idents.iter().map(|i| i.to_string());
    let labels2 = labels.clone();
    let n = fields.len();
    quote! {
        #[doc = #doc]
        #[derive(Clone, Debug, PartialEq)]
        pub struct #name #gp {
            #(#[doc = #field_docs] pub #idents: #types,)*
        }

        // SAFETY: the fields above are all there is, and the bound makes the
        // compiler check that each is a float or an array of floats.
        unsafe impl #gp ::gradc::__private::rt::Zeroed for #ty
        where
            #(#types: ::gradc::__private::rt::Zeroed,)*
        {
        }

        impl #gp #ty {
            /// Every element zero.
            pub fn zeros() -> Self {
                #name { #(#idents: #zero,)* }
            }

            /// Every element zero, made on the heap without passing through
            /// the stack (so any size fits, in debug builds too).
            pub fn zeros_boxed() -> ::std::boxed::Box<Self> {
                ::gradc::__private::rt::zeroed_boxed()
            }

            /// Each field as `(name, flat row-major slice)`, in declaration order.
            pub fn slices(&self) -> [(&'static str, &[#elem]); #n] {
                use ::gradc::__private::Flat as _;
                [#((#labels, self.#idents.flat()),)*]
            }

            /// Each field as `(name, flat row-major mutable slice)`, in declaration order.
            pub fn slices_mut(&mut self) -> [(&'static str, &mut [#elem]); #n] {
                use ::gradc::__private::Flat as _;
                [#((#labels2, self.#idents.flat_mut()),)*]
            }
        }
    }
}

/// `0.0` nested in array repeat expressions matching `ty`.
fn zero_value(ty: &syn::Type) -> TokenStream {
    match ty {
        syn::Type::Array(a) => {
            let inner = zero_value(&a.elem);
            let len = &a.len;
            quote!([#inner; #len])
        }
        syn::Type::Paren(p) => zero_value(&p.elem),
        syn::Type::Group(g) => zero_value(&g.elem),
        _ => quote!(0.0),
    }
}

fn fields<'a>(args: &[&'a gradc_frontend::Arg]) -> Vec<(&'a syn::Ident, &'a syn::Type)> {
    args.iter().map(|a| (&a.ident, &a.ty)).collect()
}

fn emit(c: &Compiled) -> TokenStream {
    let net = &c.network;
    let ident = &net.ident;
    let vis = &net.vis;
    let elem = format_ident!("{}", net.dtype.name());
    let inputs: Vec<_> = net.args.iter().filter(|a| a.is_input).collect();
    let params: Vec<_> = net.args.iter().filter(|a| !a.is_input).collect();
    // Only `#[input]`s depend on the batch size (the frontend checks it).
    let batch = net.graph.is_batch_generic();
    let params_struct = struct_def(
        "Params",
        &format!("Trainable parameters of `{ident}`, one field per parameter argument."),
        &|f| format!("The parameter `{f}` of `{ident}`."),
        &elem,
        &fields(&params),
        false,
    );
    let inputs_struct = struct_def(
        "Inputs",
        &if batch {
            format!("Data arguments (`#[input]`) of `{ident}`, one field each, for batch size `B`.")
        } else {
            format!("Data arguments (`#[input]`) of `{ident}`, one field each.")
        },
        &|f| format!("The `#[input]` `{f}` of `{ident}`."),
        &elem,
        &fields(&inputs),
        batch,
    );
    let grads_struct = struct_def(
        "Grads",
        &format!("Gradient of the loss of `{ident}` with respect to each parameter."),
        &|f| format!("The gradient of the loss with respect to `{f}`."),
        &elem,
        &fields(&params),
        false,
    );
    let input_idents: Vec<_> = inputs.iter().map(|a| &a.ident).collect();
    let param_idents: Vec<_> = params.iter().map(|a| &a.ident).collect();

    // The original function keeps its signature and runs the compiled forward pass.
    let mut f = net.item.clone();
    // One argument per tensor is how a network is written, not a smell.
    f.attrs
        .push(syn::parse_quote!(#[allow(clippy::too_many_arguments)]));
    f.block = syn::parse_quote!({
        #ident::forward(
            &#ident::Params { #(#param_idents,)* },
            &#ident::Inputs { #(#input_idents,)* },
        )
    });
    let has_params = !params.is_empty();
    let forward_doc = if has_params {
        format!("The compiled forward pass of `{ident}`: the loss for these parameters and inputs.")
    } else {
        format!("The compiled forward pass of `{ident}`: its value for these inputs.")
    };
    let forward_fn = &with_fn_docs(&c.forward_fn, &[("forward", &forward_doc)]);
    let gradient_code = &c.gradient_code;
    let graph_text = net.graph.to_string();
    let report = report_tokens(&c.report);

    let run = quote! {
        it.forward_backward(
            &[#(inputs.#input_idents.flat(),)*],
            &[#(params.#param_idents.flat(),)*],
            &mut [#(grads.#param_idents.flat_mut(),)*],
        )
        .expect("buffers match the generated graph")
    };
    let interpreted = if batch {
        // One interpreter per batch size a thread has used: its buffers are
        // planned for the graph instantiated at that `B`.
        quote! {
            /// The same loss and gradients as [`forward_backward`], computed by the
            /// tape interpreter from [`graph`] instantiated at `B`, at run time.
            pub fn interpreted_forward_backward<const B: usize>(params: &Params, inputs: &Inputs<B>, grads: &mut Grads) -> #elem {
                const { assert!(B > 0, "gradc: the batch size B must be at least 1") };
                use ::gradc::__private::Flat as _;
                ::std::thread_local! {
                    static INTERPRETERS: ::std::cell::RefCell<::std::vec::Vec<(usize, ::gradc::__private::Interpreter<#elem>)>> =
                        const { ::std::cell::RefCell::new(::std::vec::Vec::new()) };
                }
                INTERPRETERS.with(|its| {
                    let mut its = its.borrow_mut();
                    if !its.iter().any(|(b, _)| *b == B) {
                        let g = graph().instantiate(B).expect("the batch size B is at least 1");
                        its.push((B, ::gradc::__private::Interpreter::new(&g).expect("the generated graph is valid")));
                    }
                    let it = its
                        .iter_mut()
                        .find_map(|(b, it)| (*b == B).then_some(it))
                        .expect("an interpreter for B was just added");
                    #run
                })
            }
        }
    } else {
        quote! {
            /// The same loss and gradients as [`forward_backward`], computed by the
            /// tape interpreter from [`graph`] at run time.
            pub fn interpreted_forward_backward(params: &Params, inputs: &Inputs, grads: &mut Grads) -> #elem {
                use ::gradc::__private::Flat as _;
                ::std::thread_local! {
                    static INTERPRETER: ::std::cell::RefCell<::gradc::__private::Interpreter<#elem>> =
                        ::std::cell::RefCell::new(
                            ::gradc::__private::Interpreter::new(&graph())
                                .expect("the generated graph is valid"),
                        );
                }
                INTERPRETER.with(|it| {
                    let mut it = it.borrow_mut();
                    #run
                })
            }
        }
    };
    let fb_doc = format!(
        "The compiled fused pass of `{ident}`: returns the loss and overwrites `grads` with \
         its gradient with respect to every parameter. [`GRADIENT_CODE`] is this code, \
         formatted; [`forward_backward_with`] takes the scratch from the caller."
    );
    let backward = c.forward_backward_fn.as_ref().map(|fb| {
        let fb = with_fn_docs(fb, &[("forward_backward", &fb_doc)]);
        quote! {
            #fb

            #interpreted
        }
    });

    let prediction = prediction_items(c, &elem);
    let net_impl = c
        .forward_backward_fn
        .as_ref()
        .map(|_| network_impl(c, &elem, &inputs, &params, batch));

    let mod_doc = format!(
        "Generated by `#[network]` for `{ident}`: compiled passes, interpreter and inspection."
    );
    let carried = carried_attrs(&net.item.attrs);
    quote! {
        #f

        #[doc = #mod_doc]
        #(#carried)*
        // Generated code is straight-line arithmetic over arrays: exact float
        // comparisons, large stack arrays and long bodies are intended.
        #[allow(dead_code, clippy::all, clippy::pedantic, clippy::nursery)]
        #vis mod #ident {
            #params_struct
            #inputs_struct
            #grads_struct

            /// The generated fused pass, formatted for reading.
            pub const GRADIENT_CODE: &str = #gradient_code;

            const GRAPH_TEXT: &str = #graph_text;

            /// The forward graph, as the frontend built it (with a symbolic batch
            /// size `B` in its shapes when the network has `const B: usize`; see
            /// `Graph::instantiate`).
            pub fn graph() -> ::gradc::Graph {
                GRAPH_TEXT.parse().expect("the generated graph text parses")
            }

            /// What the optimizer did to the joint forward+backward graph.
            pub fn report() -> ::gradc::Report {
                #report
            }

            #forward_fn

            #backward

            #prediction

            #net_impl
        }
    }
}

/// The `#[input]`s a prediction graph reads, in its input order.
fn feature_args<'a>(net: &'a Network, g: Option<&Graph>) -> Vec<&'a gradc_frontend::Arg> {
    let Some(g) = g else {
        return Vec::new();
    };
    g.inputs()
        .iter()
        .filter_map(|i| {
            let name = g.name(*i)?;
            net.inputs().find(|a| a.ident == name)
        })
        .collect()
}

/// `(field, Rust type, shape)` of each `#[output]`.
fn output_fields(c: &Compiled) -> Vec<(syn::Ident, syn::Type, gradc_ir::Shape)> {
    let Some(p) = &c.prediction else {
        return Vec::new();
    };
    p.graph
        .roots()
        .iter()
        .zip(&c.network.outputs)
        .map(|(r, (ident, _))| {
            let shape = p.graph.shape(r.node).clone();
            let ty = gradc_codegen::rust_type(c.network.dtype, &shape);
            let ty = syn::parse2(ty).unwrap_or_else(|_| syn::parse_quote!(()));
            (ident.clone(), ty, shape)
        })
        .collect()
}

/// Each argument's field name and shape.
fn arg_shapes<'a>(args: &[&'a gradc_frontend::Arg]) -> Vec<(&'a syn::Ident, &'a gradc_ir::Shape)> {
    args.iter().map(|a| (&a.ident, &a.shape)).collect()
}

/// `Features`, `Outputs`, `predict` and `interpreted_predict`: the values the
/// body marks `#[output]`, from only the inputs they read. Without outputs the
/// structs are empty and `predict` returns the empty `Outputs`, so code
/// generic over `gradc::Network` can call it on every network.
fn prediction_items(c: &Compiled, elem: &syn::Ident) -> TokenStream {
    let net = &c.network;
    let graph = c.prediction.as_ref().map(|p| &p.graph);
    let features = feature_args(net, graph);
    let outputs = output_fields(c);
    let fbatch = graph.is_some_and(Graph::is_batch_generic);
    let obatch = outputs.iter().any(|(_, _, s)| s.batch_degree() > 0);
    let feature_fields: Vec<(&syn::Ident, &syn::Type)> =
        features.iter().map(|a| (&a.ident, &a.ty)).collect();
    let output_fields: Vec<(&syn::Ident, &syn::Type)> =
        outputs.iter().map(|(i, t, _)| (i, t)).collect();
    let name = &net.ident;
    let features_struct = struct_def(
        "Features",
        &format!("The `#[input]`s the `#[output]` values of `{name}` read, one field each (see [`predict`])."),
        &|f| format!("The `#[input]` `{f}` of `{name}`."),
        elem,
        &feature_fields,
        fbatch,
    );
    let outputs_struct = struct_def(
        "Outputs",
        &format!("The values `{name}` marks `#[output]`, one field each (see [`predict`])."),
        &|f| format!("The `#[output]` value `{f}` of `{name}`."),
        elem,
        &output_fields,
        obatch,
    );
    let gp = if fbatch {
        quote!(<const B: usize>)
    } else {
        quote!()
    };
    let ft = if fbatch {
        quote!(Features<B>)
    } else {
        quote!(Features)
    };
    let ot = if obatch {
        quote!(Outputs<B>)
    } else {
        quote!(Outputs)
    };
    let Some(p) = &c.prediction else {
        let doc = format!("`{name}` marks no `#[output]` values: the empty [`Outputs`].");
        return quote! {
            #features_struct
            #outputs_struct

            #[doc = #doc]
            pub fn predict(_params: &Params, _features: &Features) -> Outputs {
                Outputs {}
            }

            /// The same as [`predict`]: no `#[output]` values.
            pub fn interpreted_predict(_params: &Params, _features: &Features) -> Outputs {
                Outputs {}
            }
        };
    };
    let predict_fn = &p.predict_fn;
    let graph_text = p.graph.to_string();
    let feature_idents: Vec<_> = features.iter().map(|a| &a.ident).collect();
    let param_idents: Vec<_> = net.params().map(|a| &a.ident).collect();
    let out_idents: Vec<_> = outputs.iter().map(|(i, _, _)| i).collect();
    let out_index = 0..out_idents.len();
    let instantiate = if fbatch {
        quote!(.instantiate(B).expect("the batch size B is at least 1"))
    } else {
        quote!()
    };
    let key = if fbatch { quote!(B) } else { quote!(0) };
    let check = if fbatch {
        quote!(const { assert!(B > 0, "gradc: the batch size B must be at least 1") };)
    } else {
        quote!()
    };
    quote! {
        #features_struct
        #outputs_struct

        #predict_fn

        const PREDICTION_GRAPH_TEXT: &str = #graph_text;

        /// The graph [`predict`] computes: the forward graph cut down to the
        /// `#[output]` values (one root each) and the inputs they read.
        pub fn prediction_graph() -> ::gradc::Graph {
            PREDICTION_GRAPH_TEXT.parse().expect("the generated graph text parses")
        }

        /// The same values as [`predict`], computed by the tape interpreter from
        /// [`prediction_graph`] at run time.
        pub fn interpreted_predict #gp (params: &Params, features: &#ft) -> #ot {
            #check
            use ::gradc::__private::Flat as _;
            // One interpreter per batch size a thread has used: its buffers
            // are planned for the graph instantiated at that size.
            ::std::thread_local! {
                static INTERPRETERS: ::std::cell::RefCell<::std::vec::Vec<(usize, ::gradc::__private::Interpreter<#elem>)>> =
                    const { ::std::cell::RefCell::new(::std::vec::Vec::new()) };
            }
            INTERPRETERS.with(|its| {
                let mut its = its.borrow_mut();
                let key: usize = #key;
                if !its.iter().any(|(b, _)| *b == key) {
                    let graph = prediction_graph() #instantiate;
                    its.push((key, ::gradc::__private::Interpreter::new(&graph).expect("the generated graph is valid")));
                }
                let it = its
                    .iter_mut()
                    .find_map(|(b, it)| (*b == key).then_some(it))
                    .expect("an interpreter for this batch size was just added");
                let values = it
                    .forward(
                        &[#(features.#feature_idents.flat(),)*],
                        &[#(params.#param_idents.flat(),)*],
                    )
                    .expect("buffers match the generated graph");
                let mut out = Outputs::zeros();
                #(out.#out_idents.flat_mut().copy_from_slice(values[#out_index]);)*
                out
            })
        }
    }
}

/// The marker type `Net` implementing `gradc::Network`, and `gradc::Tensors` for
/// the three structs, so training code can be written once for all networks.
fn network_impl(
    c: &Compiled,
    elem: &syn::Ident,
    inputs: &[&gradc_frontend::Arg],
    params: &[&gradc_frontend::Arg],
    batch: bool,
) -> TokenStream {
    let net = &c.network;
    let name = net.ident.to_string();
    let gp = if batch {
        quote!(<const B: usize>)
    } else {
        quote!()
    };
    let generic = |ty: &str, with_b: bool| {
        let ty = format_ident!("{}", ty);
        if with_b {
            quote!(#ty<B>)
        } else {
            quote!(#ty)
        }
    };
    let tensors = |ty: TokenStream,
                   fields: &[(&syn::Ident, &gradc_ir::Shape)],
                   gp: &TokenStream| {
        let names = fields.iter().map(|(i, _)| i.to_string());
        let dims = fields.iter().map(|(_, s)| {
            let d = s.dims().iter().map(|d| gradc_codegen::extent(*d));
            quote!(&[#(#d),*])
        });
        let idents: Vec<_> = fields.iter().map(|(i, _)| *i).collect();
        quote! {
            impl #gp ::gradc::Tensors for #ty {
                type Elem = #elem;
                const SHAPES: &'static [(&'static str, &'static [usize])] = &[#((#names, #dims)),*];
                fn zeros_boxed() -> ::std::boxed::Box<Self> {
                    ::gradc::__private::rt::zeroed_boxed()
                }
                fn tensors(&self) -> ::std::vec::Vec<&[#elem]> {
                    use ::gradc::__private::Flat as _;
                    ::std::vec![#(self.#idents.flat()),*]
                }
                fn tensors_mut(&mut self) -> ::std::vec::Vec<&mut [#elem]> {
                    use ::gradc::__private::Flat as _;
                    ::std::vec![#(self.#idents.flat_mut()),*]
                }
            }
        }
    };
    // Params and Grads never depend on `B`: one trained set serves every batch.
    let params_impl = tensors(generic("Params", false), &arg_shapes(params), &quote!());
    let grads_impl = tensors(generic("Grads", false), &arg_shapes(params), &quote!());
    let inputs_impl = tensors(generic("Inputs", batch), &arg_shapes(inputs), &gp);
    // `Features` and `Outputs` depend on `B` only if they hold a `B` axis.
    let graph = c.prediction.as_ref().map(|p| &p.graph);
    let features = feature_args(net, graph);
    let outputs = output_fields(c);
    let fbatch = graph.is_some_and(Graph::is_batch_generic);
    let obatch = outputs.iter().any(|(_, _, s)| s.batch_degree() > 0);
    let features_ty = generic("Features", fbatch);
    let outputs_ty = generic("Outputs", obatch);
    let features_impl = tensors(
        features_ty.clone(),
        &arg_shapes(&features),
        &if fbatch { gp.clone() } else { quote!() },
    );
    let output_shapes: Vec<(&syn::Ident, &gradc_ir::Shape)> =
        outputs.iter().map(|(i, _, s)| (i, s)).collect();
    let outputs_impl = tensors(
        outputs_ty.clone(),
        &output_shapes,
        &if obatch { gp.clone() } else { quote!() },
    );
    let (net_ty, inputs_ty, ws_ty) = (
        generic("Net", batch),
        generic("Inputs", batch),
        generic("Workspace", batch),
    );
    let (net_decl, graph_body, net_doc) = if batch {
        (
            quote!(pub struct Net<const B: usize>;),
            quote!(self::graph().instantiate(B).expect("the batch size B is at least 1")),
            "This network at batch size `B` as a type, for code generic over [`gradc::Network`]; its `graph()` is instantiated at `B`.",
        )
    } else {
        (
            quote!(
                pub struct Net;
            ),
            quote!(self::graph()),
            "This network as a type, for code generic over [`gradc::Network`].",
        )
    };
    quote! {
        #[doc = #net_doc]
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        #net_decl

        impl #gp ::gradc::Network for #net_ty {
            type Elem = #elem;
            type Params = Params;
            type Inputs = #inputs_ty;
            type Grads = Grads;
            type Workspace = #ws_ty;
            const NAME: &'static str = #name;
            fn forward_backward(params: &Params, inputs: &#inputs_ty, grads: &mut Grads) -> #elem {
                self::forward_backward(params, inputs, grads)
            }
            fn forward_backward_with(params: &Params, inputs: &#inputs_ty, grads: &mut Grads, ws: &mut #ws_ty) -> #elem {
                self::forward_backward_with(params, inputs, grads, ws)
            }
            fn interpreted_forward_backward(params: &Params, inputs: &#inputs_ty, grads: &mut Grads) -> #elem {
                self::interpreted_forward_backward(params, inputs, grads)
            }
            fn graph() -> ::gradc::Graph {
                #graph_body
            }
            fn report() -> ::gradc::Report {
                self::report()
            }
            type Features = #features_ty;
            type Outputs = #outputs_ty;
            fn predict(params: &Params, features: &#features_ty) -> #outputs_ty {
                self::predict(params, features)
            }
            fn interpreted_predict(params: &Params, features: &#features_ty) -> #outputs_ty {
                self::interpreted_predict(params, features)
            }
        }

        #params_impl
        #inputs_impl
        #grads_impl
        #features_impl
        #outputs_impl
    }
}

fn report_tokens(r: &Report) -> TokenStream {
    let Report {
        ops_naive,
        ops_optimized,
        flops_naive,
        flops_optimized,
        iterations,
        egraph_nodes,
        stop_reason,
        rules_fired,
    } = r;
    let names = rules_fired.keys();
    let counts = rules_fired.values();
    quote! {
        ::gradc::Report {
            ops_naive: #ops_naive,
            ops_optimized: #ops_optimized,
            flops_naive: #flops_naive,
            flops_optimized: #flops_optimized,
            iterations: #iterations,
            egraph_nodes: #egraph_nodes,
            stop_reason: ::std::string::String::from(#stop_reason),
            rules_fired: [#((#names, #counts)),*]
                .into_iter()
                .map(|(k, v): (&str, usize)| (::std::string::String::from(k), v))
                .collect(),
        }
    }
}
