//! What the CLI test files share: running the `gradc` binary.

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub struct Run {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `gradc` from the workspace root.
pub fn gradc(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_gradc"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("gradc runs");
    Run {
        ok: out.status.success(),
        stdout: String::from_utf8(out.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("utf-8 stderr"),
    }
}
