//! Saving and loading parameters in the [safetensors] format, so weights move to
//! and from PyTorch (`safetensors.torch.load_file` / `save_file`).
//!
//! One tensor per parameter: its name is the parameter's name, its shape the
//! parameter's shape (`[]` for a scalar), its dtype `F32` or `F64` after the
//! network's element type, its data row-major little-endian. gradc's weights are
//! used as `x.matmul(w)`, so a `[in, out]` matrix is the transpose of a PyTorch
//! `nn.Linear.weight` (`[out, in]`).
//!
//! Loading is strict: a missing tensor, an extra one, another shape or another
//! dtype is an error naming the tensor, and the parameters are left unchanged.
//! Saving writes a temporary file next to the target and renames it into place, so
//! a failed save never leaves a half-written file under the target's name.
//!
//! ```
//! use gradc::checkpoint::{self, CheckpointError};
//! use gradc::network;
//!
//! #[network]
//! fn dense(#[input] x: [[f32; 3]; 2], #[input] y: [[f32; 2]; 2], w: [[f32; 2]; 3], b: [f32; 2]) -> f32 {
//!     mse(x.matmul(w) + b, y)
//! }
//!
//! let path = std::env::temp_dir().join(format!("dense-{}.safetensors", std::process::id()));
//! let trained = dense::Params { w: [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], b: [0.5, -0.5] };
//! checkpoint::save(&trained, &path)?;
//!
//! // A new value from the file, or an existing one overwritten in place.
//! let loaded: Box<dense::Params> = checkpoint::load(&path)?;
//! assert_eq!(*loaded, trained);
//! let mut params = dense::Params::zeros();
//! checkpoint::load_into(&mut params, &path)?;
//! assert_eq!(params, trained);
//!
//! // Another network's parameters do not fit: the error names the tensor.
//! #[network]
//! fn wider(#[input] x: [[f32; 3]; 2], #[input] y: [[f32; 4]; 2], w: [[f32; 4]; 3], b: [f32; 4]) -> f32 {
//!     mse(x.matmul(w) + b, y)
//! }
//! let err = checkpoint::load::<wider::Params>(&path).unwrap_err();
//! assert!(matches!(err, CheckpointError::WrongShape { ref name, .. } if name == "w"));
//! # std::fs::remove_file(&path).unwrap();
//! # Ok::<(), CheckpointError>(())
//! ```
//!
//! [safetensors]: https://github.com/huggingface/safetensors

use crate::net::{Element, Tensors};
use gradc_ir::DType;
use safetensors::{tensor::TensorView, Dtype, SafeTensors};
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Why a checkpoint could not be saved or loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckpointError {
    /// The file could not be read, written or renamed.
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        message: String,
    },
    /// The bytes are not a valid safetensors file.
    Format {
        /// The file.
        path: PathBuf,
        /// What the safetensors parser said.
        message: String,
    },
    /// The network has a parameter the file lacks.
    MissingTensor {
        /// The file.
        path: PathBuf,
        /// The parameter's name.
        name: String,
    },
    /// The file has tensors the network lacks (sorted by name).
    UnexpectedTensors {
        /// The file.
        path: PathBuf,
        /// The names of the tensors no parameter has.
        names: Vec<String>,
    },
    /// A tensor's shape differs from the parameter's.
    WrongShape {
        /// The file.
        path: PathBuf,
        /// The parameter's name.
        name: String,
        /// The parameter's dimensions.
        expected: Vec<usize>,
        /// The tensor's dimensions in the file.
        found: Vec<usize>,
    },
    /// A tensor's dtype differs from the network's element type.
    WrongDtype {
        /// The file.
        path: PathBuf,
        /// The parameter's name.
        name: String,
        /// The network's dtype (`F32` or `F64`).
        expected: String,
        /// The tensor's dtype in the file.
        found: String,
    },
}

impl fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use CheckpointError::*;
        match self {
            Io { path, message } => write!(f, "{}: {message}", path.display()),
            Format { path, message } => {
                write!(
                    f,
                    "{}: not a valid safetensors file: {message}",
                    path.display()
                )
            }
            MissingTensor { path, name } => write!(
                f,
                "{}: no tensor named `{name}`, which the network needs",
                path.display()
            ),
            UnexpectedTensors { path, names } => write!(
                f,
                "{}: tensor(s) {} are not parameters of the network",
                path.display(),
                names
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            WrongShape {
                path,
                name,
                expected,
                found,
            } => write!(
                f,
                "{}: tensor `{name}` has shape {found:?}, the network expects {expected:?}",
                path.display()
            ),
            WrongDtype {
                path,
                name,
                expected,
                found,
            } => write!(
                f,
                "{}: tensor `{name}` has dtype {found}, the network expects {expected}",
                path.display()
            ),
        }
    }
}

impl std::error::Error for CheckpointError {}

fn dtype_of<T: Element>() -> Dtype {
    match T::DTYPE {
        DType::F32 => Dtype::F32,
        DType::F64 => Dtype::F64,
    }
}

/// The safetensors bytes of `params`.
pub fn to_bytes<P: Tensors>(params: &P) -> Result<Vec<u8>, String> {
    let data: Vec<(&str, &[usize], Vec<u8>)> = P::SHAPES
        .iter()
        .zip(params.tensors())
        .map(|((name, dims), values)| {
            let mut bytes = Vec::with_capacity(values.len() * P::Elem::SIZE);
            values.iter().for_each(|v| v.write_le(&mut bytes));
            (*name, *dims, bytes)
        })
        .collect();
    let views = data
        .iter()
        .map(|(name, dims, bytes)| {
            TensorView::new(dtype_of::<P::Elem>(), dims.to_vec(), bytes).map(|v| (*name, v))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let metadata = [("format".to_string(), "pt".to_string())].into();
    safetensors::serialize(views, Some(metadata)).map_err(|e| e.to_string())
}

/// Saves `params` to `path` (conventionally `*.safetensors`), replacing any file
/// there only once the new one is completely written.
pub fn save<P: Tensors>(params: &P, path: impl AsRef<Path>) -> Result<(), CheckpointError> {
    let path = path.as_ref();
    let io = |e: std::io::Error| CheckpointError::Io {
        path: path.to_owned(),
        message: e.to_string(),
    };
    let bytes = to_bytes(params).map_err(|message| CheckpointError::Format {
        path: path.to_owned(),
        message,
    })?;
    let file_name = path.file_name().ok_or_else(|| CheckpointError::Io {
        path: path.to_owned(),
        message: "not a file path".into(),
    })?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(file_name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let written = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        // Best effort: the temporary file may not even exist.
        let _ = std::fs::remove_file(&tmp);
        return Err(io(e));
    }
    Ok(())
}

/// Loads parameters from `path` into a new heap-allocated value.
pub fn load<P: Tensors>(path: impl AsRef<Path>) -> Result<Box<P>, CheckpointError> {
    let mut params = P::zeros_boxed();
    load_into(&mut *params, path)?;
    Ok(params)
}

/// Overwrites `params` from the file at `path`; on any error `params` is unchanged.
pub fn load_into<P: Tensors>(
    params: &mut P,
    path: impl AsRef<Path>,
) -> Result<(), CheckpointError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| CheckpointError::Io {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    from_bytes(params, &bytes, path)
}

/// Overwrites `params` from safetensors `bytes`; `path` only names the source in
/// errors. On any error `params` is unchanged: every tensor is checked before the
/// first is copied.
pub fn from_bytes<P: Tensors>(
    params: &mut P,
    bytes: &[u8],
    path: &Path,
) -> Result<(), CheckpointError> {
    let file = SafeTensors::deserialize(bytes).map_err(|e| CheckpointError::Format {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    let mut unexpected: Vec<String> = file
        .names()
        .into_iter()
        .filter(|n| !P::SHAPES.iter().any(|(name, _)| name == n))
        .map(str::to_owned)
        .collect();
    if !unexpected.is_empty() {
        unexpected.sort();
        return Err(CheckpointError::UnexpectedTensors {
            path: path.to_owned(),
            names: unexpected,
        });
    }
    let expected_dtype = dtype_of::<P::Elem>();
    let mut views = Vec::with_capacity(P::SHAPES.len());
    for (name, dims) in P::SHAPES {
        let view = file
            .tensor(name)
            .map_err(|_| CheckpointError::MissingTensor {
                path: path.to_owned(),
                name: (*name).to_owned(),
            })?;
        if view.dtype() != expected_dtype {
            return Err(CheckpointError::WrongDtype {
                path: path.to_owned(),
                name: (*name).to_owned(),
                expected: format!("{expected_dtype:?}"),
                found: format!("{:?}", view.dtype()),
            });
        }
        if view.shape() != *dims {
            return Err(CheckpointError::WrongShape {
                path: path.to_owned(),
                name: (*name).to_owned(),
                expected: dims.to_vec(),
                found: view.shape().to_vec(),
            });
        }
        views.push(view);
    }
    // Decode everything first so a bad tensor cannot leave `params` half-updated.
    let mut decoded = Vec::with_capacity(views.len());
    for ((name, _), view) in P::SHAPES.iter().zip(&views) {
        let values = view
            .data()
            .chunks_exact(P::Elem::SIZE)
            .map(P::Elem::read_le)
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| CheckpointError::Format {
                path: path.to_owned(),
                message: format!("tensor `{name}` has a partial element"),
            })?;
        decoded.push(values);
    }
    for (dst, src) in params.tensors_mut().into_iter().zip(&decoded) {
        if dst.len() != src.len() {
            return Err(CheckpointError::Format {
                path: path.to_owned(),
                message: "tensor length differs from its shape".into(),
            });
        }
    }
    for (dst, src) in params.tensors_mut().into_iter().zip(decoded) {
        dst.copy_from_slice(&src);
    }
    Ok(())
}
