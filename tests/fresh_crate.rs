//! Crates outside this workspace that depend on gradc by path, as a user's crate
//! does: the README's "Use gradc in your crate" blocks, built and run exactly as
//! written, and `tests/fresh/lints.rs`, a library of networks under
//! `#![deny(missing_docs, warnings)]` and `#![warn(clippy::pedantic)]`, in
//! editions 2021 and 2024.
//!
//! They share one target directory under `CARGO_TARGET_TMPDIR`, so gradc's
//! dependencies build once, and run offline with this workspace's `Cargo.lock`:
//! building this test already put every dependency in the registry cache.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The path the README's dependency line names; the test points it here.
const README_PATH: &str = r#"path = "../gradc""#;

/// `(path, text)` of the fenced code block after each `<!-- fresh-crate: PATH -->`.
fn marked_blocks(readme: &str) -> Vec<(String, String)> {
    let mut blocks = Vec::new();
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        let Some(path) = line
            .strip_prefix("<!-- fresh-crate: ")
            .and_then(|l| l.strip_suffix(" -->"))
        else {
            continue;
        };
        let fence = lines.next().unwrap_or_default();
        assert!(
            fence.starts_with("```"),
            "README: the marker for {path} must be followed by a code block, found {fence:?}"
        );
        let body: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
        blocks.push((path.to_string(), body.join("\n") + "\n"));
    }
    blocks
}

fn readme_blocks() -> Vec<(String, String)> {
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    let blocks = marked_blocks(&readme);
    let paths: Vec<&str> = blocks.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        ["Cargo.toml", "src/main.rs"],
        "README's fresh-crate blocks"
    );
    blocks
}

/// A crate in a new directory under the system's temporary directory (outside
/// this workspace, which would otherwise claim it), removed when dropped.
struct FreshCrate {
    dir: PathBuf,
}

impl FreshCrate {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("gradc-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::copy(Path::new(ROOT).join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
        FreshCrate { dir }
    }

    fn write(&self, path: &str, text: &str) {
        std::fs::write(self.dir.join(path), text).unwrap();
    }

    /// Runs `cargo ARGS --offline` in the crate, successful or not.
    fn cargo_output(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        Command::new(cargo)
            .args(args)
            .arg("--offline")
            .current_dir(&self.dir)
            .env("CARGO_TARGET_DIR", target_dir())
            .envs(env.iter().copied())
            .output()
            .unwrap()
    }

    /// Runs `cargo ARGS --offline` in the crate; panics with its output on failure.
    fn cargo(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let out = self.cargo_output(args, env);
        assert!(
            out.status.success(),
            "cargo {args:?} in {} failed:\n{}{}",
            self.dir.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }
}

impl Drop for FreshCrate {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("fresh-crates")
}

/// The README's `Cargo.toml` with its dependency path pointing at this checkout.
fn readme_manifest(blocks: &[(String, String)]) -> String {
    let manifest = &blocks[0].1;
    assert_eq!(manifest.matches(README_PATH).count(), 1, "{manifest}");
    manifest.replace(README_PATH, &format!("path = {ROOT:?}"))
}

#[test]
fn readme_crate_builds_and_runs() {
    let blocks = readme_blocks();
    let krate = FreshCrate::new("readme");
    krate.write("Cargo.toml", &readme_manifest(&blocks));
    krate.write("src/main.rs", &blocks[1].1);
    let out = krate.cargo(&["run", "--quiet"], &[]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    // The last line is `w W b B`; the points lie on y = 3x - 1.
    let last: Vec<&str> = stdout.lines().last().unwrap().split_whitespace().collect();
    let (w, b): (f64, f64) = (last[1].parse().unwrap(), last[3].parse().unwrap());
    assert!(
        (w - 3.0).abs() < 1e-2 && (b + 1.0).abs() < 1e-2,
        "fit y = 3x - 1, got w {w} b {b}:\n{stdout}"
    );
}

/// `tests/fresh/lints.rs` as the library of a crate in `edition`: clippy (or,
/// where clippy is not installed, rustc) and rustdoc report nothing.
fn lint_clean(edition: &str) {
    let blocks = readme_blocks();
    let readme = readme_manifest(&blocks);
    // The README's profile settings too, so this crate shares its build.
    let profiles = &readme[readme.find("[profile").unwrap()..];
    let krate = FreshCrate::new(&format!("lints-{edition}"));
    krate.write(
        "Cargo.toml",
        &format!(
            "[package]\nname = \"lints\"\nversion = \"0.1.0\"\nedition = \"{edition}\"\n\n\
             [dependencies]\ngradc = {{ path = {ROOT:?} }}\n\n{profiles}"
        ),
    );
    let lib = std::fs::read_to_string(Path::new(ROOT).join("tests/fresh/lints.rs")).unwrap();
    krate.write("src/lib.rs", &lib);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let has_clippy = Command::new(cargo)
        .args(["clippy", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if has_clippy {
        krate.cargo(&["clippy", "--quiet"], &[]);
    } else {
        eprintln!("clippy is not installed: checking with rustc only");
        krate.cargo(&["check", "--quiet"], &[]);
    }
    krate.cargo(
        &["doc", "--quiet", "--no-deps"],
        &[("RUSTDOCFLAGS", "-D warnings")],
    );
}

#[test]
fn generated_code_is_lint_clean_in_edition_2021() {
    lint_clean("2021");
}

#[test]
fn generated_code_is_lint_clean_in_edition_2024() {
    lint_clean("2024");
}

/// `B = 0` of a `const B` network: a batch of no rows has no mean. The check
/// is a `const { assert!(B > 0) }` in the generated functions, which rustc
/// evaluates when it instantiates them for `B = 0`, so only a build reports
/// it, at the attribute, with a note at the user's call. `cargo check` stops
/// before instantiation and stable Rust has no earlier hook: a bound on `B`
/// (`where [(); B - 1]:`) needs the unstable `generic_const_exprs`, and
/// rustc 1.95 evaluates no const of a function body during `cargo check`,
/// not even `const { assert!(false) }` in a non-generic `main`; only const
/// items and array lengths, which the user's call is not.
#[test]
fn zero_batch_fails_at_build_with_a_note_at_the_call() {
    let krate = FreshCrate::new("zero-batch");
    krate.write(
        "Cargo.toml",
        &format!(
            "[package]\nname = \"zero_batch\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
             [dependencies]\ngradc = {{ path = {ROOT:?} }}\n"
        ),
    );
    krate.write(
        "src/main.rs",
        "use gradc::network;

#[network]
fn net<const B: usize>(#[input] x: [[f64; 3]; B], w: [f64; 3]) -> f64 {
    mean(x.matmul(w))
}

fn main() {
    let params = net::Params::zeros();
    let inputs = net::Inputs::<0>::zeros();
    println!(\"{}\", net::forward(&params, &inputs));
}
",
    );
    krate.cargo(&["check", "--quiet"], &[]);
    let out = krate.cargo_output(&["build", "--quiet"], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "B = 0 built:\n{stderr}");
    assert!(
        stderr.contains("gradc: the batch size B must be at least 1"),
        "{stderr}"
    );
    assert!(
        stderr.contains("while instantiating `fn net::forward::<0>`")
            && stderr.contains("src/main.rs:11:"),
        "no note at the call:\n{stderr}"
    );
}
