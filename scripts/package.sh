#!/usr/bin/env bash
# Packages every publishable crate of the workspace, as `cargo publish` would,
# and verifies each package by building it from its .crate file alone.
#
# `cargo package --workspace` goes in dependency order (gradc-runtime, gradc-ir,
# ..., gradc, gradc-cli) and resolves each crate's unpublished gradc siblings
# from the packages it has just made, so every crate is verified although none
# is on crates.io yet. It needs the crates.io index (to resolve the packaged
# manifests) and takes a few minutes: each package builds in target/package/.
#
# Test-only crates (`publish = false`) are left out. Extra arguments go to
# cargo, e.g. `scripts/package.sh --no-verify` to check the file lists only;
# `cargo package --list -p NAME` shows what one package ships.
set -euo pipefail
cd "$(dirname "$0")/.."

excludes=()
for manifest in crates/*/Cargo.toml; do
    if grep -q '^publish = false' "$manifest"; then
        name=$(sed -n 's/^name = "\(.*\)"$/\1/p' "$manifest" | head -n 1)
        excludes+=(--exclude "$name")
    fi
done

cargo package --workspace --locked "${excludes[@]}" "$@"
