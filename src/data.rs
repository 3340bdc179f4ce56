//! Data sets for training: the vendored handwritten-digits set and a seeded split.
//!
//! `data/digits.csv.gz` in the repository holds the 1797 8×8 digit images of the
//! UCI "Optical Recognition of Handwritten Digits" test set, as shipped by
//! scikit-learn (see `data/README.md` for origin and license). Each line is 64
//! pixel counts in `0..=16` (row-major) and the label `0..=9`; [`load_digits`]
//! scales the pixels to `[0, 1]`.
//!
//! ```
//! let digits = gradc::data::load_digits(gradc::data::digits_path()).unwrap();
//! assert_eq!((digits.len(), digits.n_features, digits.n_classes), (1797, 64, 10));
//! let (train, test) = digits.split(0.2, 42);
//! assert_eq!((train.len(), test.len()), (1438, 359));
//! ```

use crate::net::Element;
use crate::train::Rng;
use flate2::read::GzDecoder;
use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// Pixels per digit image (8×8).
pub const DIGITS_FEATURES: usize = 64;
/// Digit classes 0..=9.
pub const DIGITS_CLASSES: usize = 10;

/// Where the vendored digits file is in this package's source tree.
pub fn digits_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/digits.csv.gz")
}

/// A labelled classification data set held in memory.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// Row-major features: sample `i` is `features[i*n_features..(i+1)*n_features]`.
    pub features: Vec<f32>,
    /// The class of each sample, in `0..n_classes`.
    pub labels: Vec<usize>,
    /// Features per sample.
    pub n_features: usize,
    /// Number of classes.
    pub n_classes: usize,
}

impl Dataset {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// `true` when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The features of sample `i`, or `None` past the end.
    pub fn features_of(&self, i: usize) -> Option<&[f32]> {
        self.features
            .get(i * self.n_features..(i + 1) * self.n_features)
    }

    /// The samples at `indices`, in that order.
    pub fn subset(&self, indices: &[usize]) -> Result<Dataset, DataError> {
        let mut out = Dataset {
            features: Vec::with_capacity(indices.len() * self.n_features),
            labels: Vec::with_capacity(indices.len()),
            n_features: self.n_features,
            n_classes: self.n_classes,
        };
        for &i in indices {
            let x = self.features_of(i).ok_or(DataError::Batch {
                message: format!("sample index {i} is out of range (len {})", self.len()),
            })?;
            out.features.extend_from_slice(x);
            out.labels.push(self.labels[i]);
        }
        Ok(out)
    }

    /// A seeded random split into `(train, test)`: `round(len · test_fraction)`
    /// samples (the fraction clamped to `[0, 1]`) go to the test set. The same seed
    /// gives the same split on every machine.
    pub fn split(&self, test_fraction: f64, seed: u64) -> (Dataset, Dataset) {
        let mut order: Vec<usize> = (0..self.len()).collect();
        Rng::new(seed).shuffle(&mut order);
        let n_test = (self.len() as f64 * test_fraction.clamp(0.0, 1.0)).round() as usize;
        let (test, train) = order.split_at(n_test.min(order.len()));
        // Every index comes from 0..len, so subset cannot fail.
        let pick = |idx: &[usize]| self.subset(idx).unwrap_or_else(|_| self.empty_like());
        (pick(train), pick(test))
    }

    fn empty_like(&self) -> Dataset {
        Dataset {
            features: Vec::new(),
            labels: Vec::new(),
            n_features: self.n_features,
            n_classes: self.n_classes,
        }
    }

    /// Writes the samples at `indices` into a network's batch buffers: `x` gets the
    /// features row by row (`indices.len() × n_features`), `y` the one-hot labels
    /// (`indices.len() × n_classes`).
    pub fn fill_batch<T: Element>(
        &self,
        indices: &[usize],
        x: &mut [T],
        y_one_hot: &mut [T],
    ) -> Result<(), DataError> {
        let nc = self.n_classes;
        self.fill_rows(indices, x, y_one_hot, nc, "one-hot labels", |y, label| {
            y.fill(T::ZERO);
            y[label] = T::ONE;
        })
    }

    /// Like [`Dataset::fill_batch`], with each label as its class index
    /// (`labels[row] = 3.0`): the targets `cross_entropy` takes as class indices.
    pub fn fill_batch_labels<T: Element>(
        &self,
        indices: &[usize],
        x: &mut [T],
        labels: &mut [T],
    ) -> Result<(), DataError> {
        self.fill_rows(indices, x, labels, 1, "class labels", |y, label| {
            y[0] = T::from_f64(label as f64);
        })
    }

    /// Features into `x`, and `per_row` target values per sample written by `target`.
    fn fill_rows<T: Element>(
        &self,
        indices: &[usize],
        x: &mut [T],
        y: &mut [T],
        per_row: usize,
        what: &str,
        target: impl Fn(&mut [T], usize),
    ) -> Result<(), DataError> {
        let nf = self.n_features;
        if x.len() != indices.len() * nf || y.len() != indices.len() * per_row {
            return Err(DataError::Batch {
                message: format!(
                    "a batch of {} samples needs buffers of {} features and {} {what}, \
                     got {} and {}",
                    indices.len(),
                    indices.len() * nf,
                    indices.len() * per_row,
                    x.len(),
                    y.len()
                ),
            });
        }
        for (row, &i) in indices.iter().enumerate() {
            let features = self.features_of(i).ok_or(DataError::Batch {
                message: format!("sample index {i} is out of range (len {})", self.len()),
            })?;
            for (dst, &src) in x[row * nf..(row + 1) * nf].iter_mut().zip(features) {
                *dst = T::from_f64(f64::from(src));
            }
            target(&mut y[row * per_row..(row + 1) * per_row], self.labels[i]);
        }
        Ok(())
    }
}

/// Why a data file could not be loaded or a batch not filled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DataError {
    /// The file does not exist.
    Missing { path: PathBuf },
    /// The file exists but could not be opened or read.
    Io { path: PathBuf, message: String },
    /// The file is not a valid gzip stream (wrong format, truncated, bad checksum).
    Corrupt { path: PathBuf, message: String },
    /// A line of the decompressed CSV is malformed (1-based line number).
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// The file holds no samples.
    Empty { path: PathBuf },
    /// Batch buffers or indices do not fit the data set.
    Batch { message: String },
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataError::Missing { path } => write!(
                f,
                "data file {} does not exist (the digits set ships as data/digits.csv.gz \
                 in the gradc repository)",
                path.display()
            ),
            DataError::Io { path, message } => {
                write!(f, "cannot read data file {}: {message}", path.display())
            }
            DataError::Corrupt { path, message } => write!(
                f,
                "data file {} is corrupt (not a complete gzip stream: {message})",
                path.display()
            ),
            DataError::Parse {
                path,
                line,
                message,
            } => write!(f, "{}:{line}: {message}", path.display()),
            DataError::Empty { path } => {
                write!(f, "data file {} holds no samples", path.display())
            }
            DataError::Batch { message } => f.write_str(message),
        }
    }
}

impl std::error::Error for DataError {}

/// Loads the digits set from a gzip-compressed CSV (the format of
/// `data/digits.csv.gz`; see the module docs), scaling pixels to `[0, 1]`.
pub fn load_digits(path: impl AsRef<Path>) -> Result<Dataset, DataError> {
    let path = path.as_ref();
    let file = std::fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => DataError::Missing {
            path: path.to_owned(),
        },
        _ => DataError::Io {
            path: path.to_owned(),
            message: e.to_string(),
        },
    })?;
    read_digits(GzDecoder::new(BufReader::new(file)), path)
}

/// Parses decompressed digits CSV from `reader`; `path` only names the source in
/// errors. Any read error is reported as a corrupt file, since decompression
/// happens while reading.
pub fn read_digits(reader: impl Read, path: &Path) -> Result<Dataset, DataError> {
    let mut data = Dataset {
        features: Vec::new(),
        labels: Vec::new(),
        n_features: DIGITS_FEATURES,
        n_classes: DIGITS_CLASSES,
    };
    let parse_err = |line: usize, message: String| DataError::Parse {
        path: path.to_owned(),
        line,
        message,
    };
    for (n, line) in BufReader::new(reader).lines().enumerate() {
        let line_no = n + 1;
        let line = line.map_err(|e| DataError::Corrupt {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').collect();
        if fields.len() != DIGITS_FEATURES + 1 {
            return Err(parse_err(
                line_no,
                format!(
                    "expected {} comma-separated values (64 pixels and a label), found {}",
                    DIGITS_FEATURES + 1,
                    fields.len()
                ),
            ));
        }
        for (col, field) in fields.iter().enumerate() {
            let value: f64 = field.trim().parse().map_err(|_| {
                parse_err(
                    line_no,
                    format!("column {}: `{field}` is not a number", col + 1),
                )
            })?;
            let (max, what) = if col < DIGITS_FEATURES {
                (16.0, "a pixel count")
            } else {
                ((DIGITS_CLASSES - 1) as f64, "a label")
            };
            if !(0.0..=max).contains(&value) || value.fract() != 0.0 {
                return Err(parse_err(
                    line_no,
                    format!(
                        "column {}: {what} must be an integer in 0..={max}, found `{field}`",
                        col + 1
                    ),
                ));
            }
            if col < DIGITS_FEATURES {
                data.features.push((value / 16.0) as f32);
            } else {
                data.labels.push(value as usize);
            }
        }
    }
    if data.is_empty() {
        return Err(DataError::Empty {
            path: path.to_owned(),
        });
    }
    Ok(data)
}

/// The index of the largest value (the first on ties); `None` for an empty slice
/// or one containing NaN.
pub fn argmax<T: Element>(values: &[T]) -> Option<usize> {
    let mut best: Option<(usize, T)> = None;
    for (i, &v) in values.iter().enumerate() {
        // NaN is not comparable, not even to itself: no answer.
        v.partial_cmp(&v)?;
        match best {
            Some((_, b)) if b >= v => {}
            _ => best = Some((i, v)),
        }
    }
    best.map(|(i, _)| i)
}
