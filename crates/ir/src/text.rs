//! The textual form of a graph, one s-expression per node:
//!
//! ```text
//! (graph f32
//!   (let %0 x [4 2] (input 0))
//!   (let %1 w [2] (param 0))
//!   (let %2 _ [2 1] (reshape [2 1] %1))
//!   (let %3 yhat [4 1] (matmul %0 %2))
//!   (root out %3))
//! ```
//!
//! `_` marks an unnamed node. Shape-carrying ops put the shape first. The form
//! round-trips: `text.parse::<Graph>()?.to_string() == text`.

use crate::{Const, DType, Graph, NodeId, Op, Shape, UnaryOp};
use std::fmt;
use std::str::FromStr;

impl fmt::Display for Graph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "(graph {}", self.dtype().name())?;
        for id in self.node_ids() {
            let n = self.node(id);
            write!(
                f,
                "  (let {id} {} {} ({}",
                n.name.as_deref().unwrap_or("_"),
                n.shape,
                n.op.name()
            )?;
            match &n.op {
                Op::Input(i) | Op::Param(i) => write!(f, " {i}")?,
                Op::Const(c) => write!(f, " {c:?}")?,
                Op::Count(n) => write!(f, " {}", crate::Extent::of(*n))?,
                Op::Unary(UnaryOp::Powi(k)) => write!(f, " {k}")?,
                Op::Unary(UnaryOp::LeakyRelu(s)) => write!(f, " {s:?}")?,
                Op::Unary(UnaryOp::Clamp(lo, hi)) => write!(f, " {lo:?} {hi:?}")?,
                Op::OneHot(c) => write!(f, " {c}")?,
                Op::Reshape(s) | Op::BroadcastTo(s) | Op::SumTo(s) => write!(f, " {s}")?,
                Op::Index(i) => write!(f, " {i}")?,
                Op::Stack { len, at } => write!(f, " {len} {}", Shape(at.clone()))?,
                Op::SliceLast { start, len } => write!(f, " {start} {len}")?,
                // The name says it all.
                Op::Unary(_)
                | Op::Binary(_)
                | Op::MatMul { .. }
                | Op::Transpose
                | Op::Sum
                | Op::Row(_)
                | Op::Concat => {}
            }
            for a in &n.args {
                write!(f, " {a}")?;
            }
            writeln!(f, "))")?;
        }
        for (i, r) in self.roots().iter().enumerate() {
            let close = if i + 1 == self.roots().len() { ")" } else { "" };
            writeln!(f, "  (root {} {}){close}", r.name, r.node)?;
        }
        if self.roots().is_empty() {
            writeln!(f, ")")?;
        }
        Ok(())
    }
}

/// Why a text could not be read as a graph.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// What is wrong, and where.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "graph text: {}", self.message)
    }
}

impl std::error::Error for ParseError {}

fn err<T>(m: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError { message: m.into() })
}

#[derive(Debug)]
enum Sexp {
    Atom(String),
    List(Vec<Sexp>),
    Shape(Vec<usize>),
}

fn tokenize(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for ch in s.chars() {
        match ch {
            '(' | ')' | '[' | ']' => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                out.push(ch.to_string());
            }
            c if c.is_whitespace() => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn parse_sexp(toks: &[String], pos: &mut usize) -> Result<Sexp, ParseError> {
    let Some(t) = toks.get(*pos) else {
        return err("unexpected end of input");
    };
    *pos += 1;
    match t.as_str() {
        "(" => {
            let mut items = Vec::new();
            loop {
                match toks.get(*pos).map(String::as_str) {
                    None => return err("unclosed `(`"),
                    Some(")") => {
                        *pos += 1;
                        return Ok(Sexp::List(items));
                    }
                    _ => items.push(parse_sexp(toks, pos)?),
                }
            }
        }
        "[" => {
            let mut dims = Vec::new();
            loop {
                match toks.get(*pos).map(String::as_str) {
                    None => return err("unclosed `[`"),
                    Some("]") => {
                        *pos += 1;
                        return Ok(Sexp::Shape(dims));
                    }
                    Some(d) => {
                        dims.push(
                            crate::parse_extent(d)
                                .map_or_else(|| err(format!("bad dimension `{d}`")), Ok)?,
                        );
                        *pos += 1;
                    }
                }
            }
        }
        ")" | "]" => err(format!("unexpected `{t}`")),
        a => Ok(Sexp::Atom(a.to_string())),
    }
}

fn atom(s: &Sexp) -> Result<&str, ParseError> {
    match s {
        Sexp::Atom(a) => Ok(a),
        other => err(format!("expected an atom, found {other:?}")),
    }
}

fn node_ref(s: &Sexp) -> Result<NodeId, ParseError> {
    let a = atom(s)?;
    match a.strip_prefix('%').and_then(|n| n.parse::<usize>().ok()) {
        Some(i) => Ok(NodeId::from_index(i)),
        None => err(format!("expected a node reference like %3, found `{a}`")),
    }
}

fn shape(s: &Sexp) -> Result<Shape, ParseError> {
    match s {
        Sexp::Shape(d) => Ok(Shape(d.clone())),
        other => err(format!("expected a shape like [4 2], found {other:?}")),
    }
}

fn number<T: FromStr>(s: &Sexp) -> Result<T, ParseError> {
    let a = atom(s)?;
    a.parse().or_else(|_| err(format!("bad number `{a}`")))
}

impl FromStr for Graph {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Graph, ParseError> {
        let toks = tokenize(s);
        let mut pos = 0;
        let top = parse_sexp(&toks, &mut pos)?;
        if pos != toks.len() {
            return err("trailing text after the graph");
        }
        let Sexp::List(items) = top else {
            return err("expected (graph ...)");
        };
        if items.len() < 2 || atom(&items[0])? != "graph" {
            return err("expected (graph DTYPE ...)");
        }
        let dtype = match atom(&items[1])? {
            "f32" => DType::F32,
            "f64" => DType::F64,
            d => return err(format!("unknown element type `{d}`")),
        };
        let mut g = Graph::new(dtype);
        for item in &items[2..] {
            let Sexp::List(parts) = item else {
                return err("expected (let ...) or (root ...)");
            };
            match parts.first().map(atom).transpose()? {
                Some("let") if parts.len() == 5 => {
                    let id = node_ref(&parts[1])?;
                    if id.index() != g.len() {
                        return err(format!("node {id} out of order (expected %{})", g.len()));
                    }
                    let name = match atom(&parts[2])? {
                        "_" => None,
                        n => Some(n.to_string()),
                    };
                    let node_shape = shape(&parts[3])?;
                    let Sexp::List(opx) = &parts[4] else {
                        return err("expected (OP ARGS...)");
                    };
                    let Some(head) = opx.first() else {
                        return err("empty op");
                    };
                    let head = atom(head)?;
                    let rest = &opx[1..];
                    let (op, arg_items): (Op, &[Sexp]) = match head {
                        "input" | "param" => {
                            let i: usize = number(rest.first().ok_or_else(|| ParseError {
                                message: "missing index".into(),
                            })?)?;
                            let nm = name.clone().unwrap_or_default();
                            let leaf = if head == "input" {
                                if i != g.inputs().len() {
                                    return err("inputs out of order");
                                }
                                g.add_input(&nm, node_shape.clone())
                            } else {
                                if i != g.params().len() {
                                    return err("params out of order");
                                }
                                g.add_param(&nm, node_shape.clone())
                            };
                            if name.is_none() {
                                return err(format!("argument {leaf} needs a name"));
                            }
                            continue;
                        }
                        "const" => match rest {
                            [v] => (Op::Const(Const::new(number(v)?)), &[][..]),
                            _ => return err("const takes one number"),
                        },
                        "count" => match rest {
                            [n] => match crate::parse_extent(atom(n)?) {
                                Some(n) => (Op::Count(n), &[][..]),
                                None => return err("count takes an extent like 4 or 4B"),
                            },
                            _ => return err("count takes one extent"),
                        },
                        "powi" => match rest {
                            [k, a @ ..] => (Op::Unary(UnaryOp::Powi(number(k)?)), a),
                            _ => return err("powi takes an exponent"),
                        },
                        "index" => match rest {
                            [i, a @ ..] => (Op::Index(number(i)?), a),
                            _ => return err("index takes a slice index"),
                        },
                        "stack" => match rest {
                            [len, at, a @ ..] => (
                                Op::Stack {
                                    len: number(len)?,
                                    at: shape(at)?.0,
                                },
                                a,
                            ),
                            _ => return err("stack takes a length and slice indices `[0 2]`"),
                        },
                        "slice_last" => match rest {
                            [start, len, a @ ..] => (
                                Op::SliceLast {
                                    start: number(start)?,
                                    len: number(len)?,
                                },
                                a,
                            ),
                            _ => return err("slice_last takes a start and a length"),
                        },
                        "leaky_relu" => match rest {
                            [s, a @ ..] => {
                                let s = Const::new(number(s)?);
                                (Op::Unary(UnaryOp::LeakyRelu(s)), a)
                            }
                            _ => return err("leaky_relu takes a slope"),
                        },
                        "clamp" => match rest {
                            [lo, hi, a @ ..] => {
                                let (lo, hi) = (Const::new(number(lo)?), Const::new(number(hi)?));
                                (Op::Unary(UnaryOp::Clamp(lo, hi)), a)
                            }
                            _ => return err("clamp takes two bounds"),
                        },
                        "one_hot" => match rest {
                            [c, a @ ..] => (Op::OneHot(number(c)?), a),
                            _ => return err("one_hot takes a class count"),
                        },
                        "reshape" | "broadcast_to" | "sum_to" => match rest {
                            [s, a @ ..] => {
                                let s = shape(s)?;
                                let op = match head {
                                    "reshape" => Op::Reshape(s),
                                    "broadcast_to" => Op::BroadcastTo(s),
                                    _ => Op::SumTo(s),
                                };
                                (op, a)
                            }
                            _ => return err(format!("{head} takes a shape")),
                        },
                        other => match Op::from_plain_name(other) {
                            Some(op) => (op, rest),
                            None => return err(format!("unknown op `{other}`")),
                        },
                    };
                    let args = arg_items
                        .iter()
                        .map(node_ref)
                        .collect::<Result<Vec<_>, _>>()?;
                    let nid = g.add(op, &args).map_err(|e| ParseError {
                        message: format!("node {id}: {e}"),
                    })?;
                    if *g.shape(nid) != node_shape {
                        return err(format!(
                            "node {id}: declared shape {node_shape} but the op gives {}",
                            g.shape(nid)
                        ));
                    }
                    if let Some(n) = name {
                        g.set_name(nid, n);
                    }
                }
                Some("root") if parts.len() == 3 => {
                    let name = atom(&parts[1])?.to_string();
                    let node = node_ref(&parts[2])?;
                    if node.index() >= g.len() {
                        return err(format!("root {name} names missing node {node}"));
                    }
                    g.add_root(name, node);
                }
                _ => {
                    return err(format!(
                        "expected (let %N NAME SHAPE (OP ...)) or (root NAME %N), found {item:?}"
                    ))
                }
            }
        }
        // Leaves are not shape-checked as they are read (e.g. two `B` axes).
        crate::verify(&g).map_err(|e| ParseError {
            message: e.to_string(),
        })?;
        Ok(g)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BinaryOp;

    #[test]
    fn batch_generic_text_round_trips_and_instantiates() {
        let text = "(graph f32 (let %0 x [B 3] (input 0)) (let %1 w [3] (param 0)) \
            (let %2 _ [B 3] (mul %0 %1)) (let %3 _ [] (sum %2)) (let %4 _ [] (count 3B)) \
            (let %5 _ [] (div %3 %4)) (let %6 _ [3B] (reshape [3B] %2)) (root loss %5))";
        let g: Graph = text.parse().unwrap();
        assert!(g.is_batch_generic());
        let shown = g.to_string();
        assert!(shown.contains("(let %0 x [B 3] (input 0))"), "{shown}");
        assert!(shown.contains("(count 3B)"), "{shown}");
        assert_eq!(shown.parse::<Graph>().unwrap().to_string(), shown);
        let g5 = g.instantiate(5).unwrap();
        assert!(!g5.is_batch_generic());
        assert_eq!(g5.shape(NodeId::from_index(0)), &Shape::new([5, 3]));
        assert_eq!(g5.op(NodeId::from_index(4)), &Op::Count(15));
        assert_eq!(g5.op(NodeId::from_index(6)), &Op::Reshape(Shape::new([15])));
        crate::verify(&g5).unwrap();
        assert!(g.instantiate(0).is_err());
        // Two batch axes: rejected by the text form, the verifier and instantiate.
        let two = "(graph f64 (let %0 x [B B] (input 0)) (let %1 _ [] (sum %0)) (root out %1))";
        assert!(two.parse::<Graph>().is_err());
        let mut g2 = Graph::new(DType::F64);
        let x = g2.add_input("x", Shape::new([crate::BATCH, crate::BATCH]));
        let s = g2.add(Op::Sum, &[x]).unwrap();
        g2.add_root("out", s);
        assert!(crate::verify(&g2).is_err());
        assert!(g2.instantiate(1).is_err());
        assert!(g2.add(Op::Count(crate::BATCH * crate::BATCH), &[]).is_err());
        let y = g2.add_input("y", Shape::new([crate::BATCH, 1]));
        let z = g2.add_input("z", Shape::new([1, crate::BATCH]));
        assert!(g2.add(Op::Binary(BinaryOp::Add), &[y, z]).is_err());
        // The interpreter refuses the symbolic graph and runs the instance.
        assert!(crate::interp::Interpreter::<f64>::new(&g).is_err());
        let mut it = crate::interp::Interpreter::<f64>::new(&g5).unwrap();
        let x: Vec<f64> = (0..15).map(|i| i as f64).collect();
        let w = [1.0, 2.0, 3.0];
        let mut gw = [0.0; 3];
        let loss = it.forward_backward(&[&x], &[&w], &mut [&mut gw]).unwrap();
        // mean over 15 elements of x[b][j] * w[j]; d/dw_j = mean over b of x[b][j] / 3
        let want: f64 = (0..15).map(|i| i as f64 * w[i % 3]).sum::<f64>() / 15.0;
        assert!((loss - want).abs() < 1e-12, "{loss} vs {want}");
        for (j, g) in gw.iter().enumerate() {
            let d: f64 = (0..5).map(|b| (3 * b + j) as f64).sum::<f64>() / 15.0;
            assert!((g - d).abs() < 1e-12);
        }
    }

    #[test]
    fn text_round_trips() {
        let mut g = Graph::new(DType::F32);
        let x = g.add_input("x", Shape::new([4, 2]));
        let w = g.add_param("w", Shape::new([2]));
        let w2 = g.add(Op::Reshape(Shape::new([2, 1])), &[w]).unwrap();
        let y = g
            .add(
                Op::MatMul {
                    ta: false,
                    tb: false,
                },
                &[x, w2],
            )
            .unwrap();
        g.set_name(y, "yhat");
        let h = g.add(Op::Unary(UnaryOp::Powi(2)), &[y]).unwrap();
        let c = g.constant(0.25);
        let s = g.add(Op::Sum, &[h]).unwrap();
        let l = g.add(Op::Binary(BinaryOp::Mul), &[s, c]).unwrap();
        g.add_root("loss", l);
        let text = g.to_string();
        let back: Graph = text.parse().unwrap();
        assert_eq!(back.to_string(), text);
        assert!(
            text.contains("(let %3 yhat [4 1] (matmul %0 %2))"),
            "{text}"
        );
        assert!(text.contains("(const 0.25)"), "{text}");
    }

    #[test]
    fn literal_data_ops_round_trip() {
        let text = "(graph f64 (let %0 x [3] (input 0)) (let %1 _ [3] (leaky_relu 0.01 %0)) \
            (let %2 _ [3] (clamp -1.0 0.5 %1)) (let %3 _ [3] (gelu %2)) (let %4 _ [3] (min %3 %0)) \
            (let %5 _ [] (sum %4)) (root out %5))";
        let g: Graph = text.parse().unwrap();
        assert_eq!(
            g.op(NodeId::from_index(2)),
            &Op::Unary(UnaryOp::Clamp(Const::new(-1.0), Const::new(0.5)))
        );
        let shown = g.to_string();
        assert!(shown.contains("(leaky_relu 0.01 %0)"), "{shown}");
        assert_eq!(shown.parse::<Graph>().unwrap().to_string(), shown);
        // Missing data, bounds in the wrong order.
        for bad in [
            "(graph f64 (let %0 x [3] (input 0)) (let %1 _ [3] (leaky_relu %0)) (root out %1))",
            "(graph f64 (let %0 x [3] (input 0)) (let %1 _ [3] (clamp 1.0 %0)) (root out %1))",
            "(graph f64 (let %0 x [3] (input 0)) (let %1 _ [3] (clamp 1.0 -1.0 %0)) (root out %1))",
        ] {
            assert!(bad.parse::<Graph>().is_err(), "{bad}");
        }
    }

    #[test]
    fn one_hot_text_round_trips() {
        let text = "(graph f32 (let %0 labels [B] (input 0)) (let %1 _ [B 10] (one_hot 10 %0)) \
            (let %2 _ [] (sum %1)) (root out %2))";
        let g: Graph = text.parse().unwrap();
        assert_eq!(g.op(NodeId::from_index(1)), &Op::OneHot(10));
        let shown = g.to_string();
        assert!(
            shown.contains("(let %1 _ [B 10] (one_hot 10 %0))"),
            "{shown}"
        );
        assert_eq!(shown.parse::<Graph>().unwrap().to_string(), shown);
        let g3 = g.instantiate(3).unwrap();
        assert_eq!(g3.shape(NodeId::from_index(1)), &Shape::new([3, 10]));
        // A missing or non-literal class count, a wrong declared shape.
        for bad in [
            "(graph f32 (let %0 l [2] (input 0)) (let %1 _ [2 3] (one_hot %0)) (root out %1))",
            "(graph f32 (let %0 l [2] (input 0)) (let %1 _ [2 B] (one_hot B %0)) (root out %1))",
            "(graph f32 (let %0 l [2] (input 0)) (let %1 _ [2 4] (one_hot 3 %0)) (root out %1))",
        ] {
            assert!(bad.parse::<Graph>().is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_text_is_an_error() {
        assert!("(graph f16)".parse::<Graph>().is_err());
        assert!("(graph f32 (let %0 _ [] (frob)))".parse::<Graph>().is_err());
        assert!("(graph f32 (let %1 _ [] (const 1.0)))"
            .parse::<Graph>()
            .is_err());
        assert!("(graph f32".parse::<Graph>().is_err());
    }
}
