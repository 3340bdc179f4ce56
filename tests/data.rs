//! The vendored digits set, its loader and split, and errors for bad files.
#![cfg(feature = "data")]

use gradc::data::{argmax, digits_path, load_digits, CsvOptions, DataError, Dataset};
use std::io::Write;
use std::path::PathBuf;

/// A fresh scratch directory under the target dir (no tempfile dependency).
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("data-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn gzip(text: &str) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(text.as_bytes()).unwrap();
    enc.finish().unwrap()
}

#[test]
fn vendored_digits_match_their_readme() {
    let d = load_digits(digits_path()).unwrap();
    assert_eq!((d.len(), d.n_features, d.n_classes), (1797, 64, 10));
    assert_eq!(d.features.len(), 1797 * 64);
    // Class counts from data/README.md (and scikit-learn's description).
    let mut counts = [0; 10];
    d.labels.iter().for_each(|&l| counts[l] += 1);
    assert_eq!(counts, [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]);
    assert!(d.features.iter().all(|&v| (0.0..=1.0).contains(&v)));
    // The first image is a 0; its top row is 0 0 5 13 9 1 0 0 (sklearn's digits.images[0]).
    assert_eq!(d.labels[0], 0);
    let row0: Vec<f32> = d.features[..8].iter().map(|v| v * 16.0).collect();
    assert_eq!(row0, [0.0, 0.0, 5.0, 13.0, 9.0, 1.0, 0.0, 0.0]);
}

#[test]
fn split_is_seeded_disjoint_and_complete() {
    let d = load_digits(digits_path()).unwrap();
    let (train, test) = d.split(0.2, 7);
    assert_eq!((train.len(), test.len()), (1438, 359));
    assert_eq!(d.split(0.2, 7), (train.clone(), test.clone()));
    assert_ne!(d.split(0.2, 8).1, test);
    // Every sample lands in exactly one part: compare the multisets of rows.
    let rows = |ds: &gradc::data::Dataset| -> Vec<(Vec<u32>, usize)> {
        (0..ds.len())
            .map(|i| {
                let x = ds
                    .features_of(i)
                    .unwrap()
                    .iter()
                    .map(|v| v.to_bits())
                    .collect();
                (x, ds.labels[i])
            })
            .collect()
    };
    let mut parts = rows(&train);
    parts.extend(rows(&test));
    parts.sort();
    let mut all = rows(&d);
    all.sort();
    assert_eq!(parts, all);
}

#[test]
fn fill_batch_writes_features_and_one_hot_labels() {
    let d = load_digits(digits_path()).unwrap();
    let (mut x, mut y) = ([[0.0f64; 64]; 2], [[9.0f64; 10]; 2]);
    d.fill_batch(&[5, 0], x.as_flattened_mut(), y.as_flattened_mut())
        .unwrap();
    assert_eq!(x[1][2], 5.0 / 16.0);
    assert_eq!(
        x[0].as_slice(),
        &d.features_of(5)
            .unwrap()
            .iter()
            .map(|&v| f64::from(v))
            .collect::<Vec<_>>()[..]
    );
    let mut want = [0.0; 10];
    want[d.labels[5]] = 1.0;
    assert_eq!(y[0], want);
    assert_eq!(argmax(&y[1]), Some(0));
    let err = d
        .fill_batch(&[0, 1, 2], x.as_flattened_mut(), y.as_flattened_mut())
        .unwrap_err();
    assert!(err.to_string().contains("a batch of 3 samples"), "{err}");
    let err = d
        .fill_batch(&[0, 99_999], x.as_flattened_mut(), y.as_flattened_mut())
        .unwrap_err();
    assert!(err.to_string().contains("99999 is out of range"), "{err}");
}

#[test]
fn fill_batch_labels_writes_class_indices() {
    let d = load_digits(digits_path()).unwrap();
    let idx = [5, 0, 17, 1000];
    let (mut x, mut y) = ([[0.0f32; 64]; 4], [[0.0f32; 10]; 4]);
    d.fill_batch(&idx, x.as_flattened_mut(), y.as_flattened_mut())
        .unwrap();
    let (mut x2, mut labels) = ([[0.0f32; 64]; 4], [7.5f32; 4]);
    d.fill_batch_labels(&idx, x2.as_flattened_mut(), &mut labels)
        .unwrap();
    assert_eq!(x2, x);
    for r in 0..4 {
        assert_eq!(labels[r], d.labels[idx[r]] as f32);
        assert_eq!(argmax(&y[r]), Some(labels[r] as usize));
    }
    let err = d
        .fill_batch_labels(&idx[..3], x2.as_flattened_mut(), &mut labels[..3])
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("a batch of 3 samples needs buffers of 192 features and 3 class labels"),
        "{err}"
    );
}

#[test]
fn a_missing_file_is_named() {
    let path = scratch("missing").join("nope.csv.gz");
    let err = load_digits(&path).unwrap_err();
    assert_eq!(err, DataError::Missing { path: path.clone() });
    let msg = err.to_string();
    assert!(
        msg.contains("nope.csv.gz") && msg.contains("does not exist"),
        "{msg}"
    );
}

#[test]
fn corrupt_files_are_reported_not_parsed() {
    let dir = scratch("corrupt");
    // Not gzip at all.
    let garbage = dir.join("garbage.csv.gz");
    std::fs::write(&garbage, b"this is not gzip\n1,2,3\n").unwrap();
    let err = load_digits(&garbage).unwrap_err();
    assert!(matches!(err, DataError::Corrupt { .. }), "{err:?}");
    assert!(
        err.to_string().contains("garbage.csv.gz is corrupt"),
        "{err}"
    );

    // The real file cut in half: the gzip stream ends early.
    let real = std::fs::read(digits_path()).unwrap();
    let cut = dir.join("truncated.csv.gz");
    std::fs::write(&cut, &real[..real.len() / 2]).unwrap();
    let err = load_digits(&cut).unwrap_err();
    assert!(matches!(err, DataError::Corrupt { .. }), "{err:?}");

    // One flipped byte in the compressed data: a decode or checksum error.
    let mut flipped = real.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x55;
    let bad = dir.join("flipped.csv.gz");
    std::fs::write(&bad, &flipped).unwrap();
    let err = load_digits(&bad).unwrap_err();
    assert!(
        matches!(err, DataError::Corrupt { .. } | DataError::Parse { .. }),
        "{err:?}"
    );
}

#[test]
fn malformed_rows_name_the_line() {
    let dir = scratch("rows");
    let good = vec!["1"; 64].join(",") + ",3";
    let cases = [
        (
            format!("{good}\n1,2,3\n"),
            2,
            "expected 65 comma-separated values",
        ),
        (
            format!("{good}\n{}\n", good.replace(",3", ",x")),
            2,
            "`x` is not a number",
        ),
        (
            format!("{}\n", good.replace(",3", ",12")),
            1,
            "a label must be an integer in 0..=9",
        ),
        (
            format!("17{}\n", &good[1..]),
            1,
            "a pixel count must be an integer in 0..=16",
        ),
    ];
    for (i, (text, line, needle)) in cases.iter().enumerate() {
        let path = dir.join(format!("case{i}.csv.gz"));
        std::fs::write(&path, gzip(text)).unwrap();
        let err = load_digits(&path).unwrap_err();
        assert!(
            matches!(&err, DataError::Parse { line: l, .. } if l == line),
            "{i}: {err:?}"
        );
        assert!(err.to_string().contains(needle), "{i}: {err}");
    }
    let empty = dir.join("empty.csv.gz");
    std::fs::write(&empty, gzip("")).unwrap();
    assert!(matches!(load_digits(&empty), Err(DataError::Empty { .. })));
}

/// Writes `text` to a fresh file `name` in the scratch directory `dir`.
fn csv(dir: &str, name: &str, text: &str) -> PathBuf {
    let path = scratch(dir).join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn from_csv_reads_features_and_labels() {
    let path = csv(
        "csv-ok",
        "iris.csv",
        "\u{feff}sepal, petal ,species\r\n5.1,1.4,0\r\n\r\n6.2, 4.5 ,1\r\n7.7,6.9,2.0\r\n  \n-1e-3,+2,1\n",
    );
    let opts = CsvOptions::new().header(true);
    let d = Dataset::from_csv(&path, opts).unwrap();
    assert_eq!((d.len(), d.n_features, d.n_classes), (4, 2, 3));
    assert_eq!(d.features, [5.1f32, 1.4, 6.2, 4.5, 7.7, 6.9, -1e-3, 2.0]);
    assert_eq!(d.labels, [0, 1, 2, 1]);
    // f64 keeps what f32 rounds.
    let d64: Dataset<f64> = Dataset::from_csv(&path, opts.element::<f64>()).unwrap();
    assert_eq!(d64.features, [5.1, 1.4, 6.2, 4.5, 7.7, 6.9, -1e-3, 2.0]);
    assert_eq!(d64.labels, d.labels);

    // The label in the first column, no header, a fixed class count.
    let path = csv("csv-first", "a.csv", "3,0.5,0.25,1\n0,1,2,3\n");
    let d = Dataset::from_csv(&path, CsvOptions::new().label_column(0).classes(10)).unwrap();
    assert_eq!(
        (d.n_features, d.n_classes, &d.labels[..]),
        (3, 10, &[3, 0][..])
    );
    assert_eq!(d.features_of(0), Some(&[0.5f32, 0.25, 1.0][..]));
    // A label in the middle: the other columns stay in file order.
    let path = csv("csv-middle", "m.csv", "3,0.5,2,1\n0,1,0,3\n");
    let d = Dataset::from_csv(&path, CsvOptions::new().label_column(2)).unwrap();
    assert_eq!(
        (d.labels, d.features),
        (vec![2, 0], vec![3.0, 0.5, 1.0, 0.0, 1.0, 3.0])
    );

    // A loaded set works with the rest of the module.
    let (mut x, mut y) = ([[0.0f32; 2]; 2], [[0.0f32; 3]; 2]);
    let d = Dataset::from_csv(
        csv("csv-batch", "b.csv", "1,2,0\n3,4,2\n"),
        CsvOptions::new(),
    )
    .unwrap();
    d.fill_batch(&[1, 0], x.as_flattened_mut(), y.as_flattened_mut())
        .unwrap();
    assert_eq!(
        (x, y),
        ([[3.0, 4.0], [1.0, 2.0]], [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    );
    assert_eq!(d.split(0.5, 1).1.len(), 1);
}

/// The error `from_csv` gives for `text`, with `opts`.
fn csv_error(name: &str, text: &str, opts: CsvOptions) -> (DataError, String) {
    let path = csv(&format!("csv-{name}"), &format!("{name}.csv"), text);
    let err = Dataset::from_csv(&path, opts).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("{name}.csv")),
        "names the file: {msg}"
    );
    (err, msg)
}

#[test]
fn from_csv_errors_name_the_file_line_and_column() {
    let plain = CsvOptions::new();
    let cases = [
        (
            "ragged",
            "1,2,0\n3,4,1\n5,1\n",
            plain,
            3,
            None,
            "expected 3 comma-separated values (as on line 1), found 2",
        ),
        (
            "long",
            "a,b,c\n1,2,0\n3,4,1,9\n",
            plain.header(true),
            3,
            None,
            "expected 3 comma-separated values (as on line 1), found 4",
        ),
        (
            "word",
            "1,2,0\n3,x4,1\n",
            plain,
            2,
            Some(2),
            "`x4` is not a number",
        ),
        (
            "blank",
            "1,2,0\n3,,1\n",
            plain,
            2,
            Some(2),
            "the field is empty",
        ),
        (
            "nan",
            "1,2,0\nNaN,4,1\n",
            plain,
            2,
            Some(1),
            "`NaN` is not a finite f32 number",
        ),
        (
            "range",
            "1,1e39,0\n",
            plain,
            1,
            Some(2),
            "`1e39` is not a finite f32 number",
        ),
        (
            "frac",
            "1,2,0\n3,4,1.5\n",
            plain,
            2,
            Some(3),
            "the label `1.5` is not a class index (an integer 0, 1, 2, ...)",
        ),
        (
            "neg",
            "1,2,-1\n",
            plain,
            1,
            Some(3),
            "the label `-1` is not a class index",
        ),
        (
            "name",
            "1,2,0\n3,4,setosa\n",
            plain,
            2,
            Some(3),
            "the label `setosa` is not a class index",
        ),
        (
            "huge",
            "1,2,16777216\n",
            plain,
            1,
            Some(3),
            "the label 16777216 is too large",
        ),
        (
            "classes",
            "1,2,0\n3,4,3\n",
            plain.classes(3),
            2,
            Some(3),
            "the label 3 is not below the 3 classes set in the options",
        ),
        (
            "header",
            "height,weight,label\n1,2,0\n",
            plain,
            1,
            Some(1),
            "`height` is not a number (if line 1 is a header, set CsvOptions::header(true))",
        ),
        (
            "labelcol",
            "\n1,2,0\n",
            plain.label_column(3),
            2,
            None,
            "the label column index 3 is past the end of the line's 3 columns",
        ),
        (
            "single",
            "1\n2\n",
            plain,
            1,
            None,
            "at least two comma-separated values",
        ),
    ];
    for (name, text, opts, line, column, needle) in cases {
        let (err, msg) = csv_error(name, text, opts);
        match &err {
            DataError::Parse {
                line: l, column: c, ..
            } => {
                assert_eq!((*l, *c), (line, column), "{name}: {msg}");
            }
            _ => panic!("{name}: expected a parse error, got {err:?}"),
        }
        assert!(msg.contains(needle), "{name}: {msg}");
        let at = match column {
            Some(c) => format!(".csv:{line}: column {c}: "),
            None => format!(".csv:{line}: "),
        };
        assert!(msg.contains(&at), "{name}: {msg}");
    }

    // Not UTF-8.
    let path = scratch("csv-bytes").join("bytes.csv");
    std::fs::write(&path, b"1,2,0\n1,\xff,0\n").unwrap();
    let err = Dataset::from_csv(&path, CsvOptions::new()).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::Parse {
                line: 2,
                column: None,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("not valid UTF-8"), "{err}");

    // Empty: no bytes, blank lines only, a header only.
    for (i, text) in ["", "\n \n\n", "a,b,label\n"].into_iter().enumerate() {
        let path = csv("csv-empty", &format!("empty{i}.csv"), text);
        let err = Dataset::from_csv(&path, CsvOptions::new().header(i == 2)).unwrap_err();
        assert_eq!(err, DataError::Empty { path: path.clone() });
        assert!(
            err.to_string()
                .contains(&format!("empty{i}.csv holds no samples")),
            "{err}"
        );
    }

    // Missing: named, without the digits hint.
    let path = scratch("csv-missing").join("mine.csv");
    let err = Dataset::from_csv(&path, CsvOptions::new()).unwrap_err();
    assert_eq!(err, DataError::Missing { path: path.clone() });
    assert!(
        err.to_string().ends_with("mine.csv does not exist"),
        "{err}"
    );
    // A directory is no file.
    let dir = scratch("csv-dir");
    assert!(matches!(
        Dataset::from_csv(&dir, CsvOptions::new()),
        Err(DataError::Io { .. })
    ));
}
