//! The seeded generator of loop networks (`tests/networks_loops.rs`).
//!
//! Each network carries a hidden state `h: [R W]` through `for` loops over
//! stacked parameters (`ws: [[[f64; W]; W]; L]`, `bs: [[f64; W]; L]`), 1 to 6
//! iterations, in one of seven shapes: `ws[k]` over `0..L`; shifted indices
//! (`ws[k - 1]` over `1..=L`, or `ws[0]` before a loop over `ws[k + 1]`);
//! reversed (`ws[L - 1 - k]`); nested over `ws[i][j]`; triangular nests whose
//! inner bound is the outer variable (`i..L`, `0..=i`); a recurrence over a
//! stacked `#[input]` (`xs[t]`); two loops in a row. Drawn on top: `let mut`
//! and assignment (the state, an accumulator, `let mut z` inside a layer),
//! stacked biases, a slice tied to every iteration (`ws[0]` inside the loop),
//! indexing values (`h[0]`, and `vs[k]` of `let vs = tanh(ws)`), 0-2
//! closures (expression or block bodies, one calling the other, one
//! capturing a scalar parameter `s`), and 0-3 `#[output]` values.
//!
//! The plan of a network is rendered twice by the same code: with its loops,
//! and unrolled ([`network_loops`]'s twin), where every iteration is written
//! out, loop variables become literals and each stacked argument is split into
//! one argument per slice (`ws_0`, `ws_1`, ...; `ws_0_1` for two levels) in
//! the same row-major order, so both take the same flat data. Networks that
//! index a computed stacked value (`vs[k]`) have no twin.
//!
//! It draws from its own seed, so the other corpora are unchanged by it.

use crate::generate::{accepts, Generated, Rng};

/// The seed of the committed loop corpus (`tests/networks_loops.rs`).
pub const SEED_LOOPS: u64 = 0x6772_6164_635f_4c4f;
/// The number of networks in the loop corpus.
pub const COUNT_LOOPS: usize = 28;

/// An index or a loop bound: a literal, `var + plus` (`plus` may be negative),
/// or `c - var`.
#[derive(Clone, Copy)]
enum Ix {
    Lit(i64),
    Var(&'static str, i64),
    Rev(i64, &'static str),
}

/// How the loops run over the stacked weights.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    /// `for k in 0..L`, `ws[k]`.
    Simple,
    /// `for k in 1..=L`, `ws[k - 1]`; or `ws[0]` then `for k in 0..L - 1`, `ws[k + 1]`.
    Offset,
    /// `for k in 0..L`, `ws[L - 1 - k]`.
    Reverse,
    /// `for i in 0..L { for j in 0..M`, `ws[i][j]`.
    Nested,
    /// `for i in 0..L { for j in i..L` (or `0..=i`), `ws[j]`.
    Triangular,
    /// `for t in 0..T`, `xs[t]` of a stacked `#[input]`, shared weights.
    Sequence,
    /// `for k in 0..L` over `ws`, then `for k in 0..M` over `us`.
    Two,
}

/// The random choices of one network; [`Plan::render`] writes it out.
struct Plan {
    name: String,
    rows: usize,
    din: usize,
    width: usize,
    dout: usize,
    form: Form,
    /// Iterations of the (outer) loop.
    l: usize,
    /// Inner iterations (`Nested`), the second loop's (`Two`); `Offset`: 0 for
    /// `ws[k - 1]`, 1 for `ws[0]` then `ws[k + 1]`; `Triangular`: 0 for
    /// `i..L`, 1 for `0..=i`.
    m: usize,
    bias: bool,
    /// An accumulator: `Some(true)` a row `h[0]`, `Some(false)` a scalar.
    acc: Option<bool>,
    /// `ws[0]` inside the loop too.
    tied: bool,
    /// `let vs = tanh(ws);` and the loops index `vs`.
    vals: bool,
    step: usize,
    closures: usize,
    /// With two closures: `dense` calls `act` (else a `head` closure).
    act: bool,
    /// A scalar parameter `s` captured by the layer closure.
    scale: bool,
    /// The input layer calls the layer closure.
    in_closure: bool,
    in_act: usize,
    /// `logits`, `probs`, `last`, `score`, `gap` marked `#[output]`.
    outputs: [bool; 5],
    loss: usize,
}

/// An argument: name, whether an `#[input]`, stacked dims, slice dims.
struct Arg {
    name: &'static str,
    input: bool,
    stack: Vec<usize>,
    slice: Vec<usize>,
}

fn ty(dims: &[usize]) -> String {
    dims.iter()
        .rev()
        .fold("f64".to_string(), |t, d| format!("[{t}; {d}]"))
}

impl Plan {
    fn draw(rng: &mut Rng, name: String) -> Plan {
        let form = [
            Form::Simple,
            Form::Simple,
            Form::Offset,
            Form::Reverse,
            Form::Nested,
            Form::Triangular,
            Form::Sequence,
            Form::Two,
        ][rng.below(8)];
        let (l, m) = match form {
            Form::Simple | Form::Reverse | Form::Sequence => (1 + rng.below(6), 0),
            Form::Offset => {
                let m = rng.below(2);
                (1 + m + rng.below(6 - m), m)
            }
            Form::Nested => [(1, 2), (2, 1), (2, 2), (2, 3), (3, 2), (1, 5)][rng.below(6)],
            Form::Triangular => (2 + rng.below(2), rng.below(2)),
            Form::Two => (1 + rng.below(3), 1 + rng.below(3)),
        };
        let closures = [0, 1, 1, 2][rng.below(4)];
        let stacked_ws = form != Form::Sequence;
        let n_out = [0, 1, 1, 2, 3][rng.below(5)];
        let mut outputs = [false; 5];
        while outputs.iter().filter(|o| **o).count() < n_out {
            outputs[rng.below(5)] = true;
        }
        Plan {
            name,
            rows: 1 + rng.below(3),
            din: 1 + rng.below(3),
            width: 1 + rng.below(3),
            dout: 1 + rng.below(3),
            form,
            l,
            m,
            bias: rng.chance(0.6),
            acc: rng.chance(0.35).then(|| rng.chance(0.5)),
            tied: matches!(form, Form::Simple | Form::Reverse) && rng.chance(0.25),
            vals: stacked_ws && rng.chance(0.15),
            step: rng.below(6),
            closures,
            act: rng.chance(0.5),
            scale: closures > 0 && rng.chance(0.3),
            in_closure: closures > 0 && stacked_ws && rng.chance(0.5),
            in_act: rng.below(4),
            outputs,
            loss: rng.below(3),
        }
    }

    /// Whether an unrolled twin can be written (no stacked value is indexed).
    fn has_twin(&self) -> bool {
        !self.vals
    }

    fn args(&self) -> Vec<Arg> {
        let (r, d, w, o) = (self.rows, self.din, self.width, self.dout);
        let arg = |name, input, stack: &[usize], slice: &[usize]| Arg {
            name,
            input,
            stack: stack.to_vec(),
            slice: slice.to_vec(),
        };
        let mut v = vec![arg("x", true, &[], &[r, d]), arg("y", true, &[], &[r, o])];
        if self.form == Form::Sequence {
            v.push(arg("xs", true, &[self.l], &[r, d]));
        }
        v.push(arg("w_in", false, &[], &[d, w]));
        if self.in_closure && self.bias {
            v.push(arg("b_in", false, &[], &[w]));
        }
        match self.form {
            Form::Sequence => {
                v.push(arg("wx", false, &[], &[d, w]));
                v.push(arg("u", false, &[], &[w, w]));
            }
            Form::Nested => v.push(arg("ws", false, &[self.l, self.m], &[w, w])),
            _ => v.push(arg("ws", false, &[self.l], &[w, w])),
        }
        if self.bias {
            v.push(arg("bs", false, &[self.l], &[w]));
        }
        if self.form == Form::Two {
            v.push(arg("us", false, &[self.m], &[w, w]));
        }
        if self.scale {
            v.push(arg("s", false, &[], &[]));
        }
        v.push(arg("w_out", false, &[], &[w, o]));
        v
    }

    /// The source: with its loops, or `unrolled` (named `NAME_unrolled`).
    fn render(&self, unrolled: bool) -> String {
        let args = self.args();
        let mut r = Render {
            unrolled,
            split: args
                .iter()
                .filter(|a| !a.stack.is_empty())
                .map(|a| a.name)
                .collect(),
            env: Vec::new(),
            out: String::new(),
            depth: 0,
        };
        let name = if unrolled {
            format!("{}_unrolled", self.name)
        } else {
            self.name.clone()
        };
        r.out.push_str(&format!("#[network]\npub fn {name}(\n"));
        for a in &args {
            let attr = if a.input { "#[input] " } else { "" };
            if unrolled && !a.stack.is_empty() {
                for idx in multi_indices(&a.stack) {
                    let suffix: Vec<String> = idx.iter().map(ToString::to_string).collect();
                    r.out.push_str(&format!(
                        "    {attr}{}_{}: {},\n",
                        a.name,
                        suffix.join("_"),
                        ty(&a.slice)
                    ));
                }
            } else {
                let dims: Vec<usize> = a.stack.iter().chain(&a.slice).copied().collect();
                r.out
                    .push_str(&format!("    {attr}{}: {},\n", a.name, ty(&dims)));
            }
        }
        r.out.push_str(") -> f64 {\n");
        self.body(&mut r);
        r.out.push_str("}\n");
        r.out
    }

    /// The layer: `(statements, value)` of one step from `x` with weight `w`
    /// and bias `b`.
    fn step(&self, x: &str, w: &str, b: Option<&str>) -> (Vec<String>, String) {
        let mm = if self.scale {
            format!("{x}.matmul({w}) * s")
        } else {
            format!("{x}.matmul({w})")
        };
        let plus_b = b.map(|b| format!(" + {b}")).unwrap_or_default();
        let z = format!("{mm}{plus_b}");
        match self.step {
            0 => (vec![], format!("tanh({z})")),
            1 => (vec![], format!("sigmoid({z}) + 0.5 * {x}")),
            2 => (vec![format!("let z = {z};")], "z * sigmoid(z)".into()),
            3 => (
                vec![
                    format!("let mut z = {mm};"),
                    format!("z = tanh(z{plus_b});"),
                ],
                format!("z + {x} * 0.5"),
            ),
            4 => (vec![], format!("{x} + 0.5 * tanh({z})")),
            _ => (vec![], format!("softplus(0.5 * ({z})) - 0.5")),
        }
    }

    /// The closures, bound before everything else.
    fn closures(&self, r: &mut Render) {
        if self.closures == 0 {
            return;
        }
        if self.form == Form::Sequence {
            let s = if self.scale { " * s" } else { "" };
            let (params, b) = if self.bias {
                ("|h, xt, b|", " + b")
            } else {
                ("|h, xt|", "")
            };
            r.line(&format!(
                "let cell = {params} tanh(h.matmul(u){s} + xt.matmul(wx){b});"
            ));
        } else {
            let params = if self.bias { "|x, w, b|" } else { "|x, w|" };
            let b = self.bias.then_some("b");
            if self.closures == 2 && self.act {
                let act = [
                    "tanh(z) + 0.1 * z",
                    "z * sigmoid(z)",
                    "{ let e = tanh(z); e * e * 0.5 + e }",
                ][self.step % 3];
                r.line(&format!("let act = |z| {act};"));
                let mm = if self.scale {
                    "x.matmul(w) * s"
                } else {
                    "x.matmul(w)"
                };
                let plus_b = b.map(|b| format!(" + {b}")).unwrap_or_default();
                r.line(&format!("let dense = {params} act({mm}{plus_b});"));
            } else {
                let (stmts, value) = self.step("x", "w", b);
                if stmts.is_empty() {
                    r.line(&format!("let dense = {params} {value};"));
                } else {
                    r.line(&format!("let dense = {params} {{"));
                    r.depth += 1;
                    for s in &stmts {
                        r.line(s);
                    }
                    r.line(&value);
                    r.depth -= 1;
                    r.line("};");
                }
            }
        }
        if self.closures == 2 && !self.act {
            r.line("let head = |h, w| {");
            r.depth += 1;
            r.line("let z = h.matmul(w);");
            r.line("z - mean(z)");
            r.depth -= 1;
            r.line("};");
        }
    }

    /// One layer on `h` with the stacked weight `ws[ix..]` and bias `bs[bix]`.
    fn layer(&self, r: &mut Render, ws: &str, ix: &[Ix], bix: Ix) {
        let w = r.at(ws, ix);
        let b = self.bias.then(|| r.at("bs", &[bix]));
        let tied = if self.tied {
            format!(" + h.matmul({}) * 0.25", r.at(ws, &[Ix::Lit(0)]))
        } else {
            String::new()
        };
        if self.closures > 0 {
            let b = b.map(|b| format!(", {b}")).unwrap_or_default();
            r.line(&format!("h = dense(h, {w}{b}){tied};"));
        } else {
            let (stmts, value) = self.step("h", &w, b.as_deref());
            for s in &stmts {
                r.line(s);
            }
            r.line(&format!("h = {value}{tied};"));
        }
        match self.acc {
            Some(true) => r.line("acc = acc + h[0] * 0.5;"),
            Some(false) => r.line("acc = acc + mean(h) * 0.5;"),
            None => {}
        }
    }

    fn body(&self, r: &mut Render) {
        self.closures(r);
        let ws = if self.vals {
            r.line("let vs = tanh(ws) * 0.5 + ws;");
            "vs"
        } else {
            "ws"
        };
        let input = if self.in_closure {
            let b = if self.bias { ", b_in" } else { "" };
            format!("dense(x, w_in{b})")
        } else {
            let act = ["tanh", "sigmoid", "relu", ""][self.in_act];
            format!("{act}(x.matmul(w_in))")
        };
        r.line(&format!("let mut h = {input};"));
        match self.acc {
            Some(true) => r.line("let mut acc = h[0];"),
            Some(false) => r.line("let mut acc = mean(h);"),
            None => {}
        }
        let (l, m) = (self.l as i64, self.m as i64);
        match self.form {
            Form::Simple => r.each("k", Ix::Lit(0), Ix::Lit(l), false, &mut |r| {
                self.layer(r, ws, &[Ix::Var("k", 0)], Ix::Var("k", 0))
            }),
            Form::Offset if m == 0 => r.each("k", Ix::Lit(1), Ix::Lit(l), true, &mut |r| {
                self.layer(r, ws, &[Ix::Var("k", -1)], Ix::Var("k", -1))
            }),
            Form::Offset => {
                self.layer(r, ws, &[Ix::Lit(0)], Ix::Lit(0));
                r.each("k", Ix::Lit(0), Ix::Lit(l - 1), false, &mut |r| {
                    self.layer(r, ws, &[Ix::Var("k", 1)], Ix::Var("k", 1))
                })
            }
            Form::Reverse => r.each("k", Ix::Lit(0), Ix::Lit(l), false, &mut |r| {
                self.layer(r, ws, &[Ix::Rev(l - 1, "k")], Ix::Var("k", 0))
            }),
            Form::Nested => r.each("i", Ix::Lit(0), Ix::Lit(l), false, &mut |r| {
                r.each("j", Ix::Lit(0), Ix::Lit(m), false, &mut |r| {
                    self.layer(r, ws, &[Ix::Var("i", 0), Ix::Var("j", 0)], Ix::Var("i", 0))
                })
            }),
            Form::Triangular => r.each("i", Ix::Lit(0), Ix::Lit(l), false, &mut |r| {
                let (lo, hi, inclusive) = if m == 0 {
                    (Ix::Var("i", 0), Ix::Lit(l), false)
                } else {
                    (Ix::Lit(0), Ix::Var("i", 0), true)
                };
                r.each("j", lo, hi, inclusive, &mut |r| {
                    self.layer(r, ws, &[Ix::Var("j", 0)], Ix::Var("i", 0))
                })
            }),
            Form::Sequence => r.each("t", Ix::Lit(0), Ix::Lit(l), false, &mut |r| {
                let xt = r.at("xs", &[Ix::Var("t", 0)]);
                let b = self.bias.then(|| r.at("bs", &[Ix::Var("t", 0)]));
                if self.closures > 0 {
                    let b = b.map(|b| format!(", {b}")).unwrap_or_default();
                    r.line(&format!("h = cell(h, {xt}{b});"));
                } else {
                    let s = if self.scale { " * s" } else { "" };
                    let b = b.map(|b| format!(" + {b}")).unwrap_or_default();
                    r.line(&format!("h = tanh(h.matmul(u){s} + {xt}.matmul(wx){b});"));
                }
                match self.acc {
                    Some(true) => r.line("acc = acc + h[0] * 0.5;"),
                    Some(false) => r.line("acc = acc + mean(h) * 0.5;"),
                    None => {}
                }
            }),
            Form::Two => {
                r.each("k", Ix::Lit(0), Ix::Lit(l), false, &mut |r| {
                    self.layer(r, ws, &[Ix::Var("k", 0)], Ix::Var("k", 0))
                });
                r.each("k", Ix::Lit(0), Ix::Lit(m), false, &mut |r| {
                    let u = r.at("us", &[Ix::Var("k", 0)]);
                    r.line(&format!("h = h + 0.5 * tanh(h.matmul({u}));"));
                });
            }
        }
        let mark = |i: usize| if self.outputs[i] { "#[output] " } else { "" };
        let logits = if self.closures == 2 && !self.act {
            "head(h, w_out)"
        } else {
            "h.matmul(w_out)"
        };
        r.line(&format!("{}let logits = {logits};", mark(0)));
        if self.outputs[1] {
            r.line("#[output] let probs = softmax(logits);");
        }
        if self.outputs[2] {
            r.line(&format!("#[output] let last = h[{}];", self.rows - 1));
        }
        if self.outputs[3] {
            r.line("#[output] let score = mean(logits);");
        }
        if self.outputs[4] {
            r.line("#[output] let gap = logits - y;");
        }
        let main = [
            "mse(logits, y)",
            "cross_entropy(logits, y)",
            "mse(logits, y) + mean(logits * logits) * 0.1",
        ][self.loss];
        let acc = match self.acc {
            Some(true) => " + sum(acc)",
            Some(false) => " + acc",
            None => "",
        };
        r.line(&format!("{main}{acc}"));
    }
}

/// Every index of an array of dims `stack`, row-major.
fn multi_indices(stack: &[usize]) -> Vec<Vec<usize>> {
    stack.iter().fold(vec![vec![]], |acc, &n| {
        acc.iter()
            .flat_map(|p| {
                (0..n).map(move |i| {
                    let mut q = p.clone();
                    q.push(i);
                    q
                })
            })
            .collect()
    })
}

/// Writes a plan's statements, with its loops or unrolled.
struct Render {
    unrolled: bool,
    /// The stacked arguments, split into slices when unrolled.
    split: Vec<&'static str>,
    /// The loop variables' values (unrolled).
    env: Vec<(&'static str, i64)>,
    out: String,
    depth: usize,
}

impl Render {
    fn line(&mut self, s: &str) {
        for _ in 0..=self.depth {
            self.out.push_str("    ");
        }
        self.out.push_str(s);
        self.out.push('\n');
    }

    fn value(&self, var: &str) -> i64 {
        self.env
            .iter()
            .rev()
            .find(|(v, _)| *v == var)
            .map_or(0, |(_, k)| *k)
    }

    fn eval(&self, i: Ix) -> i64 {
        match i {
            Ix::Lit(n) => n,
            Ix::Var(v, p) => self.value(v) + p,
            Ix::Rev(c, v) => c - self.value(v),
        }
    }

    /// An index or bound as written in the loop form.
    fn text(i: Ix) -> String {
        match i {
            Ix::Lit(n) => n.to_string(),
            Ix::Var(v, 0) => v.to_string(),
            Ix::Var(v, p) if p > 0 => format!("{v} + {p}"),
            Ix::Var(v, p) => format!("{v} - {}", -p),
            Ix::Rev(c, v) => format!("{c} - {v}"),
        }
    }

    /// `base[ix]..`: unrolled, a split argument's slice `base_i_j`, else literal indices.
    fn at(&self, base: &str, ix: &[Ix]) -> String {
        if !self.unrolled {
            let ix: Vec<String> = ix.iter().map(|&i| format!("[{}]", Self::text(i))).collect();
            return format!("{base}{}", ix.concat());
        }
        let vals: Vec<String> = ix.iter().map(|&i| self.eval(i).to_string()).collect();
        if self.split.contains(&base) {
            format!("{base}_{}", vals.join("_"))
        } else {
            format!("{base}[{}]", vals.join("]["))
        }
    }

    /// `for var in lo..hi { body }` (`..=` when `inclusive`), or its iterations.
    fn each(
        &mut self,
        var: &'static str,
        lo: Ix,
        hi: Ix,
        inclusive: bool,
        body: &mut dyn FnMut(&mut Render),
    ) {
        if !self.unrolled {
            let range = if inclusive { "..=" } else { ".." };
            self.line(&format!(
                "for {var} in {}{range}{} {{",
                Self::text(lo),
                Self::text(hi)
            ));
            self.depth += 1;
            body(self);
            self.depth -= 1;
            self.line("}");
            return;
        }
        let (lo, hi) = (self.eval(lo), self.eval(hi) + inclusive as i64);
        for k in lo..hi {
            self.env.push((var, k));
            body(self);
            self.env.pop();
        }
    }
}

/// Loop network number `index` for `seed` (named `loop_NNN`) and, when it has
/// one, its unrolled twin (`loop_NNN_unrolled`). Both must be accepted by the
/// frontend; re-draws until they are (at most 100 tries).
pub fn network_loops(seed: u64, index: usize) -> Result<(Generated, Option<Generated>), String> {
    let mut rng = Rng::new(seed ^ (index as u64).wrapping_mul(0xA24B_AED4_963E_E407));
    let name = format!("loop_{index:03}");
    let mut last_err = String::from("no usable draw");
    for _ in 0..100 {
        let plan = Plan::draw(&mut rng, name.clone());
        let source = plan.render(false);
        if let Err(e) = accepts(&source) {
            last_err = e;
            continue;
        }
        let twin = if plan.has_twin() {
            let source = plan.render(true);
            if let Err(e) = accepts(&source) {
                last_err = e;
                continue;
            }
            Some(Generated {
                name: format!("{name}_unrolled"),
                source,
            })
        } else {
            None
        };
        return Ok((
            Generated {
                name: name.clone(),
                source,
            },
            twin,
        ));
    }
    Err(format!("{name}: {last_err}"))
}

/// The whole loop test file for `count` networks from `seed`: each network,
/// its unrolled twin when it has one, and one `#[test]` checking them.
pub fn corpus_loops_source(seed: u64, count: usize) -> Result<String, String> {
    let mut out = format!(
        "//! GENERATED by `cargo run -p gradc-corpus --bin regenerate-corpus` from seed\n\
         //! {seed:#x} ({count} loop networks, most with an unrolled twin). Do not edit:\n\
         //! change the generator and regenerate. Each test checks one network with\n\
         //! `for` loops over stacked weights, closures and `#[output]` values compiled vs\n\
         //! interpreted vs central finite differences, optimizer on vs off, `predict` vs\n\
         //! `interpreted_predict`, and against its unrolled twin bit for bit.\n\n\
         // Unrolled twins take one argument per stacked slice.\n\
         #![allow(clippy::too_many_arguments)]\n\n\
         use gradc::network;\n"
    );
    for i in 0..count {
        let (g, twin) = network_loops(seed, i)?;
        out.push('\n');
        out.push_str(&g.source);
        let mut checks = format!("    gradc_corpus::check_network_outputs!({});\n", g.name);
        if let Some(t) = twin {
            out.push('\n');
            out.push_str(&t.source);
            checks.push_str(&format!(
                "    gradc_corpus::check_unrolled!({}, {});\n",
                g.name, t.name
            ));
        }
        out.push_str(&format!(
            "\n#[test]\nfn check_{}() {{\n{checks}}}\n",
            g.name
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_indices_are_row_major() {
        assert_eq!(
            multi_indices(&[2, 2]),
            vec![vec![0, 0], vec![0, 1], vec![1, 0], vec![1, 1]]
        );
        assert_eq!(multi_indices(&[]), vec![Vec::<usize>::new()]);
    }
}
