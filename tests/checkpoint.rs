//! Saving and loading parameters in safetensors format.
#![cfg(feature = "safetensors")]

use gradc::checkpoint::{self, CheckpointError};
use gradc::train::{init, Init};
use gradc::{network, Tensors};
use safetensors::tensor::TensorView;
use safetensors::Dtype;
use std::path::{Path, PathBuf};

#[network]
fn mlp(
    #[input] x: [[f32; 3]; 2],
    #[input] y: [[f32; 2]; 2],
    w1: [[f32; 4]; 3],
    b1: [f32; 4],
    w2: [[f32; 2]; 4],
    b2: [f32; 2],
) -> f32 {
    cross_entropy(relu(x.matmul(w1) + b1).matmul(w2) + b2, y)
}

#[network]
fn scalar64(#[input] x: [f64; 3], w: [f64; 3], b: f64) -> f64 {
    sum(x * w) + b
}

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("ckpt-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn random_mlp(seed: u64) -> Box<mlp::Params> {
    let mut p = mlp::Params::zeros_boxed();
    init(&mut *p, Init::HeNormal, seed);
    p.b1 = [0.5, -1.5, 1e-30, f32::MAX];
    p
}

/// Writes a safetensors file from `(name, dtype, shape, bytes)` with the crate directly.
fn write_raw(path: &Path, tensors: &[(&str, Dtype, Vec<usize>, Vec<u8>)]) {
    let views: Vec<(&str, TensorView<'_>)> = tensors
        .iter()
        .map(|(n, d, s, b)| (*n, TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    std::fs::write(path, safetensors::serialize(views, None).unwrap()).unwrap();
}

fn f32_bytes(n: usize) -> Vec<u8> {
    (0..n).flat_map(|i| (i as f32).to_le_bytes()).collect()
}

#[test]
fn round_trip_is_exact() {
    let dir = scratch("round-trip");
    let p = random_mlp(3);
    let path = dir.join("mlp.safetensors");
    checkpoint::save(&*p, &path).unwrap();
    let q: Box<mlp::Params> = checkpoint::load(&path).unwrap();
    assert_eq!(
        p.to_flat_vec()
            .iter()
            .map(|v| v.to_bits())
            .collect::<Vec<_>>(),
        q.to_flat_vec()
            .iter()
            .map(|v| v.to_bits())
            .collect::<Vec<_>>()
    );

    let s = scalar64::Params {
        w: [1.0 / 3.0, -2.5, 1e300],
        b: std::f64::consts::PI,
    };
    let spath = dir.join("s.safetensors");
    checkpoint::save(&s, &spath).unwrap();
    let t: Box<scalar64::Params> = checkpoint::load(&spath).unwrap();
    assert_eq!(*t, s);
    assert_eq!(
        files_in(&dir),
        ["mlp.safetensors", "s.safetensors"],
        "no temporary files left"
    );
}

#[test]
fn the_file_is_plain_safetensors_with_parameter_names_and_shapes() {
    let dir = scratch("format");
    let s = scalar64::Params {
        w: [1.0, 2.0, 3.0],
        b: -4.0,
    };
    let path = dir.join("s.safetensors");
    checkpoint::save(&s, &path).unwrap();
    // Decode by the format's definition: u64 LE header length, JSON header, data.
    let bytes = std::fs::read(&path).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&bytes[8..8 + n]).unwrap();
    assert!(
        header.contains(r#""w":{"dtype":"F64","shape":[3],"data_offsets":["#),
        "{header}"
    );
    assert!(
        header.contains(r#""b":{"dtype":"F64","shape":[],"data_offsets":["#),
        "{header}"
    );
    let data = &bytes[8 + n..];
    assert_eq!(data.len(), 4 * 8);
    let values: Vec<f64> = data
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let mut sorted = values.clone();
    sorted.sort_by(f64::total_cmp);
    assert_eq!(sorted, [-4.0, 1.0, 2.0, 3.0]);
}

#[test]
fn wrong_names_are_named_and_nothing_changes() {
    let dir = scratch("names");
    let original = random_mlp(4);

    // Missing `b2`.
    let path = dir.join("missing.safetensors");
    write_raw(
        &path,
        &[
            ("w1", Dtype::F32, vec![3, 4], f32_bytes(12)),
            ("b1", Dtype::F32, vec![4], f32_bytes(4)),
            ("w2", Dtype::F32, vec![4, 2], f32_bytes(8)),
        ],
    );
    let mut p = original.clone();
    let err = checkpoint::load_into(&mut *p, &path).unwrap_err();
    assert!(matches!(&err, CheckpointError::MissingTensor { name, .. } if name == "b2"));
    assert!(err.to_string().contains("no tensor named `b2`"), "{err}");
    assert_eq!(p, original);

    // A PyTorch-style name the network does not have.
    let path = dir.join("extra.safetensors");
    write_raw(
        &path,
        &[
            ("w1", Dtype::F32, vec![3, 4], f32_bytes(12)),
            ("b1", Dtype::F32, vec![4], f32_bytes(4)),
            ("w2", Dtype::F32, vec![4, 2], f32_bytes(8)),
            ("b2", Dtype::F32, vec![2], f32_bytes(2)),
            ("fc1.weight", Dtype::F32, vec![4, 3], f32_bytes(12)),
        ],
    );
    let err = checkpoint::load_into(&mut *p, &path).unwrap_err();
    assert!(
        err.to_string().contains("`fc1.weight` are not parameters"),
        "{err}"
    );
    assert_eq!(p, original);

    // Another network's file.
    let spath = dir.join("other.safetensors");
    checkpoint::save(&scalar64::Params::zeros(), &spath).unwrap();
    let err = checkpoint::load::<mlp::Params>(&spath).unwrap_err();
    assert!(
        err.to_string().contains("`b`, `w` are not parameters"),
        "{err}"
    );
}

#[test]
fn wrong_shapes_and_dtypes_are_named_and_nothing_changes() {
    let dir = scratch("shapes");
    let original = random_mlp(5);
    let mut p = original.clone();

    // w1 transposed, as PyTorch's nn.Linear would store it: [out, in].
    let path = dir.join("transposed.safetensors");
    write_raw(
        &path,
        &[
            ("w1", Dtype::F32, vec![4, 3], f32_bytes(12)),
            ("b1", Dtype::F32, vec![4], f32_bytes(4)),
            ("w2", Dtype::F32, vec![4, 2], f32_bytes(8)),
            ("b2", Dtype::F32, vec![2], f32_bytes(2)),
        ],
    );
    let err = checkpoint::load_into(&mut *p, &path).unwrap_err();
    assert_eq!(
        err,
        CheckpointError::WrongShape {
            path: path.clone(),
            name: "w1".into(),
            expected: vec![3, 4],
            found: vec![4, 3],
        }
    );
    assert!(err
        .to_string()
        .contains("tensor `w1` has shape [4, 3], the network expects [3, 4]"));
    assert_eq!(p, original);

    // f64 data for an f32 network.
    let path = dir.join("f64.safetensors");
    checkpoint::save(&scalar64::Params::zeros(), &path).unwrap();
    let err = checkpoint::load::<scalar64::Params>(&path).map(|_| ());
    assert!(err.is_ok());
    let path = dir.join("dtype.safetensors");
    write_raw(
        &path,
        &[
            ("w", Dtype::F32, vec![3], f32_bytes(3)),
            ("b", Dtype::F64, vec![], 1.0f64.to_le_bytes().to_vec()),
        ],
    );
    let err = checkpoint::load::<scalar64::Params>(&path).unwrap_err();
    assert!(
        err.to_string()
            .contains("tensor `w` has dtype F32, the network expects F64"),
        "{err}"
    );
}

#[test]
fn unreadable_files_and_failed_saves() {
    let dir = scratch("io");
    let mut p = random_mlp(6);
    let err = checkpoint::load_into(&mut *p, dir.join("absent.safetensors")).unwrap_err();
    assert!(matches!(err, CheckpointError::Io { .. }));
    assert!(err.to_string().contains("absent.safetensors"), "{err}");

    let junk = dir.join("junk.safetensors");
    std::fs::write(&junk, b"\x05\x00\x00\x00\x00\x00\x00\x00{oops").unwrap();
    let err = checkpoint::load_into(&mut *p, &junk).unwrap_err();
    assert!(matches!(err, CheckpointError::Format { .. }), "{err:?}");

    // Saving into a directory that does not exist fails and leaves nothing behind.
    let err = checkpoint::save(&*p, dir.join("no/such/dir/p.safetensors")).unwrap_err();
    assert!(matches!(err, CheckpointError::Io { .. }));
    // Overwriting keeps either the old or the new file, never a mix, and no temp file.
    let path = dir.join("p.safetensors");
    checkpoint::save(&*random_mlp(7), &path).unwrap();
    checkpoint::save(&*p, &path).unwrap();
    assert_eq!(*checkpoint::load::<mlp::Params>(&path).unwrap(), *p);
    assert_eq!(files_in(&dir), ["junk.safetensors", "p.safetensors"]);
}
