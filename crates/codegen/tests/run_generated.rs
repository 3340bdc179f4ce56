//! Compiles the generated code for real and runs it.
//!
//! One standalone crate is written under `<target>/gen-tests/prog`: a module per
//! graph holding hand-written `Params` / `Inputs` / `Grads` structs, the
//! generated `forward` and `forward_backward`, and a `run` that prints every
//! result. A shim crate named `gradc` provides `__private::{sigmoid, softplus, ...}`
//! from `gradc-ir` and `rt` from `gradc-runtime`, so the generated `::gradc::__private::` paths resolve as in a
//! user crate. The crate has `#![deny(warnings)]`. Every printed number is
//! checked against the tape interpreter (`gradc_ir::interp`), run in f64.
//!
//! Graphs: every case of `gradc_testkit::cases` (all ops, broadcasting variants and
//! the lecture networks) in f64 and f32, the hand-written XOR joint graph, the
//! kitchen-sink graph, a graph with heap-sized buffers and one without params.

mod common;

use gradc_codegen::{emit_forward, emit_forward_backward, pretty, rust_type};
use gradc_ir::{interp, BinaryOp, DType, Graph, NodeId, Op, RowOp, Shape, UnaryOp};
use gradc_testkit::cases;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;

/// One module of the generated program.
struct Module {
    name: String,
    dtype: DType,
    /// Leaf data (already rounded to the element type), in leaf order.
    inputs: Vec<Vec<f64>>,
    params: Vec<Vec<f64>>,
    forward: Graph,
    joint: Graph,
    /// Expected printed values: key (`fwd`, `loss`, `d_<p>`) → numbers.
    expected: Vec<(String, Vec<f64>)>,
}

fn round(dtype: DType, data: &[Vec<f64>]) -> Vec<Vec<f64>> {
    data.iter()
        .map(|v| match dtype {
            DType::F32 => v.iter().map(|x| *x as f32 as f64).collect(),
            DType::F64 => v.clone(),
        })
        .collect()
}

fn slices(v: &[Vec<f64>]) -> Vec<&[f64]> {
    v.iter().map(|x| x.as_slice()).collect()
}

/// The interpreter's value of every root of `g`.
fn eval(g: &Graph, inputs: &[Vec<f64>], params: &[Vec<f64>]) -> Vec<Vec<f64>> {
    interp::evaluate::<f64>(g, &slices(inputs), &slices(params)).expect("interpreter runs")
}

/// The live non-leaf node of highest rank (latest on ties): a tensor to return.
fn widest_node(g: &Graph) -> NodeId {
    let live = g.live();
    g.node_ids()
        .filter(|id| live[id.index()] && !g.op(*id).is_leaf())
        .max_by_key(|id| (g.shape(*id).rank(), *id))
        .expect("graph has an op")
}

/// A joint-shaped graph over `base` (whose root 0 is a scalar): the roots are
/// `loss` and, for each parameter, some node of its shape that exercises a
/// different way of writing `grads` (an owned buffer, the leaf itself, a zero).
fn pseudo_joint(base: &Graph, loss: NodeId, dtype: DType) -> Graph {
    let mut g = common::copy_nodes(base, dtype).unwrap();
    let mut roots = vec![("loss".to_string(), loss)];
    for (k, &p) in base.params().iter().enumerate() {
        let shape = g.shape(p).clone();
        let d = match k % 3 {
            0 => {
                let c = g.constant(1.5);
                let m = g.add(Op::Binary(BinaryOp::Mul), &[p, c]).unwrap();
                g.add(Op::Binary(BinaryOp::Add), &[m, loss]).unwrap()
            }
            1 => p,
            _ => {
                let z = g.constant(0.0);
                if shape.is_scalar() {
                    z
                } else {
                    g.add(Op::BroadcastTo(shape), &[z]).unwrap()
                }
            }
        };
        roots.push((format!("d_{}", base.name(p).unwrap()), d));
    }
    for (n, id) in roots {
        g.add_root(n, id);
    }
    g
}

/// A module whose expected values all come from the interpreter.
fn module(
    name: &str,
    dtype: DType,
    forward: Graph,
    joint: Graph,
    inputs: &[Vec<f64>],
    params: &[Vec<f64>],
) -> Module {
    let (inputs, params) = (round(dtype, inputs), round(dtype, params));
    let mut expected = vec![(
        "fwd".to_string(),
        eval(&forward, &inputs, &params).remove(0),
    )];
    let joint_vals = eval(&joint, &inputs, &params);
    for (r, v) in joint.roots().iter().zip(joint_vals) {
        expected.push((r.name.clone(), v));
    }
    Module {
        name: name.to_string(),
        dtype,
        inputs,
        params,
        forward,
        joint,
        expected,
    }
}

fn modules() -> Vec<Module> {
    let mut out = Vec::new();
    for case in cases::all_cases().unwrap() {
        let base = &case.graph;
        let loss = base.roots()[0].node;
        for dtype in [DType::F64, DType::F32] {
            let mut fwd = common::copy_nodes(base, dtype).unwrap();
            fwd.add_root("out", widest_node(base));
            let joint = pseudo_joint(base, loss, dtype);
            let name = format!("case_{}_{}", case.name.replace('-', "m"), dtype.name());
            out.push(module(&name, dtype, fwd, joint, &case.inputs, &case.params));
        }
    }

    // The hand-written XOR joint graph: its gradients must be the true ones, so
    // the expectation is the interpreter's reverse pass over the forward graph.
    let (inputs, params) = common::xor_data();
    for dtype in [DType::F64, DType::F32] {
        let (fwd, joint) = (common::xor_graph(dtype), common::xor_joint(dtype));
        let (xi, xp) = (round(dtype, &inputs), round(dtype, &params));
        let (loss, grads) = interp::gradients::<f64>(&fwd, &slices(&xi), &slices(&xp)).unwrap();
        let mut m = module(
            &format!("xor_joint_{}", dtype.name()),
            dtype,
            fwd,
            joint,
            &inputs,
            &params,
        );
        m.expected.truncate(1);
        m.expected.push(("loss".into(), vec![loss]));
        for (p, gr) in ["d_w1", "d_c", "d_w2", "d_b"].into_iter().zip(grads) {
            m.expected.push((p.into(), gr));
        }
        out.push(m);
    }

    // Kitchen sink: awkward names, every op, a 2-D output.
    let ks = common::kitchen_sink();
    let mut ks_base = common::copy_nodes(&ks, DType::F32).unwrap();
    let s = ks_base.add(Op::Sum, &[ks.roots()[0].node]).unwrap();
    let ks_joint = pseudo_joint(&ks_base, s, DType::F32);
    let ks_in = vec![cases::uniform(90, 6, -1.0, 1.0)];
    let ks_par = vec![cases::uniform(91, 3, -1.0, 1.0), vec![0.7], vec![0.1, 0.2]];
    out.push(module(
        "kitchen_sink_f32",
        DType::F32,
        ks,
        ks_joint,
        &ks_in,
        &ks_par,
    ));

    // Buffers above the stack limit live in a `Vec`.
    let mut g = Graph::new(DType::F32);
    let x = g.add_input("x", Shape::new([64, 80]));
    let w = g.add_param("w", Shape::new([80, 3]));
    let p = g.add_param("p", Shape::new([64, 80]));
    let z = g
        .add(
            Op::MatMul {
                ta: false,
                tb: false,
            },
            &[x, w],
        )
        .unwrap();
    let sm = g.add(Op::Row(RowOp::Softmax), &[z]).unwrap();
    let sp = g.add(Op::Unary(UnaryOp::Sigmoid), &[p]).unwrap();
    let xp = g.add(Op::Binary(BinaryOp::Mul), &[sp, x]).unwrap();
    let s1 = g.add(Op::Sum, &[sm]).unwrap();
    let s2 = g.add(Op::Sum, &[xp]).unwrap();
    let loss = g.add(Op::Binary(BinaryOp::Add), &[s1, s2]).unwrap();
    let mut fwd = common::copy_nodes(&g, DType::F32).unwrap();
    fwd.add_root("out", xp);
    let joint = pseudo_joint(&g, loss, DType::F32);
    let big_in = vec![cases::uniform(92, 64 * 80, -1.0, 1.0)];
    let big_par = vec![
        cases::uniform(93, 240, -0.2, 0.2),
        cases::uniform(94, 64 * 80, -1.0, 1.0),
    ];
    out.push(module("big_f32", DType::F32, fwd, joint, &big_in, &big_par));

    // No parameters, a constant forward output.
    let mut g = Graph::new(DType::F64);
    let x = g.add_input("x", Shape::new([3]));
    let n = g.add(Op::Unary(UnaryOp::Neg), &[x]).unwrap();
    let e = g.add(Op::Unary(UnaryOp::Exp), &[n]).unwrap();
    let s = g.add(Op::Sum, &[e]).unwrap();
    let mut fwd = common::copy_nodes(&g, DType::F64).unwrap();
    let c = fwd.constant(-2.5);
    fwd.add_root("out", c);
    g.add_root("loss", s);
    out.push(module(
        "no_params_f64",
        DType::F64,
        fwd,
        g,
        &[vec![0.5, -1.0, 2.0]],
        &[],
    ));
    out
}

/// A nested array literal (or scalar) of the element type.
fn literal(v: &[f64], dims: &[usize], dtype: DType) -> String {
    match dims.split_first() {
        None => match dtype {
            DType::F32 => format!("{:?}f32", v[0] as f32),
            DType::F64 => format!("{:?}f64", v[0]),
        },
        Some((&n, rest)) => {
            let step = rest.iter().product::<usize>();
            let parts: Vec<String> = (0..n)
                .map(|i| literal(&v[i * step..(i + 1) * step], rest, dtype))
                .collect();
            format!("[{}]", parts.join(", "))
        }
    }
}

/// An expression giving `&[T]` over a value of the given rank.
fn flat(expr: &str, rank: usize) -> String {
    match rank {
        0 => format!("&[{expr}]"),
        1 => format!("&{expr}[..]"),
        _ => format!("{expr}{}", ".as_flattened()".repeat(rank - 1)),
    }
}

fn module_source(m: &Module) -> String {
    let g = &m.joint;
    let field_list = |ids: &[NodeId]| -> Vec<(String, Shape)> {
        ids.iter()
            .map(|id| (g.name(*id).unwrap().to_string(), g.shape(*id).clone()))
            .collect()
    };
    let (ins, pars) = (field_list(g.inputs()), field_list(g.params()));
    let mut s = String::new();
    let _ = writeln!(s, "mod {} {{", m.name);
    for (strukt, fields) in [("Params", &pars), ("Inputs", &ins), ("Grads", &pars)] {
        let _ = writeln!(s, "pub struct {strukt} {{");
        for (f, sh) in fields {
            let _ = writeln!(s, "    pub {f}: {},", rust_type(m.dtype, sh));
        }
        let _ = writeln!(s, "}}");
    }
    s += &pretty(&emit_forward(&m.forward).unwrap()).unwrap();
    s += &pretty(&emit_forward_backward(&m.joint).unwrap()).unwrap();
    let _ = writeln!(s, "pub fn run() {{");
    let init = |fields: &[(String, Shape)], data: Option<&[Vec<f64>]>| -> String {
        fields
            .iter()
            .enumerate()
            .map(|(i, (f, sh))| {
                // Gradients start as garbage: forward_backward must overwrite them.
                let v = data.map_or_else(|| vec![7.0; sh.numel()], |d| d[i].clone());
                format!("{f}: {}", literal(&v, sh.dims(), m.dtype))
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(
        s,
        "let params = Params {{ {} }};",
        init(&pars, Some(&m.params))
    );
    let _ = writeln!(
        s,
        "let inputs = Inputs {{ {} }};",
        init(&ins, Some(&m.inputs))
    );
    let mut reads: Vec<String> = pars.iter().map(|(f, _)| format!("&params.{f}")).collect();
    reads.extend(ins.iter().map(|(f, _)| format!("&inputs.{f}")));
    let _ = writeln!(s, "let _ = ({},);", reads.join(", "));
    let out_rank = m.forward.shape(m.forward.roots()[0].node).rank();
    let _ = writeln!(s, "let out = forward(&params, &inputs);");
    let _ = writeln!(
        s,
        "println!(\"{} fwd {{}}\", super::show({}));",
        m.name,
        flat("out", out_rank)
    );
    let _ = writeln!(s, "let mut grads = Grads {{ {} }};", init(&pars, None));
    let _ = writeln!(
        s,
        "let loss = forward_backward(&params, &inputs, &mut grads);"
    );
    // The caller-owned-workspace entry point computes the same bits.
    let _ = writeln!(s, "let mut grads2 = Grads {{ {} }};", init(&pars, None));
    let _ = writeln!(
        s,
        "let loss2 = forward_backward_with(&params, &inputs, &mut grads2, &mut Workspace::new());"
    );
    let _ = writeln!(s, "assert_eq!(loss.to_bits(), loss2.to_bits());");
    let _ = writeln!(
        s,
        "println!(\"{} loss {{}}\", super::show(&[loss]));",
        m.name
    );
    for (f, sh) in &pars {
        let e = format!("grads.{f}");
        let _ = writeln!(
            s,
            "println!(\"{} d_{f} {{}}\", super::show({}));",
            m.name,
            flat(&e, sh.rank())
        );
    }
    let _ = writeln!(s, "}}\n}}");
    s
}

fn program(mods: &[Module]) -> String {
    let mut s = String::from("#![deny(warnings)]\n\n");
    s += "fn show<T: std::fmt::Debug>(xs: &[T]) -> String {\n";
    s += "    xs.iter().map(|x| format!(\"{x:?}\")).collect::<Vec<_>>().join(\" \")\n}\n\n";
    s += "fn main() {\n";
    for m in mods {
        let _ = writeln!(s, "    {}::run();", m.name);
    }
    s += "}\n\n";
    for m in mods {
        s += &module_source(m);
        s += "\n";
    }
    s
}

/// Writes the crate and its `gradc` shim, then `cargo run`s it; returns stdout.
fn build_and_run(main_rs: &str) -> String {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let workspace = manifest.join("../..").canonicalize().unwrap();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"));
    let root = target.join("gen-tests");
    let prog = root.join("prog");
    let shim = prog.join("shim");
    std::fs::create_dir_all(prog.join("src")).unwrap();
    std::fs::create_dir_all(shim.join("src")).unwrap();
    let ir = workspace.join("crates/ir");
    let rt = workspace.join("crates/runtime");
    std::fs::write(
        shim.join("Cargo.toml"),
        format!(
            "[package]\nname = \"gradc\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
             [dependencies]\ngradc-ir = {{ path = {:?} }}\ngradc-runtime = {{ path = {:?} }}\n",
            ir.display().to_string(),
            rt.display().to_string()
        ),
    )
    .unwrap();
    std::fs::write(
        shim.join("src/lib.rs"),
        "pub mod __private {\n    pub use gradc_ir::{elu, gelu, gelu_tanh, normal_cdf, sigmoid, silu, softplus};\n    pub use gradc_runtime as rt;\n}\n",
    )
    .unwrap();
    std::fs::write(
        prog.join("Cargo.toml"),
        "[package]\nname = \"gradc-codegen-gen-test\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
         publish = false\n\n[dependencies]\ngradc = { path = \"shim\" }\n\n[workspace]\n",
    )
    .unwrap();
    // The workspace's lock pins the same dependency versions (pruned on use).
    if let Ok(lock) = std::fs::read(workspace.join("Cargo.lock")) {
        std::fs::write(prog.join("Cargo.lock"), lock).unwrap();
    }
    std::fs::write(prog.join("src/main.rs"), main_rs).unwrap();
    // A target dir of its own: the outer `cargo test` still holds the lock on ours.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let res = Command::new(cargo)
        .args(["run", "--quiet", "--manifest-path"])
        .arg(prog.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(root.join("target"))
        .env_remove("RUSTFLAGS")
        .output()
        .expect("cargo runs");
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert!(
        res.status.success(),
        "generated program failed (see {}):\n{stderr}",
        prog.display()
    );
    String::from_utf8(res.stdout).unwrap()
}

fn close(got: f64, want: f64, tol: f64) -> bool {
    (got - want).abs() <= tol * (1.0 + want.abs())
}

#[test]
fn generated_code_compiles_warning_free_and_matches_the_interpreter() {
    let mods = modules();
    let stdout = build_and_run(&program(&mods));
    let mut printed: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
    for line in stdout.lines() {
        let mut w = line.split(' ');
        let (m, k) = (w.next().unwrap().to_string(), w.next().unwrap().to_string());
        let nums = w
            .filter(|s| !s.is_empty())
            .map(|s| s.parse::<f64>().unwrap())
            .collect();
        printed.insert((m, k), nums);
    }
    let mut failures = Vec::new();
    let mut checked = 0;
    for m in &mods {
        let tol = match m.dtype {
            DType::F32 => 2e-4,
            DType::F64 => 1e-10,
        };
        for (key, want) in &m.expected {
            let got = printed.get(&(m.name.clone(), key.clone()));
            let ok = got.is_some_and(|g| {
                g.len() == want.len() && g.iter().zip(want).all(|(a, b)| close(*a, *b, tol))
            });
            checked += 1;
            if !ok {
                failures.push(format!("{} {key}: got {got:?}, want {want:?}", m.name));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked > 300, "only {checked} values checked");
}
