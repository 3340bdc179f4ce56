//! The seeded generator of random `#[network]` sources.
//!
//! Each network draws 1-2 `#[input]`s and 1-3 parameters of small shapes
//! (scalar, `[n]`, `[m n]` with dimensions 1-3), then 2-7 `let` statements
//! picked from: elementwise unary functions (as free functions or methods),
//! broadcasting binary operators, `max`, `matmul`/`dot`, `t()`, `softmax`,
//! `log_softmax`, `sum`, `mean`, scaling by literals, re-use of earlier values
//! (fan-out) and verbatim repeats of earlier expressions (shared
//! subexpressions), sometimes shadowing a name. The loss is one of `mse`,
//! `cross_entropy`, `binary_cross_entropy_with_logits`, `sum` or `mean` of a
//! value, plus the sum of every value nothing consumed yet, so every parameter
//! reaches the loss. Only forms that stay finite and smooth near random data
//! in [-1, 1] are drawn: `ln` and `sqrt` take positive arguments by
//! construction and divisors are at least 1.
//!
//! The batch-generic variant ([`network_batch`]) declares `<const B: usize>`
//! and gives every `#[input]` a `B` axis (`[B]`, `[B n]`, sometimes `[n B]`);
//! parameters stay literal, often an input's shape without the `B` axis, and
//! some value must mix an input with a parameter. [`twin`] writes the same
//! network with the literal batch [`TWIN_BATCH`].
//!
//! The class-index variant ([`network_class`], [`network_class_batch`]) adds
//! an `#[input]` named [`LABEL_INPUT`] (`lab`) holding class indices of shape
//! `[]`, `[n]` or `[B]`, makes `x` the logits' shape (`[C]`, `[n C]`,
//! `[B C]`, 2 <= C <= 4), and its loss is `cross_entropy(h, lab)` over a
//! parameter-dependent value `h` of the logits' shape. It draws from its own
//! seed, so the literal and batch corpora above are unchanged by it.
//!
//! The ops variant ([`network_ops`]) draws from a larger vocabulary, with the
//! activations of issue #13 and `min`, from its own seed; the other variants
//! keep the original vocabulary, so their seeds still give the committed corpora.
//! The axis variant ([`network_axis`]) adds the reductions along one axis
//! (`sum_axis`, `mean_axis`, `max_axis`, `logsumexp_axis`), `layer_norm` and
//! `concat` to the ops vocabulary, again from its own seed.
//!
//! Every generated network is checked by [`gradc_frontend::parse_network`]
//! before it is accepted, so the corpus only holds networks gradc accepts.

use gradc_ir::{broadcast_shapes, Shape, BATCH};

/// The seed of the committed corpus.
pub const SEED: u64 = 0x6772_6164_635f_3037;
/// The number of networks in the committed corpus.
pub const COUNT: usize = 120;

/// The seed of the committed batch-generic corpus (`tests/networks_batch.rs`).
pub const SEED_BATCH: u64 = 0x6772_6164_635f_4221;
/// The number of batch-generic networks in the committed corpus (each with
/// its twin at the literal batch [`TWIN_BATCH`]).
pub const COUNT_BATCH: usize = 30;
/// The literal batch of each batch-generic network's twin.
pub const TWIN_BATCH: usize = 3;

/// The seed of the committed class-index corpus (`tests/networks_class.rs`).
pub const SEED_CLASS: u64 = 0x6772_6164_635f_4349;
/// The number of networks in the class-index corpus: even indices are
/// batch-generic (`cls_NNN<const B: usize>` with a twin), odd ones literal.
pub const COUNT_CLASS: usize = 16;
/// The name of the class-index label `#[input]` in generated networks. The
/// check does not rely on it: it finds label inputs in the graph (an input
/// feeding `one_hot C`), which also gives the class count.
pub const LABEL_INPUT: &str = "lab";

/// The seed of the committed corpus of the issue #13 elementwise ops
/// (`tests/networks_ops.rs`).
pub const SEED_OPS: u64 = 0x6772_6164_635f_4f50;
/// The number of networks in the ops corpus.
pub const COUNT_OPS: usize = 40;

/// The seed of the committed corpus of the axis reductions, `layer_norm` and
/// `concat` (`tests/networks_axis.rs`).
pub const SEED_AXIS: u64 = 0x6772_6164_635f_4158;
/// The number of networks in the axis corpus.
pub const COUNT_AXIS: usize = 40;

/// Which functions a corpus draws: each vocabulary extends the one before,
/// and a corpus keeps its vocabulary so its seed keeps giving its networks.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Vocab {
    /// The original functions.
    Base,
    /// Plus the elementwise ops of issue #13 and `min`.
    Ops,
    /// Plus the axis reductions, `layer_norm` and `concat`.
    Axis,
}

/// The unary vocabulary of the ops corpus: the original one plus the
/// activations of issue #13. The other corpora keep the original list, so
/// their seeds still give the committed networks.
const OPS_UNARY: &[&str] = &[
    "relu",
    "sigmoid",
    "tanh",
    "softplus",
    "exp",
    "ln",
    "sqrt",
    "powi2",
    "powi3",
    "neg",
    "abs",
    "leaky_relu",
    "elu",
    "gelu",
    "gelu_tanh",
    "silu",
    "clamp",
    "hardtanh",
    "square",
    "ln_1p",
];

/// SplitMix64: tiny, seedable, and the same on every platform.
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Uniform in `[lo, hi)`.
    pub fn float(&mut self, lo: f64, hi: f64) -> f64 {
        let u = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        lo + (hi - lo) * u
    }

    /// `true` with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.float(0.0, 1.0) < p
    }

    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

/// A value in scope: its name, its shape, and whether something consumed it.
struct Var {
    name: String,
    shape: Shape,
    used: bool,
    /// Depends on a parameter.
    param: bool,
    /// Depends on an `#[input]`.
    data: bool,
}

fn ty(shape: &Shape) -> String {
    let mut t = "f64".to_string();
    for &d in shape.dims().iter().rev() {
        t = if d == BATCH {
            format!("[{t}; B]")
        } else {
            format!("[{t}; {d}]")
        };
    }
    t
}

/// An `#[input]` shape of a batch-generic network: `B` leads (`[B]`, `[B n]`),
/// sometimes trails (`[n B]`).
fn random_batch_shape(rng: &mut Rng) -> Shape {
    let d = 1 + rng.below(3);
    match rng.below(6) {
        0 => Shape::new([BATCH]),
        5 => Shape::new([d, BATCH]),
        _ => Shape::new([BATCH, d]),
    }
}

/// `shape` without its `B` axis: a parameter shape that broadcasts against it.
fn unbatched(shape: &Shape) -> Shape {
    Shape::new(
        shape
            .dims()
            .iter()
            .map(|&d| if d == BATCH { 1 } else { d })
            .skip_while(|&d| d == 1)
            .collect::<Vec<_>>(),
    )
}

fn random_shape(rng: &mut Rng) -> Shape {
    let d = |rng: &mut Rng| 1 + rng.below(3);
    match rng.below(6) {
        0 => Shape::scalar(),
        1 | 2 => Shape::new([d(rng)]),
        _ => Shape::new([d(rng), d(rng)]),
    }
}

/// One generated network: its name and its source text.
pub struct Generated {
    pub name: String,
    pub source: String,
}

/// Source of network `index` of the corpus with `seed`, or `None` when the draw
/// was unusable (the caller draws again).
///
/// With `batch`, the `#[input]`s have a `B` axis and the network is declared
/// `<const B: usize>`; parameters never have one.
fn draw(rng: &mut Rng, name: &str, batch: bool, class: bool, vocab: Vocab) -> Option<String> {
    let mut vars: Vec<Var> = Vec::new();
    let mut args = Vec::new();
    let n_inputs = 1 + rng.below(2);
    let n_params = 1 + rng.below(3);
    // Class-index mode: the logits' shape and the labels' (it without the class axis).
    let logits = class.then(|| {
        let c = 2 + rng.below(3);
        if batch {
            Shape::new([BATCH, c])
        } else if rng.chance(0.3) {
            Shape::new([c])
        } else {
            Shape::new([1 + rng.below(3), c])
        }
    });
    for i in 0..n_inputs {
        let shape = if let (0, Some(l)) = (i, &logits) {
            l.clone()
        } else if batch {
            random_batch_shape(rng)
        } else {
            random_shape(rng)
        };
        let name = ["x", "y"][i].to_string();
        args.push(format!("#[input] {name}: {}", ty(&shape)));
        // Inputs need not reach the loss.
        vars.push(Var {
            name,
            shape,
            used: true,
            param: false,
            data: true,
        });
    }
    if let Some(l) = &logits {
        // Not in `vars`: labels only ever reach the loss.
        let labels = Shape::new(l.dims()[..l.rank() - 1].to_vec());
        args.push(format!("#[input] {LABEL_INPUT}: {}", ty(&labels)));
    }
    let mut params = Vec::new();
    for i in 0..n_params {
        // Often an input's shape, so a loss can compare the two.
        let shape = if rng.chance(0.4) {
            let s = vars[rng.below(n_inputs)].shape.clone();
            if batch {
                unbatched(&s)
            } else {
                s
            }
        } else {
            random_shape(rng)
        };
        let name = ["w", "v", "b"][i].to_string();
        args.push(format!("{name}: {}", ty(&shape)));
        params.push(vars.len());
        vars.push(Var {
            name,
            shape,
            used: false,
            param: true,
            data: false,
        });
    }
    // Parameters are not consumed yet: mark them so the loss picks them up.
    let mut stmts: Vec<String> = Vec::new();
    let mut exprs: Vec<(String, Shape, bool, bool)> = Vec::new();
    // A batch-generic network needs a value that mixes the batch with a parameter.
    let mut mixed = false;
    let n_stmts = 3 + rng.below(6);
    let mut next = 0;
    for _ in 0..n_stmts {
        let Some((expr, shape, param, data)) = statement(rng, &mut vars, &exprs, batch, vocab)
        else {
            continue;
        };
        // gradc rejects values with two `B` axes (`[B B]`).
        if shape.batch_degree() > 1 {
            return None;
        }
        mixed |= param && data;
        exprs.push((expr.clone(), shape.clone(), param, data));
        // Sometimes shadow the name just defined, after using it.
        let shadow = next > 0 && rng.chance(0.15);
        let name = if shadow {
            format!("h{}", next - 1)
        } else {
            next += 1;
            format!("h{}", next - 1)
        };
        if shadow {
            // The shadowed value must have been consumed by this expression,
            // else it is lost; only shadow when the expression names it.
            let old = vars.iter().rposition(|v| v.name == name)?;
            if !vars[old].used {
                return None;
            }
        }
        stmts.push(format!("    let {name} = {expr};"));
        vars.push(Var {
            name,
            shape,
            used: false,
            param,
            data,
        });
    }
    let _ = params;
    if batch && !mixed {
        return None;
    }
    let loss = loss_expr(rng, &mut vars, logits.as_ref())?;
    let mut src = String::new();
    src.push_str("#[network]\n");
    let generics = if batch { "<const B: usize>" } else { "" };
    src.push_str(&format!("pub fn {name}{generics}(\n"));
    for a in &args {
        src.push_str(&format!("    {a},\n"));
    }
    src.push_str(") -> f64 {\n");
    for s in &stmts {
        src.push_str(s);
        src.push('\n');
    }
    src.push_str(&format!("    {loss}\n}}\n"));
    Some(src)
}

/// A random operand: values that depend on a parameter and recent values are
/// likelier, so parameters sit deep in the graph.
/// In a batch-generic network, values that depend on an input are likelier too.
fn operand(rng: &mut Rng, vars: &[Var], batch: bool) -> usize {
    let n = vars.len();
    if batch && rng.chance(0.35) {
        let with_data: Vec<usize> = (0..n).filter(|&i| vars[i].data).collect();
        return with_data[rng.below(with_data.len())];
    }
    if rng.chance(0.75) {
        let with_param: Vec<usize> = (0..n).filter(|&i| vars[i].param).collect();
        let k = with_param.len();
        if rng.chance(0.6) {
            return with_param[k - 1 - rng.below(k.min(3))];
        }
        return with_param[rng.below(k)];
    }
    if rng.chance(0.5) {
        n - 1 - rng.below(n.min(3))
    } else {
        rng.below(n)
    }
}

/// One expression over `vars` with its shape; marks the operands used.
fn statement(
    rng: &mut Rng,
    vars: &mut [Var],
    exprs: &[(String, Shape, bool, bool)],
    batch: bool,
    vocab: Vocab,
) -> Option<(String, Shape, bool, bool)> {
    let ops = vocab >= Vocab::Ops;
    // A verbatim repeat of an earlier expression: a shared subexpression.
    if !exprs.is_empty() && rng.chance(0.1) {
        return Some(rng.pick(exprs).clone());
    }
    let a = operand(rng, vars, batch);
    let (an, ash) = (vars[a].name.clone(), vars[a].shape.clone());
    let mut param = vars[a].param;
    let mut data = vars[a].data;
    // The axis vocabulary draws its own kinds often: 8 of 22.
    let kind = rng.below(if vocab >= Vocab::Axis { 22 } else { 14 });
    let out = match kind {
        0..=3 => {
            let f = if ops {
                *rng.pick(OPS_UNARY)
            } else {
                *rng.pick(&[
                    "relu", "sigmoid", "tanh", "softplus", "exp", "ln", "sqrt", "powi2", "powi3",
                    "neg",
                ])
            };
            let method = rng.chance(0.5);
            let call = |f: &str, x: &str| {
                if method {
                    format!("{x}.{f}()")
                } else {
                    format!("{f}({x})")
                }
            };
            let e = match f {
                // Bounded before `exp`, positive inside `ln` and `sqrt`.
                "exp" => call("exp", &call("tanh", &an)),
                "ln" if method => format!("({an} * {an} + 0.5).ln()"),
                "ln" => format!("ln({an} * {an} + 0.5)"),
                "sqrt" if method => format!("({an} * {an} + 1.0).sqrt()"),
                "sqrt" => format!("sqrt({an} * {an} + 1.0)"),
                "powi2" => format!("powi({an}, 2)"),
                "powi3" => format!("{}.powi(3)", call("tanh", &an)),
                "neg" => format!("-{an}"),
                // Literal parameters; ln_1p of a non-negative value.
                "leaky_relu" if method => format!("{an}.leaky_relu(0.1)"),
                "leaky_relu" => format!("leaky_relu({an}, 0.1)"),
                "clamp" if method => format!("{an}.clamp(-0.5, 0.5)"),
                "clamp" => format!("clamp({an}, -0.5, 0.5)"),
                "ln_1p" if method => format!("({an} * {an}).ln_1p()"),
                "ln_1p" => format!("ln_1p({an} * {an})"),
                f => call(f, &an),
            };
            (e, ash)
        }
        4..=6 => {
            let b = operand(rng, vars, batch);
            let (bn, bsh) = (&vars[b].name, &vars[b].shape);
            let out = broadcast_shapes(&ash, bsh)?;
            let e = match rng.below(if ops { 6 } else { 5 }) {
                0 => format!("{an} + {bn}"),
                1 => format!("{an} - {bn}"),
                2 => format!("{an} * {bn}"),
                3 => format!("{an} / ({bn} * {bn} + 1.0)"),
                4 => format!("max({an}, {bn})"),
                _ => format!("min({an}, {bn})"),
            };
            vars[b].used = true;
            param |= vars[b].param;
            data |= vars[b].data;
            (e, out)
        }
        7..=9 => {
            let b = operand(rng, vars, batch);
            let bsh = vars[b].shape.clone();
            let bn = vars[b].name.clone();
            let (sa, sb) = (ash.dims(), bsh.dims());
            if sa.is_empty() || sb.is_empty() || sa.len() > 2 || sb.len() > 2 {
                return None;
            }
            // Transpose a 2-D left operand when that aligns it.
            let (left, sa): (String, Vec<usize>) =
                if sa[sa.len() - 1] != sb[0] && sa.len() == 2 && sa[0] == sb[0] {
                    (format!("{an}.t()"), vec![sa[1], sa[0]])
                } else {
                    (an.clone(), sa.to_vec())
                };
            if sa[sa.len() - 1] != sb[0] {
                return None;
            }
            let out = match (sa.len(), sb.len()) {
                (1, 1) => Shape::scalar(),
                (1, _) => Shape::new([sb[1]]),
                (_, 1) => Shape::new([sa[0]]),
                _ => Shape::new([sa[0], sb[1]]),
            };
            let e = match rng.below(3) {
                0 => format!("{left}.matmul({bn})"),
                1 => format!("matmul({left}, {bn})"),
                _ if sa.len() == 1 && sb.len() == 1 => format!("dot({left}, {bn})"),
                _ => format!("{left}.matmul({bn})"),
            };
            vars[b].used = true;
            param |= vars[b].param;
            data |= vars[b].data;
            (e, out)
        }
        10 => {
            if ash.is_scalar() {
                return None;
            }
            let f = if rng.chance(0.5) {
                "softmax"
            } else {
                "log_softmax"
            };
            (format!("{f}({an})"), ash)
        }
        11 => {
            let f = if rng.chance(0.5) { "sum" } else { "mean" };
            (format!("{f}({an})"), Shape::scalar())
        }
        12 => {
            let c = (rng.float(-2.0, 2.0) * 4.0).round() / 4.0;
            let c = if c == 0.0 { 0.5 } else { c };
            let e = if rng.chance(0.5) {
                format!("{an} * {c:?} + 1.0")
            } else {
                format!("{c:?} - {an}")
            };
            (e, ash)
        }
        // The axis vocabulary: a reduction along one axis.
        14..=17 => {
            if ash.is_scalar() {
                return None;
            }
            let f = *rng.pick(&["sum_axis", "mean_axis", "max_axis", "logsumexp_axis"]);
            let axis = rng.below(ash.rank());
            let out = Shape::new(
                ash.dims()
                    .iter()
                    .enumerate()
                    .filter(|&(k, _)| k != axis)
                    .map(|(_, &d)| d)
                    .collect::<Vec<_>>(),
            );
            let e = if rng.chance(0.5) {
                format!("{an}.{f}({axis})")
            } else {
                format!("{f}({an}, {axis})")
            };
            (e, out)
        }
        // `layer_norm` with gamma and beta among the values of the row's shape.
        18..=19 => {
            let n = *ash.dims().last()?;
            let rows: Vec<usize> = (0..vars.len())
                .filter(|&i| vars[i].shape.dims() == [n])
                .collect();
            if rows.is_empty() {
                return None;
            }
            let (g, b) = (*rng.pick(&rows), *rng.pick(&rows));
            let e = format!("layer_norm({an}, {}, {})", vars[g].name, vars[b].name);
            for k in [g, b] {
                vars[k].used = true;
                param |= vars[k].param;
                data |= vars[k].data;
            }
            (e, ash)
        }
        // `concat` with a value equal but for the last axis.
        20..=21 => {
            let (&na, lead) = ash.dims().split_last()?;
            let fits: Vec<usize> = (0..vars.len())
                .filter(|&i| {
                    vars[i]
                        .shape
                        .dims()
                        .split_last()
                        .is_some_and(|(_, l)| l == lead)
                })
                .collect();
            let b = *rng.pick(&fits);
            let nb = *vars[b].shape.dims().last()?;
            let bn = vars[b].name.clone();
            let e = if rng.chance(0.5) {
                format!("{an}.concat({bn})")
            } else {
                format!("concat({an}, {bn})")
            };
            vars[b].used = true;
            param |= vars[b].param;
            data |= vars[b].data;
            let mut d = lead.to_vec();
            d.push(na + nb);
            (e, Shape::new(d))
        }
        _ => {
            if ash.rank() != 2 {
                return None;
            }
            (
                format!("{an}.t()"),
                Shape::new([ash.dims()[1], ash.dims()[0]]),
            )
        }
    };
    vars[a].used = true;
    Some((out.0, out.1, param, data))
}

/// The loss: a main term over the newest value plus every unconsumed value.
/// With `logits`, the main term is `cross_entropy(h, lab)` over a
/// parameter-dependent `h` of that shape (`None` when there is none).
fn loss_expr(rng: &mut Rng, vars: &mut [Var], logits: Option<&Shape>) -> Option<String> {
    if let Some(l) = logits {
        let fits = |data: bool| -> Vec<usize> {
            (0..vars.len())
                .filter(|&i| vars[i].param && vars[i].data >= data && vars[i].shape == *l)
                .collect()
        };
        // Logits that depend on the data too, when there are any.
        let fits = match fits(true) {
            f if f.is_empty() => fits(false),
            f => f,
        };
        let h = *fits.get(fits.len().checked_sub(1 + rng.below(2))?)?;
        let hn = vars[h].name.clone();
        if vars[h + 1..].iter().any(|v| v.name == hn) {
            return None;
        }
        vars[h].used = true;
        return Some(finish(vars, format!("cross_entropy({hn}, {LABEL_INPUT})")));
    }
    let is_input = |v: &Var| v.name == "x" || v.name == "y";
    // Prefer a parameter-dependent value with an input's shape, for a real loss.
    let matching: Vec<usize> = (0..vars.len())
        .filter(|&i| {
            let v = &vars[i];
            v.param && vars.iter().any(|u| is_input(u) && u.shape == v.shape)
        })
        .collect();
    let last = match matching.last() {
        Some(&i) if rng.chance(0.8) => i,
        _ => vars.len() - 1,
    };
    let (ln, lsh) = (vars[last].name.clone(), vars[last].shape.clone());
    // A shadowed name no longer denotes this value.
    if vars[last + 1..].iter().any(|v| v.name == ln) {
        return None;
    }
    let inputs: Vec<(String, Shape)> = vars
        .iter()
        .filter(|v| is_input(v))
        .map(|v| (v.name.clone(), v.shape.clone()))
        .collect();
    let same: Vec<&(String, Shape)> = inputs.iter().filter(|(_, s)| *s == lsh).collect();
    let main = match (rng.below(5), same.first()) {
        (0, Some((t, _))) => format!("mse({ln}, {t})"),
        (1, Some((t, s))) if (1..=2).contains(&s.rank()) => format!("cross_entropy({ln}, {t})"),
        (2, Some((t, _))) => format!("binary_cross_entropy_with_logits({ln}, {t})"),
        (3, _) => format!("mean({ln})"),
        _ => format!("sum({ln})"),
    };
    vars[last].used = true;
    Some(finish(vars, main))
}

/// `main` plus the sum of every value nothing consumed yet.
fn finish(vars: &mut [Var], main: String) -> String {
    let mut terms = vec![main];
    for v in vars.iter_mut() {
        if !v.used {
            terms.push(format!("sum({})", v.name));
            v.used = true;
        }
    }
    terms.join(" + ")
}

/// Draws network number `index` for `seed`: re-draws until the frontend
/// accepts the source (at most 1000 tries).
pub fn network(seed: u64, index: usize) -> Result<Generated, String> {
    generated(
        seed,
        index,
        format!("net_{index:03}"),
        false,
        false,
        Vocab::Base,
    )
}

/// Draws batch-generic network number `index` for `seed` (named `gen_NNN`,
/// declared `<const B: usize>`), like [`network`].
pub fn network_batch(seed: u64, index: usize) -> Result<Generated, String> {
    generated(
        seed,
        index,
        format!("gen_{index:03}"),
        true,
        false,
        Vocab::Base,
    )
}

/// Draws literal class-index network number `index` for `seed` (named
/// `cls_NNN`): its loss is `cross_entropy` against the class-index input
/// [`LABEL_INPUT`].
pub fn network_class(seed: u64, index: usize) -> Result<Generated, String> {
    generated(
        seed,
        index,
        format!("cls_{index:03}"),
        false,
        true,
        Vocab::Base,
    )
}

/// Draws batch-generic class-index network number `index` for `seed` (named
/// `cls_NNN`, declared `<const B: usize>`, labels `[B]`).
pub fn network_class_batch(seed: u64, index: usize) -> Result<Generated, String> {
    generated(
        seed,
        index,
        format!("cls_{index:03}"),
        true,
        true,
        Vocab::Base,
    )
}

/// Draws network number `index` of the ops corpus for `seed` (named
/// `ops_NNN`): like [`network`], with the vocabulary of the issue #13
/// elementwise ops (`abs`, `leaky_relu`, `elu`, `gelu`, `gelu_tanh`, `silu`,
/// `clamp`, `hardtanh`, `square`, `ln_1p`, `min`).
pub fn network_ops(seed: u64, index: usize) -> Result<Generated, String> {
    generated(
        seed,
        index,
        format!("ops_{index:03}"),
        false,
        false,
        Vocab::Ops,
    )
}

/// Draws network number `index` of the axis corpus for `seed` (named
/// `axs_NNN`): like [`network_ops`], with `sum_axis`, `mean_axis`,
/// `max_axis`, `logsumexp_axis`, `layer_norm` and `concat` too.
pub fn network_axis(seed: u64, index: usize) -> Result<Generated, String> {
    generated(
        seed,
        index,
        format!("axs_{index:03}"),
        false,
        false,
        Vocab::Axis,
    )
}

/// The literal-batch twin of a batch-generic network: the same source with
/// `B` = [`TWIN_BATCH`], named `NAME_b3`. `B` only ever stands as an array
/// length (`; B]`), so a textual substitution is exact.
pub fn twin(g: &Generated) -> Result<Generated, String> {
    let name = format!("{}_b{TWIN_BATCH}", g.name);
    let source = g
        .source
        .replacen(
            &format!("fn {}<const B: usize>(", g.name),
            &format!("fn {name}("),
            1,
        )
        .replace("; B]", &format!("; {TWIN_BATCH}]"));
    accepts(&source).map_err(|e| format!("{name}: {e}"))?;
    Ok(Generated { name, source })
}

/// Whether the frontend accepts `source` (a `#[network]` line, then the function).
pub(crate) fn accepts(source: &str) -> Result<(), String> {
    let tokens: proc_macro2::TokenStream = source
        .parse()
        .map_err(|e| format!("lex error {e} in\n{source}"))?;
    // Strip the `#[network]` line: the frontend sees the function alone.
    let item: proc_macro2::TokenStream = tokens.into_iter().skip(2).collect();
    gradc_frontend::parse_network(proc_macro2::TokenStream::new(), item)
        .map(|_| ())
        .map_err(|e| format!("{e} in\n{source}"))
}

fn generated(
    seed: u64,
    index: usize,
    name: String,
    batch: bool,
    class: bool,
    vocab: Vocab,
) -> Result<Generated, String> {
    let mut rng = Rng::new(seed ^ (index as u64).wrapping_mul(0xA24B_AED4_963E_E407));
    let mut last_err = String::from("no usable draw");
    for _ in 0..1000 {
        let Some(source) = draw(&mut rng, &name, batch, class, vocab) else {
            continue;
        };
        match accepts(&source) {
            Ok(()) => return Ok(Generated { name, source }),
            Err(e) => last_err = e,
        }
    }
    Err(format!("{name}: {last_err}"))
}

/// `out` (the file's header) followed by `count` networks from `make`, each with its
/// `#[test]` calling `check_network!`.
fn push_checked(
    mut out: String,
    count: usize,
    make: impl Fn(usize) -> Result<Generated, String>,
) -> Result<String, String> {
    for i in 0..count {
        let g = make(i)?;
        out.push('\n');
        out.push_str(&g.source);
        out.push_str(&format!(
            "\n#[test]\nfn check_{0}() {{\n    gradc_corpus::check_network!({0});\n}}\n",
            g.name
        ));
    }
    Ok(out)
}

/// The whole test file for `count` networks from `seed`: the networks, each
/// followed by its `#[test]`.
pub fn corpus_source(seed: u64, count: usize) -> Result<String, String> {
    let out = format!(
        "//! GENERATED by `cargo run -p gradc-corpus --bin regenerate-corpus` from seed\n\
         //! {seed:#x} ({count} networks). Do not edit: change the generator and regenerate.\n\
         //! Each test checks one network compiled vs interpreted vs central finite\n\
         //! differences, and the optimized vs the unoptimized joint graph.\n\n\
         use gradc::network;\n"
    );
    push_checked(out, count, |i| network(seed, i))
}

/// The whole ops-corpus test file for `count` networks from `seed`
/// ([`network_ops`]), each followed by its `#[test]`.
pub fn corpus_ops_source(seed: u64, count: usize) -> Result<String, String> {
    let out = format!(
        "//! GENERATED by `cargo run -p gradc-corpus --bin regenerate-corpus` from seed\n\
         //! {seed:#x} ({count} networks drawing the issue #13 elementwise ops). Do not edit:\n\
         //! change the generator and regenerate. Each test checks one network compiled vs\n\
         //! interpreted vs central finite differences, and the optimized vs the unoptimized\n\
         //! joint graph.\n\n\
         use gradc::network;\n"
    );
    push_checked(out, count, |i| network_ops(seed, i))
}

/// The whole axis-corpus test file for `count` networks from `seed`
/// ([`network_axis`]), each followed by its `#[test]`.
pub fn corpus_axis_source(seed: u64, count: usize) -> Result<String, String> {
    let out = format!(
        "//! GENERATED by `cargo run -p gradc-corpus --bin regenerate-corpus` from seed\n\
         //! {seed:#x} ({count} networks drawing the axis reductions, layer_norm and concat).\n\
         //! Do not edit: change the generator and regenerate. Each test checks one network\n\
         //! compiled vs interpreted vs central finite differences, and the optimized vs the\n\
         //! unoptimized joint graph.\n\n\
         use gradc::network;\n"
    );
    push_checked(out, count, |i| network_axis(seed, i))
}

/// The whole batch-generic test file for `count` networks from `seed`: each
/// network, its literal-batch twin, and one `#[test]` checking both.
pub fn corpus_batch_source(seed: u64, count: usize) -> Result<String, String> {
    let mut out = format!(
        "//! GENERATED by `cargo run -p gradc-corpus --bin regenerate-corpus` from seed\n\
         //! {seed:#x} ({count} batch-generic networks, each with its twin at B = {TWIN_BATCH}).\n\
         //! Do not edit: change the generator and regenerate. Each test checks one\n\
         //! `<const B: usize>` network at several batch sizes compiled vs interpreted\n\
         //! vs central finite differences, optimizer on vs off, and against its twin.\n\n\
         use gradc::network;\n"
    );
    for i in 0..count {
        let g = network_batch(seed, i)?;
        let t = twin(&g)?;
        out.push('\n');
        out.push_str(&g.source);
        out.push('\n');
        out.push_str(&t.source);
        out.push_str(&format!(
            "\n#[test]\nfn check_{0}() {{\n    gradc_corpus::check_network_batch!({0}, {1});\n}}\n",
            g.name, t.name
        ));
    }
    Ok(out)
}

/// The whole class-index test file for `count` networks from `seed`: even
/// indices batch-generic (with their twin, one [`check_network_batch!`]
/// test), odd ones literal (one [`check_network!`] test).
///
/// [`check_network_batch!`]: crate::check_network_batch
/// [`check_network!`]: crate::check_network
pub fn corpus_class_source(seed: u64, count: usize) -> Result<String, String> {
    let mut out = format!(
        "//! GENERATED by `cargo run -p gradc-corpus --bin regenerate-corpus` from seed\n\
         //! {seed:#x} ({count} class-index networks: even ones batch-generic with their\n\
         //! twin at B = {TWIN_BATCH}, odd ones literal). Do not edit: change the generator\n\
         //! and regenerate. Each loss is `cross_entropy(logits, {LABEL_INPUT})` with class-index\n\
         //! labels; the check fills `{LABEL_INPUT}` with class indices, some out of range.\n\n\
         use gradc::network;\n"
    );
    for i in 0..count {
        out.push('\n');
        if i % 2 == 0 {
            let g = network_class_batch(seed, i)?;
            let t = twin(&g)?;
            out.push_str(&g.source);
            out.push('\n');
            out.push_str(&t.source);
            out.push_str(&format!(
                "\n#[test]\nfn check_{0}() {{\n    gradc_corpus::check_network_batch!({0}, {1});\n}}\n",
                g.name, t.name
            ));
        } else {
            let g = network_class(seed, i)?;
            out.push_str(&g.source);
            out.push_str(&format!(
                "\n#[test]\nfn check_{0}() {{\n    gradc_corpus::check_network!({0});\n}}\n",
                g.name
            ));
        }
    }
    Ok(out)
}
