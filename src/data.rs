//! Data sets for training: the vendored handwritten-digits set, a loader for
//! your own CSV files ([`Dataset::from_csv`]) and a seeded split.
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
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

/// Pixels per digit image (8×8).
pub const DIGITS_FEATURES: usize = 64;
/// Digit classes 0..=9.
pub const DIGITS_CLASSES: usize = 10;

/// Where the vendored digits file is in this package's source tree.
pub fn digits_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/digits.csv.gz")
}

/// A labelled classification data set held in memory, with features of element
/// type `T`: `f32` (the default, what [`load_digits`] gives) or `f64` (a CSV
/// file loaded with [`CsvOptions::element`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset<T = f32> {
    /// Row-major features: sample `i` is `features[i*n_features..(i+1)*n_features]`.
    pub features: Vec<T>,
    /// The class of each sample, in `0..n_classes`.
    pub labels: Vec<usize>,
    /// Features per sample.
    pub n_features: usize,
    /// Number of classes.
    pub n_classes: usize,
}

impl<T: Element> Dataset<T> {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// `true` when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The features of sample `i`, or `None` past the end.
    pub fn features_of(&self, i: usize) -> Option<&[T]> {
        self.features
            .get(i * self.n_features..(i + 1) * self.n_features)
    }

    /// The samples at `indices`, in that order.
    pub fn subset(&self, indices: &[usize]) -> Result<Dataset<T>, DataError> {
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
    pub fn split(&self, test_fraction: f64, seed: u64) -> (Dataset<T>, Dataset<T>) {
        let mut order: Vec<usize> = (0..self.len()).collect();
        Rng::new(seed).shuffle(&mut order);
        let n_test = (self.len() as f64 * test_fraction.clamp(0.0, 1.0)).round() as usize;
        let (test, train) = order.split_at(n_test.min(order.len()));
        // Every index comes from 0..len, so subset cannot fail.
        let pick = |idx: &[usize]| self.subset(idx).unwrap_or_else(|_| self.empty_like());
        (pick(train), pick(test))
    }

    fn empty_like(&self) -> Dataset<T> {
        Dataset {
            features: Vec::new(),
            labels: Vec::new(),
            n_features: self.n_features,
            n_classes: self.n_classes,
        }
    }

    /// Writes the samples at `indices` into a network's batch buffers: `x` gets the
    /// features row by row (`indices.len() × n_features`, converted to the
    /// buffers' element type), `y` the one-hot labels (`indices.len() × n_classes`).
    pub fn fill_batch<U: Element>(
        &self,
        indices: &[usize],
        x: &mut [U],
        y_one_hot: &mut [U],
    ) -> Result<(), DataError> {
        let nc = self.n_classes;
        self.fill_rows(indices, x, y_one_hot, nc, "one-hot labels", |y, label| {
            y.fill(U::ZERO);
            y[label] = U::ONE;
        })
    }

    /// Like [`Dataset::fill_batch`], with each label as its class index
    /// (`labels[row] = 3.0`): the targets `cross_entropy` takes as class indices.
    pub fn fill_batch_labels<U: Element>(
        &self,
        indices: &[usize],
        x: &mut [U],
        labels: &mut [U],
    ) -> Result<(), DataError> {
        self.fill_rows(indices, x, labels, 1, "class labels", |y, label| {
            y[0] = U::from_f64(label as f64);
        })
    }

    /// Features into `x`, and `per_row` target values per sample written by `target`.
    fn fill_rows<U: Element>(
        &self,
        indices: &[usize],
        x: &mut [U],
        y: &mut [U],
        per_row: usize,
        what: &str,
        target: impl Fn(&mut [U], usize),
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
                *dst = U::from_f64(src.to_f64());
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
    Missing {
        /// The file.
        path: PathBuf,
    },
    /// The file exists but could not be opened or read.
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        message: String,
    },
    /// The file is not a valid gzip stream (wrong format, truncated, bad checksum).
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What the gzip decoder said.
        message: String,
    },
    /// A line of the (decompressed) CSV is malformed.
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line number in the file.
        line: usize,
        /// 1-based column (comma-separated field), when one field is at fault.
        column: Option<usize>,
        /// What is wrong with the line.
        message: String,
    },
    /// The file holds no samples.
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// Batch buffers or indices do not fit the data set.
    Batch {
        /// What does not fit.
        message: String,
    },
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataError::Missing { path } => {
                write!(f, "data file {} does not exist", path.display())?;
                if path.ends_with("digits.csv.gz") {
                    f.write_str(
                        " (the digits set ships as data/digits.csv.gz in the gradc repository)",
                    )?;
                }
                Ok(())
            }
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
                column: None,
                message,
            } => write!(f, "{}:{line}: {message}", path.display()),
            DataError::Parse {
                path,
                line,
                column: Some(column),
                message,
            } => write!(f, "{}:{line}: column {column}: {message}", path.display()),
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
    read_digits(GzDecoder::new(BufReader::new(open(path)?)), path)
}

fn open(path: &Path) -> Result<std::fs::File, DataError> {
    std::fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => DataError::Missing {
            path: path.to_owned(),
        },
        _ => DataError::Io {
            path: path.to_owned(),
            message: e.to_string(),
        },
    })
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
    let parse_err = |line: usize, column: Option<usize>, message: String| DataError::Parse {
        path: path.to_owned(),
        line,
        column,
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
                None,
                format!(
                    "expected {} comma-separated values (64 pixels and a label), found {}",
                    DIGITS_FEATURES + 1,
                    fields.len()
                ),
            ));
        }
        for (col, field) in fields.iter().enumerate() {
            let value: f64 = field.trim().parse().map_err(|_| {
                parse_err(line_no, Some(col + 1), format!("`{field}` is not a number"))
            })?;
            let (max, what) = if col < DIGITS_FEATURES {
                (16.0, "a pixel count")
            } else {
                ((DIGITS_CLASSES - 1) as f64, "a label")
            };
            if !(0.0..=max).contains(&value) || value.fract() != 0.0 {
                return Err(parse_err(
                    line_no,
                    Some(col + 1),
                    format!("{what} must be an integer in 0..={max}, found `{field}`"),
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

/// Class labels in a CSV file must be below this: every smaller integer is exact
/// in `f32`, the type a network's class-index targets have.
pub const MAX_CSV_CLASSES: usize = 1 << 24;

/// How [`Dataset::from_csv`] reads a file; `T` is the element type of the
/// features it stores (`f32` unless [`CsvOptions::element`] says otherwise).
///
/// The defaults: no header line, the label in the last column, the number of
/// classes one more than the largest label.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CsvOptions<T = f32> {
    header: bool,
    label_column: Option<usize>,
    n_classes: Option<usize>,
    element: PhantomData<fn() -> T>,
}

impl CsvOptions<f32> {
    /// The defaults, with `f32` features.
    pub fn new() -> Self {
        CsvOptions {
            header: false,
            label_column: None,
            n_classes: None,
            element: PhantomData,
        }
    }
}

impl Default for CsvOptions<f32> {
    fn default() -> Self {
        CsvOptions::new()
    }
}

impl<T: Element> CsvOptions<T> {
    /// Whether the first non-empty line is a header of column names, to skip (its
    /// number of fields still fixes the number of columns).
    pub fn header(self, header: bool) -> Self {
        CsvOptions { header, ..self }
    }

    /// The 0-based index of the column holding the class label; every other
    /// column is a feature, in file order.
    pub fn label_column(self, index: usize) -> Self {
        CsvOptions {
            label_column: Some(index),
            ..self
        }
    }

    /// Fixes the number of classes (when some class may be absent from the
    /// file); a label not below `n_classes` is then an error.
    pub fn classes(self, n_classes: usize) -> Self {
        CsvOptions {
            n_classes: Some(n_classes),
            ..self
        }
    }

    /// The element type `U` (`f32` or `f64`) to store the features in.
    pub fn element<U: Element>(self) -> CsvOptions<U> {
        CsvOptions {
            header: self.header,
            label_column: self.label_column,
            n_classes: self.n_classes,
            element: PhantomData,
        }
    }
}

impl<T: Element> Dataset<T> {
    /// Loads a classification data set from a CSV file of numbers: one sample a
    /// line, the fields separated by commas (no quoting), one column the class
    /// label and the others the features.
    ///
    /// Features are decimal numbers as Rust parses them (`1`, `-0.5`, `2e-3`)
    /// and must be finite in `T`. Labels are class indices, integers from 0 (`3`
    /// or `3.0`) below [`MAX_CSV_CLASSES`]; map class names to indices first.
    /// Blank lines are skipped; spaces around fields, a UTF-8 byte-order mark
    /// and Windows line ends are accepted.
    ///
    /// Every problem is a [`DataError`] naming the file: a missing file
    /// ([`DataError::Missing`]), one without samples ([`DataError::Empty`]), or a
    /// [`DataError::Parse`] with the line (and the column, 1-based, when one
    /// field is at fault) for a row with another number of fields than the first
    /// line, a field that is not a number, a label that is not a class index, a
    /// label column past the end of the row, or text that is not UTF-8.
    ///
    /// ```
    /// use gradc::data::{CsvOptions, Dataset};
    ///
    /// let path = std::env::temp_dir().join(format!("gradc-doc-{}.csv", std::process::id()));
    /// std::fs::write(&path, "label,height,weight\n1,1.5,60\n0,1.8,80.5\n2,1.6,55\n").unwrap();
    /// let options = CsvOptions::new().header(true).label_column(0);
    /// let data = Dataset::from_csv(&path, options).unwrap();
    /// assert_eq!((data.len(), data.n_features, data.n_classes), (3, 2, 3));
    /// assert_eq!((data.features_of(1), data.labels[1]), (Some(&[1.8f32, 80.5][..]), 0));
    ///
    /// // The same file with f64 features.
    /// let precise = Dataset::from_csv(&path, options.element::<f64>()).unwrap();
    /// assert_eq!(precise.features_of(1), Some(&[1.8f64, 80.5][..]));
    ///
    /// std::fs::write(&path, "1,1.5,60\n0,1.8\n").unwrap();
    /// let err = Dataset::from_csv(&path, CsvOptions::new()).unwrap_err();
    /// assert!(err.to_string().ends_with(":2: expected 3 comma-separated values (as on line 1), found 2"));
    /// # std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn from_csv(path: impl AsRef<Path>, options: CsvOptions<T>) -> Result<Self, DataError> {
        let path = path.as_ref();
        read_csv(BufReader::new(open(path)?), path, options)
    }
}

/// The parser behind [`Dataset::from_csv`]; `path` only names the source in errors.
fn read_csv<T: Element>(
    reader: impl BufRead,
    path: &Path,
    options: CsvOptions<T>,
) -> Result<Dataset<T>, DataError> {
    let parse_err = |line: usize, column: Option<usize>, message: String| DataError::Parse {
        path: path.to_owned(),
        line,
        column,
        message,
    };
    let mut data = Dataset {
        features: Vec::new(),
        labels: Vec::new(),
        n_features: 0,
        n_classes: 0,
    };
    // (fields per line, the line that fixed it, the label's index), from the first line.
    let mut layout: Option<(usize, usize, usize)> = None;
    let mut skip_header = options.header;
    for (n, line) in reader.lines().enumerate() {
        let line_no = n + 1;
        let line = line.map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidData => {
                parse_err(line_no, None, "the line is not valid UTF-8 text".into())
            }
            _ => DataError::Io {
                path: path.to_owned(),
                message: e.to_string(),
            },
        })?;
        let text = if n == 0 {
            line.strip_prefix('\u{feff}').unwrap_or(&line)
        } else {
            &line
        };
        if text.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = text.split(',').map(str::trim).collect();
        let label_col = match layout {
            None => {
                let width = fields.len();
                if width < 2 {
                    return Err(parse_err(
                        line_no,
                        None,
                        "a line needs at least two comma-separated values \
                         (a feature and a label), found 1"
                            .into(),
                    ));
                }
                let label_col = options.label_column.unwrap_or(width - 1);
                if label_col >= width {
                    return Err(parse_err(
                        line_no,
                        None,
                        format!(
                            "the label column index {label_col} is past the end of the \
                             line's {width} columns (indices 0..{width})"
                        ),
                    ));
                }
                layout = Some((width, line_no, label_col));
                data.n_features = width - 1;
                label_col
            }
            Some((width, first, label_col)) => {
                if fields.len() != width {
                    return Err(parse_err(
                        line_no,
                        None,
                        format!(
                            "expected {width} comma-separated values (as on line {first}), \
                             found {}",
                            fields.len()
                        ),
                    ));
                }
                label_col
            }
        };
        if skip_header {
            skip_header = false;
            continue;
        }
        for (col, field) in fields.iter().enumerate() {
            let at = |mut message: String| {
                // Text on line 1 is most likely a header the options do not expect.
                if line_no == 1 && !options.header && field.parse::<f64>().is_err() {
                    message += " (if line 1 is a header, set CsvOptions::header(true))";
                }
                parse_err(line_no, Some(col + 1), message)
            };
            if col == label_col {
                data.labels
                    .push(parse_label(field, options.n_classes).map_err(at)?);
            } else {
                data.features.push(parse_feature::<T>(field).map_err(at)?);
            }
        }
    }
    if data.is_empty() {
        return Err(DataError::Empty {
            path: path.to_owned(),
        });
    }
    let largest = data.labels.iter().copied().max().unwrap_or(0);
    data.n_classes = options.n_classes.unwrap_or(largest + 1);
    Ok(data)
}

/// A feature field as a finite `T`, or what is wrong with it.
fn parse_feature<T: Element>(field: &str) -> Result<T, String> {
    if field.is_empty() {
        return Err("the field is empty (missing values are not supported)".into());
    }
    let value: f64 = field
        .parse()
        .map_err(|_| format!("`{field}` is not a number"))?;
    let value = T::from_f64(value);
    if !value.is_finite() {
        return Err(format!(
            "`{field}` is not a finite {} number",
            T::DTYPE.name()
        ));
    }
    Ok(value)
}

/// A label field as a class index, or what is wrong with it.
fn parse_label(field: &str, n_classes: Option<usize>) -> Result<usize, String> {
    let not_class =
        || format!("the label `{field}` is not a class index (an integer 0, 1, 2, ...)");
    let class = match field.parse::<u64>() {
        Ok(v) => v,
        Err(_) => {
            let v: f64 = field.parse().map_err(|_| not_class())?;
            // Below 2⁵³ the conversion to an integer is exact.
            if !(v >= 0.0 && v.fract() == 0.0 && v < 9_007_199_254_740_992.0) {
                return Err(not_class());
            }
            v as u64
        }
    };
    let limit = n_classes.unwrap_or(MAX_CSV_CLASSES);
    match usize::try_from(class) {
        Ok(c) if c < limit => Ok(c),
        _ if n_classes.is_some() => Err(format!(
            "the label {class} is not below the {limit} classes set in the options"
        )),
        _ => Err(format!(
            "the label {class} is too large (class indices stop below {MAX_CSV_CLASSES})"
        )),
    }
}

/// The argmax that [`accuracy`](crate::train::accuracy) uses, also here for
/// scoring a data set.
pub use crate::train::argmax;
