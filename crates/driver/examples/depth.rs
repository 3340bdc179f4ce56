//! Times each compile stage of the deep network (a `for` loop over L
//! tanh layers, width 64) for the depths given on the command line:
//! `cargo run --release -p gradc-driver --example depth -- 10 100 1000`.

use std::time::Instant;

fn source(layers: usize) -> String {
    format!(
        "pub fn deep<const B: usize>(
            #[input] x: [[f32; 64]; B],
            #[input] labels: [f32; B],
            w_in: [[f32; 64]; 64], b_in: [f32; 64],
            ws: [[[f32; 64]; 64]; {layers}], bs: [[f32; 64]; {layers}],
            w_out: [[f32; 10]; 64], b_out: [f32; 10],
        ) -> f32 {{
            let mut h = relu(x.matmul(w_in) + b_in);
            for k in 0..{layers} {{
                h = tanh(h.matmul(ws[k]) + bs[k]);
            }}
            cross_entropy(h.matmul(w_out) + b_out, labels)
        }}"
    )
}

fn main() {
    let depths: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("depths are integers"))
        .collect();
    for layers in depths {
        let item: proc_macro2::TokenStream = source(layers).parse().expect("valid tokens");
        let t = Instant::now();
        let network = gradc_frontend::parse_network(proc_macro2::TokenStream::new(), item.clone())
            .expect("the network parses");
        let frontend = t.elapsed();
        let t = Instant::now();
        let joint = gradc_autodiff::differentiate(&network.graph).expect("autodiff");
        let autodiff = t.elapsed();
        let t = Instant::now();
        gradc_ir::verify_joint(&network.graph, &joint).expect("verified");
        let verify = t.elapsed();
        let t = Instant::now();
        let (optimized, report) =
            gradc_opt::optimize(&joint, &gradc_driver::opt_config(&network)).expect("opt");
        let opt = t.elapsed();
        let t = Instant::now();
        gradc_ir::verify_optimized(&joint, &optimized).expect("verified");
        let verify = verify + t.elapsed();
        let t = Instant::now();
        let code = gradc_codegen::forward_backward_code(&optimized).expect("codegen");
        let codegen = t.elapsed();
        let t = Instant::now();
        let expanded = gradc_driver::expand(proc_macro2::TokenStream::new(), item);
        let expand = t.elapsed();
        println!(
            "L={layers}: frontend {:.3}s autodiff {:.3}s verify {:.3}s opt {:.3}s \
             codegen(text) {:.3}s | whole expansion {:.3}s, {} tokens chars, \
             GRADIENT_CODE {} bytes (hash {:016x}), joint {} nodes, optimized {} nodes, {} ({} e-nodes, {} iterations)",
            frontend.as_secs_f64(),
            autodiff.as_secs_f64(),
            verify.as_secs_f64(),
            opt.as_secs_f64(),
            codegen.as_secs_f64(),
            expand.as_secs_f64(),
            expanded.to_string().len(),
            code.len(),
            {
                use std::hash::{DefaultHasher, Hash, Hasher};
                let mut h = DefaultHasher::new();
                code.hash(&mut h);
                h.finish()
            },
            joint.len(),
            optimized.len(),
            report.stop_reason, report.egraph_nodes, report.iterations,

        );
    }
}
