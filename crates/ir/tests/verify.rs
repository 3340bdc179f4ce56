//! The verifier: each contract violation is reported, all of them at once, each
//! with its node's id, op and name. That real networks pass every check is
//! tested on the driver path (`crates/driver/tests/verify.rs`).

use gradc_ir::{
    verify, verify_forward, verify_gradient_roots, verify_joint, verify_optimized, DType, Graph,
    NodeId, Op, Shape, VerifierErrors, BATCH,
};

fn sh(d: &[usize]) -> Shape {
    Shape::new(d.to_vec())
}

fn op(name: &str) -> Op {
    Op::from_plain_name(name).unwrap()
}

fn id(i: usize) -> NodeId {
    NodeId::from_index(i)
}

/// The nodes of `Σ relu(x·w) + b` (input x, parameters w and b), no roots;
/// `relu` is `act` and the sum is named `sum`, so tests can change them.
/// Ids: x 0, w 1, b 2, mul 3, relu `h` 4, sum 5, add 6.
fn forward_nodes(act: &str, sum: Option<&str>) -> Graph {
    let mut g = Graph::new(DType::F64);
    let x = g.add_input("x", sh(&[3]));
    let w = g.add_param("w", sh(&[3]));
    let b = g.add_param("b", sh(&[]));
    let m = g.add(op("mul"), &[x, w]).unwrap();
    let r = g.add(op(act), &[m]).unwrap();
    g.set_name(r, "h");
    let s = g.add(op("sum"), &[r]).unwrap();
    if let Some(n) = sum {
        g.set_name(s, n);
    }
    g.add(op("add"), &[s, b]).unwrap();
    g
}

fn forward() -> Graph {
    let mut g = forward_nodes("relu", None);
    g.add_root("out", id(6));
    g
}

/// `forward()` plus two gradient nodes, no roots (not the true gradients: the
/// verifier checks contracts, not calculus). Ids: `d_w` 7 ([3]), `d_b` 8 ([]).
fn joint_nodes(act: &str, sum: Option<&str>) -> Graph {
    let mut g = forward_nodes(act, sum);
    let d_w = g.add(op("mul"), &[id(0), id(6)]).unwrap();
    g.set_name(d_w, "d_w");
    let d_b = g.add(op("neg"), &[id(6)]).unwrap();
    g.set_name(d_b, "d_b");
    g
}

fn joint() -> Graph {
    let mut g = joint_nodes("relu", None);
    g.add_root("loss", id(6));
    g.add_root("d_w", id(7));
    g.add_root("d_b", id(8));
    g
}

/// Asserts that exactly the violations `want` were reported: a substring of
/// the line, at the node given (if any). Every line starts `verifier:` and
/// names its node as `node %id (op `name`)`.
fn assert_reports(e: &VerifierErrors, want: &[(Option<usize>, &str)]) {
    let text = e.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), e.0.len(), "one line per violation:\n{text}");
    for (line, v) in lines.iter().zip(&e.0) {
        assert!(line.starts_with("verifier: "), "{line}");
        if let Some(n) = v.node {
            assert!(
                line.contains(&format!("node {n} ({})", v.context)),
                "{line}"
            );
        }
    }
    assert_eq!(lines.len(), want.len(), "{text}");
    for (node, part) in want {
        let hit =
            e.0.iter()
                .zip(&lines)
                .any(|(v, line)| v.node.map(NodeId::index) == *node && line.contains(part));
        assert!(hit, "no violation {part:?} at {node:?} in:\n{text}");
    }
}

#[test]
fn well_formed_graphs_pass_every_check() {
    let (f, j) = (forward(), joint());
    verify(&f).unwrap();
    verify_forward(&f).unwrap();
    verify(&j).unwrap();
    verify_gradient_roots(&j).unwrap();
    verify_joint(&f, &j).unwrap();
    verify_optimized(&j, &j).unwrap();
    // A forward-only network's root may have any shape, `B` included.
    let mut g = Graph::new(DType::F32);
    let x = g.add_input("x", sh(&[BATCH, 4]));
    let t = g.add(op("tanh"), &[x]).unwrap();
    g.add_root("out", t);
    verify_forward(&g).unwrap();
}

#[test]
fn structural_violations_are_all_reported_with_their_node() {
    let mut g = Graph::new(DType::F64);
    let x = g.add_input("x", sh(&[3]));
    // 1: two batch dimensions.
    g.add_input("xb", sh(&[BATCH, BATCH]));
    // 2: an add with one argument.
    g.push(op("add"), vec![x], sh(&[3]), Some("a".into()));
    // 3: its own argument.
    g.push(op("relu"), vec![id(3)], sh(&[3]), None);
    // 4: a shape the op does not give.
    g.push(op("exp"), vec![x], sh(&[4]), Some("e".into()));
    // 5: an input leaf that is not in the input list.
    g.push(Op::Input(2), vec![], sh(&[2]), Some("y".into()));
    // 6: an op whose argument shapes do not fit.
    g.push(op("matmul"), vec![x, x], sh(&[1]), None);
    g.add_root("out", id(4));
    g.add_root("gone", id(99));
    let e = verify(&g).unwrap_err();
    assert_reports(
        &e,
        &[
            (Some(1), "at most one dimension may be the batch size B"),
            (Some(2), "has 1 args, op takes 2"),
            (Some(3), "argument %3 does not precede it"),
            (Some(4), "shape [4] but the op gives [3]"),
            (Some(5), "not registered as input 2"),
            (Some(6), "matmul"),
            (None, "root `gone`: names missing node %99"),
        ],
    );
    let text = e.to_string();
    assert!(
        text.contains("verifier: node %2 (add `a`): has 1 args"),
        "{text}"
    );
    assert!(
        text.contains("verifier: node %4 (exp `e`): shape [4]"),
        "{text}"
    );
    assert!(
        text.contains("verifier: node %3 (relu): argument"),
        "{text}"
    );
    // Each contract check includes the structural one.
    assert!(verify_forward(&g).unwrap_err().0.len() > e.0.len());
    assert!(verify_joint(&g, &g).unwrap_err().0.len() > e.0.len());
    assert!(verify_optimized(&forward(), &g).unwrap_err().0.len() > e.0.len());
}

#[test]
fn forward_contract_violations_are_all_reported() {
    // Parameters, so the root must be a scalar; it is not, and is not `out`.
    let mut g = Graph::new(DType::F64);
    let x = g.add_input("x", sh(&[3]));
    let w = g.add_param("x", sh(&[3]));
    let u = g.add_param("", sh(&[]));
    let m = g.add(op("mul"), &[x, w]).unwrap();
    let m = g.add(op("mul"), &[m, u]).unwrap();
    g.add_root("y", m);
    assert_reports(
        &verify_forward(&g).unwrap_err(),
        &[
            (Some(1), "a second input or parameter named `x`"),
            (Some(2), "an input or parameter needs a name"),
            (Some(4), "the root is `y`, expected `out`"),
            (Some(4), "must be a scalar, it has shape [3]"),
        ],
    );
    // Not exactly one root.
    let mut two = forward();
    two.add_root("out", id(6));
    assert_reports(
        &verify_forward(&two).unwrap_err(),
        &[(None, "exactly one root (`out`), this one has 2")],
    );
    assert_reports(
        &verify_forward(&forward_nodes("relu", None)).unwrap_err(),
        &[(None, "this one has 0")],
    );
}

#[test]
fn gradient_root_violations_are_all_reported() {
    // `loss` renamed, gradients swapped: wrong names and shapes for both.
    let mut g = joint_nodes("relu", None);
    g.add_root("out", id(6));
    g.add_root("d_b", id(8));
    g.add_root("d_w", id(7));
    let e = verify_gradient_roots(&g).unwrap_err();
    assert_reports(
        &e,
        &[
            (Some(6), "the first root is `out`, expected `loss`"),
            (Some(8), "root 1 is `d_b`, expected `d_w` (parameter 0)"),
            (
                Some(8),
                "root `d_b` has shape [], parameter `w` has shape [3]",
            ),
            (Some(7), "root 2 is `d_w`, expected `d_b` (parameter 1)"),
            (
                Some(7),
                "root `d_w` has shape [3], parameter `b` has shape []",
            ),
        ],
    );
    assert!(e.to_string().contains("node %8 (neg `d_b`)"), "{e}");
    // verify_joint reports the same.
    assert_eq!(verify_joint(&forward(), &g).unwrap_err(), e);
    // A missing gradient and a loss that is not a scalar.
    let mut g = joint_nodes("relu", None);
    g.add_root("loss", id(1));
    g.add_root("d_w", id(7));
    assert_reports(
        &verify_gradient_roots(&g).unwrap_err(),
        &[
            (
                None,
                "2 roots; a gradient graph has `loss` and one gradient for each of 2 parameters",
            ),
            (
                Some(1),
                "root `loss` is the loss and must be a scalar, it has shape [3]",
            ),
        ],
    );
}

#[test]
fn joint_contract_violations_are_all_reported() {
    // Forward node 4 (relu `h`) became a sigmoid, node 5 got a name, an extra
    // parameter has its gradient, and `loss` is not the forward root.
    let mut g = joint_nodes("sigmoid", Some("s"));
    let c = g.add_param("c", sh(&[]));
    let d_c = g.add(op("neg"), &[c]).unwrap();
    g.add_root("loss", id(5));
    g.add_root("d_w", id(7));
    g.add_root("d_b", id(8));
    g.add_root("d_c", d_c);
    assert_reports(
        &verify_joint(&forward(), &g).unwrap_err(),
        &[
            (
                Some(4),
                "is (sigmoid %3) [3] `h`, but the forward node at this id is (relu %3) [3] `h`",
            ),
            (
                Some(5),
                "is (sum %4) [] `s`, but the forward node at this id is (sum %4) []",
            ),
            (
                None,
                "parameters: the joint graph's parameters are [%1, %2, %9], the forward graph's [%1, %2]",
            ),
            (Some(5), "root `loss` is not the forward root, node %6"),
        ],
    );
}

#[test]
fn a_joint_graph_shorter_than_the_forward_one_is_reported() {
    let mut g = Graph::new(DType::F64);
    let x = g.add_input("x", sh(&[3]));
    let w = g.add_param("w", sh(&[3]));
    let b = g.add_param("b", sh(&[]));
    let m = g.add(op("mul"), &[x, w]).unwrap();
    let s = g.add(op("sum"), &[m]).unwrap();
    g.add_root("loss", s);
    g.add_root("d_w", w);
    g.add_root("d_b", b);
    assert_reports(
        &verify_joint(&forward(), &g).unwrap_err(),
        &[
            (None, "has 5 nodes, fewer than the forward graph's 7"),
            (
                Some(4),
                "is (sum %3) [], but the forward node at this id is (relu %3) [3] `h`",
            ),
            (Some(4), "root `loss` is not the forward root, node %6"),
        ],
    );
}

#[test]
fn optimized_contract_violations_are_all_reported() {
    // Leaves: `x` renamed and `w` reshaped; roots: `d_w` and `d_b` swapped and
    // one added.
    let mut o = Graph::new(DType::F64);
    let x = o.add_input("z", sh(&[3]));
    let w = o.add_param("w", sh(&[1, 3]));
    let b = o.add_param("b", sh(&[]));
    let l = o.add(op("sum"), &[x]).unwrap();
    let l = o.add(op("add"), &[l, b]).unwrap();
    o.add_root("loss", l);
    o.add_root("d_b", b);
    o.add_root("d_w", w);
    o.add_root("d_extra", b);
    let e = verify_optimized(&joint(), &o).unwrap_err();
    assert_reports(
        &e,
        &[
            (
                Some(0),
                "input 0 is `z` of shape [3], the joint graph's is `x` of shape [3]",
            ),
            (
                Some(1),
                "parameter 0 is `w` of shape [1 3], the joint graph's is `w` of shape [3]",
            ),
            (None, "roots: the optimized graph has 4, the joint graph 3"),
            (Some(2), "root 1 is `d_b`, the joint graph's is `d_w`"),
            (Some(2), "root `d_b` has shape [], in the joint graph [3]"),
            (Some(1), "root 2 is `d_w`, the joint graph's is `d_b`"),
            (Some(1), "root `d_w` has shape [1 3], in the joint graph []"),
        ],
    );
    assert!(e.to_string().contains("node %0 (input `z`)"), "{e}");
    // No leaves at all.
    let mut o = Graph::new(DType::F64);
    let c = o.constant(0.0);
    o.add_root("loss", c);
    assert_reports(
        &verify_optimized(&joint(), &o).unwrap_err(),
        &[
            (None, "inputs: the optimized graph has 0, the joint graph 1"),
            (
                None,
                "parameters: the optimized graph has 0, the joint graph 2",
            ),
            (None, "roots: the optimized graph has 1, the joint graph 3"),
        ],
    );
}
