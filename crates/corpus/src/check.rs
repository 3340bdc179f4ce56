//! The differential check run on every corpus network.

use gradc_ir::{interp, Graph, Op};

/// A loss-and-gradients pass over flat row-major inputs and parameters.
pub type FusedFn = dyn Fn(&[Vec<f64>], &[Vec<f64>]) -> (f64, Vec<Vec<f64>>);
/// A loss-only pass over flat row-major inputs and parameters.
pub type ForwardFn = dyn Fn(&[Vec<f64>], &[Vec<f64>]) -> f64;

/// A network's compiled entry points over flat row-major buffers, so one
/// non-generic function checks every network.
pub struct Subject<'a> {
    pub name: &'a str,
    /// The forward graph (`NAME::graph()`).
    pub graph: Graph,
    /// Element counts of the inputs and the parameters, in declaration order.
    pub input_sizes: Vec<usize>,
    pub param_sizes: Vec<usize>,
    /// `NAME::forward` (the compiled forward pass).
    pub forward: &'a ForwardFn,
    /// `NAME::forward_backward` (the compiled fused pass, optimizer on).
    pub fused: &'a FusedFn,
    /// `NAME::interpreted_forward_backward` (the tape interpreter).
    pub interpreted: &'a FusedFn,
}

/// What one check compared, for the summary line.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    pub gradient_entries: usize,
    pub max_fd_error: f64,
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
}

fn seed_of(name: &str, salt: u64) -> u64 {
    let mut seed = salt;
    for b in name.bytes() {
        seed = seed.wrapping_mul(31).wrapping_add(b as u64);
    }
    seed
}

/// Seeded data for a network: values in [-1, 1).
fn data(name: &str, sizes: &[usize], salt: u64) -> Vec<Vec<f64>> {
    let mut rng = crate::generate::Rng::new(seed_of(name, salt));
    sizes
        .iter()
        .map(|&n| (0..n).map(|_| rng.float(-1.0, 1.0)).collect())
        .collect()
}

/// The class-index label inputs of `g`: `(input index, class count)` for
/// every `#[input]` that feeds a `one_hot C` (what `cross_entropy` against
/// class indices lowers to), in input order.
pub fn label_inputs(g: &Graph) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    for id in g.node_ids() {
        let Op::OneHot(c) = *g.op(id) else { continue };
        let Some(&arg) = g.args(id).first() else {
            continue;
        };
        if let Op::Input(k) = *g.op(arg) {
            if !out.iter().any(|&(j, _)| j == k) {
                out.push((k, c));
            }
        }
    }
    out.sort_unstable();
    out
}

/// Labels that select no class among `c`: out of range, fractional, NaN, huge.
fn no_class(c: usize) -> [f64; 6] {
    [-1.0, c as f64, 0.5, c as f64 - 0.5, f64::NAN, 1e300]
}

/// Overwrites the label inputs (see [`label_inputs`]) of `inputs` with
/// seeded labels: mostly class indices `0..C` as floats (random values in
/// [-1, 1) would almost never select a class), about one in six a label that
/// selects no class. Labels are data, so finite differences stay valid.
fn fill_labels(g: &Graph, name: &str, inputs: &mut [Vec<f64>], salt: u64) {
    let mut rng = crate::generate::Rng::new(seed_of(name, salt ^ 0x1abe1));
    for (k, c) in label_inputs(g) {
        let Some(v) = inputs.get_mut(k) else { continue };
        for x in v.iter_mut() {
            *x = if rng.chance(1.0 / 6.0) {
                no_class(c)[rng.below(6)]
            } else {
                rng.below(c) as f64
            };
        }
    }
}

fn compare(
    what: &str,
    (la, ga): (f64, &[Vec<f64>]),
    (lb, gb): (f64, &[Vec<f64>]),
    tol: f64,
) -> Result<(), String> {
    if !close(la, lb, tol) {
        return Err(format!("{what}: loss {la} vs {lb}"));
    }
    for (p, (a, b)) in ga.iter().zip(gb).enumerate() {
        if a.len() != b.len() {
            return Err(format!(
                "{what}: gradient {p} has {} vs {} entries",
                a.len(),
                b.len()
            ));
        }
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            if !close(*x, *y, tol) {
                return Err(format!("{what}: d param {p} [{i}]: {x} vs {y}"));
            }
        }
    }
    Ok(())
}

/// Checks one network five ways on seeded data:
///
/// 1. the compiled fused pass is finite and its loss equals the compiled forward;
/// 2. compiled vs the tape interpreter (loss and every gradient entry);
/// 3. compiled gradients vs central finite differences of the compiled forward
///    pass in f64;
/// 4. optimizer off: the interpreter on the unoptimized joint graph from
///    `gradc_autodiff::differentiate` vs the compiled (optimized) pass;
/// 5. the interpreter on the joint graph optimized with `fast_math` vs off.
pub fn check(s: &Subject) -> Result<Stats, String> {
    let mut inputs = data(s.name, &s.input_sizes, 0x1234);
    fill_labels(&s.graph, s.name, &mut inputs, 0x1234);
    let params = data(s.name, &s.param_sizes, 0x5678);
    let (loss, grads, stats) = compiled(s, &inputs, &params)?;
    let (joint, fast_graph) = joint_graphs(&s.graph)?;
    against_graphs(&joint, &fast_graph, &inputs, &params, (loss, &grads))?;
    Ok(stats)
}

/// Steps 1-3 of [`check`]: the compiled loss and gradients.
fn compiled(
    s: &Subject,
    inputs: &[Vec<f64>],
    params: &[Vec<f64>],
) -> Result<(f64, Vec<Vec<f64>>, Stats), String> {
    let (loss, grads) = (s.fused)(inputs, params);
    if !loss.is_finite() || grads.iter().flatten().any(|g| !g.is_finite()) {
        return Err(format!("non-finite loss {loss} or gradients {grads:?}"));
    }
    let fwd = (s.forward)(inputs, params);
    if !close(loss, fwd, 1e-12) {
        return Err(format!("fused loss {loss} vs forward {fwd}"));
    }

    let (iloss, igrads) = (s.interpreted)(inputs, params);
    compare(
        "compiled vs interpreted",
        (loss, &grads),
        (iloss, &igrads),
        1e-10,
    )?;

    let mut stats = Stats::default();
    for (p, g) in grads.iter().enumerate() {
        for (i, &gi) in g.iter().enumerate() {
            let h = 1e-6 * (1.0 + params[p][i].abs());
            let mut q = params.to_vec();
            q[p][i] += h;
            let up = (s.forward)(inputs, &q);
            q[p][i] -= 2.0 * h;
            let down = (s.forward)(inputs, &q);
            let fd = (up - down) / (2.0 * h);
            let err = (gi - fd).abs() / (1.0 + gi.abs().max(fd.abs()));
            stats.max_fd_error = stats.max_fd_error.max(err);
            stats.gradient_entries += 1;
            if err > 1e-6 {
                return Err(format!(
                    "d param {p} [{i}]: compiled {gi} vs finite difference {fd}"
                ));
            }
        }
    }
    Ok((loss, grads, stats))
}

/// The unoptimized joint graph of `forward` and the joint graph optimized
/// with `fast_math`.
fn joint_graphs(forward: &Graph) -> Result<(Graph, Graph), String> {
    let joint = gradc_autodiff::differentiate(forward).map_err(|e| format!("autodiff: {e}"))?;
    gradc_ir::verify_joint(forward, &joint).map_err(|e| format!("autodiff:\n{e}"))?;
    let fast = gradc_opt::OptConfig {
        fast_math: true,
        ..gradc_opt::OptConfig::default()
    };
    let (fast_graph, _) = gradc_opt::optimize(&joint, &fast).map_err(|e| format!("opt: {e}"))?;
    gradc_ir::verify_optimized(&joint, &fast_graph).map_err(|e| format!("opt:\n{e}"))?;
    Ok((joint, fast_graph))
}

/// Steps 4-5 of [`check`]: the interpreter on `joint` vs the compiled
/// `(loss, grads)`, and on `fast_graph` vs `joint`.
fn against_graphs(
    joint: &Graph,
    fast_graph: &Graph,
    inputs: &[Vec<f64>],
    params: &[Vec<f64>],
    (loss, grads): (f64, &[Vec<f64>]),
) -> Result<(), String> {
    let ins: Vec<&[f64]> = inputs.iter().map(|v| v.as_slice()).collect();
    let ps: Vec<&[f64]> = params.iter().map(|v| v.as_slice()).collect();
    let run = |g: &Graph, what: &str| -> Result<(f64, Vec<Vec<f64>>), String> {
        let mut roots =
            interp::evaluate::<f64>(g, &ins, &ps).map_err(|e| format!("{what}: {e}"))?;
        let loss = roots.remove(0)[0];
        Ok((loss, roots))
    };
    let (jl, jg) = run(joint, "unoptimized joint graph")?;
    compare(
        "optimizer on (compiled) vs off (joint graph)",
        (loss, grads),
        (jl, &jg),
        1e-10,
    )?;
    let (fl, fg) = run(fast_graph, "fast_math graph")?;
    compare("fast_math vs exact", (jl, &jg), (fl, &fg), 1e-9)?;
    Ok(())
}

/// The batch sizes every batch-generic corpus network is checked at.
pub const BATCHES: [usize; 3] = [1, 3, 17];

/// Checks a batch-generic network (`fn net<const B: usize>`) whose symbolic
/// forward graph is `generic`, at each `(b, subject)` (the compiled entry
/// points at `B = b`, with `subject.graph` = `Net::<b>::graph()`): the five
/// steps of [`check`] at every `b`, where steps 4-5 differentiate and
/// optimize the symbolic graph once and run it instantiated at `b`. Also
/// checks that `Net::<b>::graph()` is `generic` instantiated at `b`.
pub fn check_batch(generic: &Graph, at: &[(usize, Subject)]) -> Result<Stats, String> {
    if !generic.is_batch_generic() {
        return Err(format!(
            "the graph of a `<const B: usize>` network has no `B`:\n{generic}"
        ));
    }
    let (joint, fast_graph) = joint_graphs(generic)?;
    let mut stats = Stats::default();
    for (b, s) in at {
        let at_b = |g: &Graph| g.instantiate(*b).map_err(|e| format!("B = {b}: {e}"));
        let inst = at_b(generic)?;
        if inst.to_string() != s.graph.to_string() {
            return Err(format!(
                "B = {b}: Net::<{b}>::graph() is not graph() instantiated:\n{}\nvs\n{inst}",
                s.graph
            ));
        }
        let salt = *b as u64;
        let mut inputs = data(s.name, &s.input_sizes, 0x1234 ^ salt);
        fill_labels(&s.graph, s.name, &mut inputs, 0x1234 ^ salt);
        let params = data(s.name, &s.param_sizes, 0x5678 ^ salt);
        let (loss, grads, st) =
            compiled(s, &inputs, &params).map_err(|e| format!("B = {b}: {e}"))?;
        against_graphs(
            &at_b(&joint)?,
            &at_b(&fast_graph)?,
            &inputs,
            &params,
            (loss, &grads),
        )
        .map_err(|e| format!("B = {b}: {e}"))?;
        stats.gradient_entries += st.gradient_entries;
        stats.max_fd_error = stats.max_fd_error.max(st.max_fd_error);
    }
    Ok(stats)
}

/// The generic network at `B` = [`crate::generate::TWIN_BATCH`] (`generic`)
/// vs the same network written with that literal batch (`twin`), both
/// `forward_backward` over flat buffers, on the same seeded data: loss and
/// gradients to 1e-12. `graph` (either network's graph) locates the
/// class-index label inputs.
pub fn check_twin(
    name: &str,
    graph: &Graph,
    input_sizes: &[usize],
    param_sizes: &[usize],
    generic: &FusedFn,
    twin: &FusedFn,
) -> Result<(), String> {
    let mut inputs = data(name, input_sizes, 0x7717);
    fill_labels(graph, name, &mut inputs, 0x7717);
    let params = data(name, param_sizes, 0x7718);
    let (gl, gg) = generic(&inputs, &params);
    let (tl, tg) = twin(&inputs, &params);
    compare(
        "generic at the twin's batch vs literal-batch twin",
        (gl, &gg),
        (tl, &tg),
        1e-12,
    )
}

/// Seeded flat data for `name`: inputs and parameters, values in [-1, 1),
/// one vector each (for networks compared through `Tensors::copy_from_flat`).
pub fn flat_data(name: &str, inputs: usize, params: usize) -> (Vec<f64>, Vec<f64>) {
    let mut d = data(name, &[inputs, params], 0x100b);
    let params = d.pop().unwrap_or_default();
    (d.pop().unwrap_or_default(), params)
}

/// A network's `predict` vs its `interpreted_predict` on the same features
/// (each output flattened, in order): every entry finite and within 1e-12
/// (relative), and a second compiled call bit-identical to the first (the
/// per-thread workspace is reused there).
pub fn check_predict(
    compiled: &[Vec<f64>],
    again: &[Vec<f64>],
    interpreted: &[Vec<f64>],
) -> Result<(), String> {
    if compiled.len() != interpreted.len() || compiled.len() != again.len() {
        return Err(format!(
            "predict gives {} outputs, interpreted_predict {}",
            compiled.len(),
            interpreted.len()
        ));
    }
    for (o, ((c, a), i)) in compiled.iter().zip(again).zip(interpreted).enumerate() {
        if c.len() != i.len() {
            return Err(format!("output {o}: {} vs {} entries", c.len(), i.len()));
        }
        for (j, ((x, x2), y)) in c.iter().zip(a).zip(i).enumerate() {
            if !x.is_finite() || !close(*x, *y, 1e-12) {
                return Err(format!(
                    "output {o} [{j}]: predict {x} vs interpreted_predict {y}"
                ));
            }
            if x.to_bits() != x2.to_bits() {
                return Err(format!(
                    "output {o} [{j}]: predict gave {x}, then {x2} on the same features"
                ));
            }
        }
    }
    Ok(())
}

/// A loop network vs its unrolled twin on the same flat data: loss, every
/// gradient entry and every `#[output]` entry bit-identical. Each side is
/// `(loss, gradients, outputs)`, flattened in declaration order, which the
/// twin's split arguments keep.
pub fn check_unrolled(
    looped: (f64, &[f64], &[f64]),
    unrolled: (f64, &[f64], &[f64]),
) -> Result<(), String> {
    let (ll, lg, lo) = looped;
    let (ul, ug, uo) = unrolled;
    if ll.to_bits() != ul.to_bits() {
        return Err(format!("loss {ll} vs unrolled {ul}"));
    }
    for (what, a, b) in [("gradient", lg, ug), ("output", lo, uo)] {
        if a.len() != b.len() {
            return Err(format!(
                "{} {what} entries vs {} unrolled",
                a.len(),
                b.len()
            ));
        }
        if let Some((j, (x, y))) = a
            .iter()
            .zip(b)
            .enumerate()
            .find(|(_, (x, y))| x.to_bits() != y.to_bits())
        {
            return Err(format!("{what} entry {j}: {x} vs unrolled {y}"));
        }
    }
    Ok(())
}

/// Checks the `#[network]` module `$net` (see [`check`]) and panics with the
/// network's name on a mismatch.
#[macro_export]
macro_rules! check_network {
    ($net:ident) => {{
        use $net as n;
        fn load_params(p: &[Vec<f64>]) -> n::Params {
            let mut out = n::Params::zeros();
            for ((_, dst), src) in out.slices_mut().into_iter().zip(p) {
                dst.copy_from_slice(src);
            }
            out
        }
        fn load_inputs(x: &[Vec<f64>]) -> n::Inputs {
            let mut out = n::Inputs::zeros();
            for ((_, dst), src) in out.slices_mut().into_iter().zip(x) {
                dst.copy_from_slice(src);
            }
            out
        }
        fn grads_vec(g: &n::Grads) -> Vec<Vec<f64>> {
            g.slices().iter().map(|(_, s)| s.to_vec()).collect()
        }
        let forward = |x: &[Vec<f64>], p: &[Vec<f64>]| n::forward(&load_params(p), &load_inputs(x));
        let fused = |x: &[Vec<f64>], p: &[Vec<f64>]| {
            let mut g = n::Grads::zeros();
            let l = n::forward_backward(&load_params(p), &load_inputs(x), &mut g);
            (l, grads_vec(&g))
        };
        let interpreted = |x: &[Vec<f64>], p: &[Vec<f64>]| {
            let mut g = n::Grads::zeros();
            let l = n::interpreted_forward_backward(&load_params(p), &load_inputs(x), &mut g);
            (l, grads_vec(&g))
        };
        let subject = $crate::check::Subject {
            name: stringify!($net),
            graph: n::graph(),
            input_sizes: n::Inputs::zeros()
                .slices()
                .iter()
                .map(|(_, s)| s.len())
                .collect(),
            param_sizes: n::Params::zeros()
                .slices()
                .iter()
                .map(|(_, s)| s.len())
                .collect(),
            forward: &forward,
            fused: &fused,
            interpreted: &interpreted,
        };
        if let Err(e) = $crate::check::check(&subject) {
            panic!("{}: {e}\n{}", stringify!($net), n::GRADIENT_CODE);
        }
    }};
}

/// Checks the batch-generic `#[network]` module `$net` (declared
/// `<const B: usize>`) at every size in [`BATCHES`] (see [`check_batch`]) and
/// against `$twin`, the same network at the literal batch
/// [`crate::generate::TWIN_BATCH`] (see [`check_twin`]); panics with the
/// network's name on a mismatch.
#[macro_export]
macro_rules! check_network_batch {
    ($net:ident, $twin:ident) => {{
        use $net as n;
        use $twin as t;
        fn load_params(p: &[Vec<f64>]) -> n::Params {
            let mut out = n::Params::zeros();
            for ((_, dst), src) in out.slices_mut().into_iter().zip(p) {
                dst.copy_from_slice(src);
            }
            out
        }
        fn load_inputs<const B: usize>(x: &[Vec<f64>]) -> n::Inputs<B> {
            let mut out = n::Inputs::<B>::zeros();
            for ((_, dst), src) in out.slices_mut().into_iter().zip(x) {
                dst.copy_from_slice(src);
            }
            out
        }
        fn grads_vec(g: &n::Grads) -> Vec<Vec<f64>> {
            g.slices().iter().map(|(_, s)| s.to_vec()).collect()
        }
        fn input_sizes<const B: usize>() -> Vec<usize> {
            n::Inputs::<B>::zeros()
                .slices()
                .iter()
                .map(|(_, s)| s.len())
                .collect()
        }
        fn param_sizes() -> Vec<usize> {
            n::Params::zeros()
                .slices()
                .iter()
                .map(|(_, s)| s.len())
                .collect()
        }
        fn forward<const B: usize>(x: &[Vec<f64>], p: &[Vec<f64>]) -> f64 {
            n::forward(&load_params(p), &load_inputs::<B>(x))
        }
        fn fused<const B: usize>(x: &[Vec<f64>], p: &[Vec<f64>]) -> (f64, Vec<Vec<f64>>) {
            let mut g = n::Grads::zeros();
            let l = n::forward_backward(&load_params(p), &load_inputs::<B>(x), &mut g);
            (l, grads_vec(&g))
        }
        fn interpreted<const B: usize>(x: &[Vec<f64>], p: &[Vec<f64>]) -> (f64, Vec<Vec<f64>>) {
            let mut g = n::Grads::zeros();
            let l = n::interpreted_forward_backward(&load_params(p), &load_inputs::<B>(x), &mut g);
            (l, grads_vec(&g))
        }
        fn subject<const B: usize>() -> (usize, $crate::check::Subject<'static>) {
            (
                B,
                $crate::check::Subject {
                    name: stringify!($net),
                    graph: <n::Net<B> as gradc::Network>::graph(),
                    input_sizes: input_sizes::<B>(),
                    param_sizes: param_sizes(),
                    forward: &forward::<B>,
                    fused: &fused::<B>,
                    interpreted: &interpreted::<B>,
                },
            )
        }
        const _: () = assert!(
            $crate::check::BATCHES[0] == 1
                && $crate::check::BATCHES[1] == 3
                && $crate::check::BATCHES[2] == 17
        );
        let at = [subject::<1>(), subject::<3>(), subject::<17>()];
        if let Err(e) = $crate::check::check_batch(&n::graph(), &at) {
            panic!("{}: {e}\n{}", stringify!($net), n::GRADIENT_CODE);
        }
        let twin = |x: &[Vec<f64>], p: &[Vec<f64>]| {
            let mut tp = t::Params::zeros();
            for ((_, dst), src) in tp.slices_mut().into_iter().zip(p) {
                dst.copy_from_slice(src);
            }
            let mut tx = t::Inputs::zeros();
            for ((_, dst), src) in tx.slices_mut().into_iter().zip(x) {
                dst.copy_from_slice(src);
            }
            let mut g = t::Grads::zeros();
            let l = t::forward_backward(&tp, &tx, &mut g);
            (
                l,
                g.slices()
                    .iter()
                    .map(|(_, s)| s.to_vec())
                    .collect::<Vec<_>>(),
            )
        };
        const _: () = assert!($crate::generate::TWIN_BATCH == 3);
        if let Err(e) = $crate::check::check_twin(
            stringify!($net),
            &t::graph(),
            &input_sizes::<3>(),
            &param_sizes(),
            &fused::<3>,
            &twin,
        ) {
            panic!("{} vs {}: {e}", stringify!($net), stringify!($twin));
        }
    }};
}

/// Checks the `#[network]` module `$net` like [`check_network!`] and then
/// its `#[output]` values: `predict` vs `interpreted_predict` on seeded
/// features (see [`check_predict`]). `Features` are taken by name from the
/// network's `Inputs`.
#[macro_export]
macro_rules! check_network_outputs {
    ($net:ident) => {{
        $crate::check_network!($net);
        use $net as n;
        fn outputs(o: &n::Outputs) -> Vec<Vec<f64>> {
            o.slices().iter().map(|(_, s)| s.to_vec()).collect()
        }
        let (x, p) = $crate::check::flat_data(
            stringify!($net),
            <n::Inputs as gradc::Tensors>::numel(),
            <n::Params as gradc::Tensors>::numel(),
        );
        let mut inputs = n::Inputs::zeros();
        gradc::Tensors::copy_from_flat(&mut inputs, &x).expect("input length");
        let mut params = n::Params::zeros();
        gradc::Tensors::copy_from_flat(&mut params, &p).expect("parameter length");
        let mut features = n::Features::zeros();
        let src = inputs.slices();
        for (name, dst) in features.slices_mut() {
            let (_, s) = src
                .iter()
                .find(|(m, _)| *m == name)
                .expect("every feature is an input");
            dst.copy_from_slice(s);
        }
        let compiled = outputs(&n::predict(&params, &features));
        let again = outputs(&n::predict(&params, &features));
        let interpreted = outputs(&n::interpreted_predict(&params, &features));
        if let Err(e) = $crate::check::check_predict(&compiled, &again, &interpreted) {
            panic!("{}: {e}", stringify!($net));
        }
    }};
}

/// Checks the loop network `$net` against `$twin`, the same network written
/// without loops with one argument per stacked slice (see [`check_unrolled`]):
/// `forward_backward` and `predict` on the same flat data, bit for bit.
#[macro_export]
macro_rules! check_unrolled {
    ($net:ident, $twin:ident) => {{
        use $net as n;
        use $twin as t;
        let (x, p) = $crate::check::flat_data(
            stringify!($net),
            <n::Inputs as gradc::Tensors>::numel(),
            <n::Params as gradc::Tensors>::numel(),
        );
        macro_rules! run {
            ($m:ident) => {{
                let mut inputs = $m::Inputs::zeros();
                gradc::Tensors::copy_from_flat(&mut inputs, &x).expect("input length");
                let mut params = $m::Params::zeros();
                gradc::Tensors::copy_from_flat(&mut params, &p).expect("parameter length");
                let mut grads = $m::Grads::zeros();
                let loss = $m::forward_backward(&params, &inputs, &mut grads);
                let mut features = $m::Features::zeros();
                let src = inputs.slices();
                for (name, dst) in features.slices_mut() {
                    let (_, s) = src
                        .iter()
                        .find(|(m, _)| *m == name)
                        .expect("every feature is an input");
                    dst.copy_from_slice(s);
                }
                let out = $m::predict(&params, &features);
                let outputs: Vec<f64> = out.slices().iter().flat_map(|(_, s)| s.to_vec()).collect();
                (loss, gradc::Tensors::to_flat_vec(&grads), outputs)
            }};
        }
        let (nl, ng, no) = run!(n);
        let (tl, tg, to) = run!(t);
        if let Err(e) = $crate::check::check_unrolled((nl, &ng, &no), (tl, &tg, &to)) {
            panic!("{} vs {}: {e}", stringify!($net), stringify!($twin));
        }
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `cross_entropy([2 3] logits, [2] labels)` lowers to `one_hot 3` of input 1.
    fn clf() -> Graph {
        let src = "fn f(#[input] x: [[f64; 3]; 2], #[input] lab: [f64; 2], w: [f64; 3]) -> f64 \
                   { cross_entropy(x * w, lab) }";
        let item: proc_macro2::TokenStream = src.parse().unwrap();
        gradc_frontend::parse_network(proc_macro2::TokenStream::new(), item)
            .unwrap()
            .graph
    }

    #[test]
    fn finds_the_label_input_and_its_class_count() {
        assert_eq!(label_inputs(&clf()), vec![(1, 3)]);
    }

    #[test]
    fn labels_are_mostly_class_indices_and_sometimes_none() {
        let g = clf();
        let (mut valid, mut none) = (0, 0);
        for i in 0..200 {
            let mut inputs = data("f", &[6, 2], i);
            let x = inputs[0].clone();
            fill_labels(&g, "f", &mut inputs, i);
            assert_eq!(inputs[0], x, "only labels change");
            for &l in &inputs[1] {
                if l.fract() == 0.0 && (0.0..3.0).contains(&l) {
                    valid += 1;
                } else {
                    assert!(no_class(3)
                        .iter()
                        .any(|&n| n == l || (n.is_nan() && l.is_nan())));
                    none += 1;
                }
            }
        }
        assert!(valid > 4 * none && none > 20, "{valid} valid, {none} none");
    }
}
