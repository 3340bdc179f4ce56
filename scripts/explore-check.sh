#!/usr/bin/env bash
# Opens the explorer page (`gradc explore`) in headless Chromium, clicks
# through it (code lines, tabs, nodes, roots, source lines), fails on any
# console error, page error or outside request, and saves screenshots.
# Not run by CI: it installs Debian's chromium and playwright-core from npm.
#
#   scripts/explore-check.sh [OUT_DIR]     (default: target/explore-check)
#
# FILE and NETWORK pick another page: FILE=examples/xor.rs NETWORK=xor scripts/explore-check.sh
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=$(mkdir -p "${1:-$root/target/explore-check}" && cd "${1:-$root/target/explore-check}" && pwd)
file=${FILE:-crates/testkit/src/nets/slides.rs}
network=${NETWORK:-xor}

if ! command -v chromium >/dev/null 2>&1; then
    apt-get update
    apt-get install -y chromium
fi
chromium --version

tools="$out/node"
if [ ! -d "$tools/node_modules/playwright-core" ]; then
    npm install --prefix "$tools" --no-audit --no-fund --no-save playwright-core@1
fi

cd "$root"
cargo run --quiet -p gradc-cli -- explore "$file" --network "$network" -o "$out/$network.html"
node "$root/scripts/explore-check.js" "$tools/node_modules" "$out/$network.html" "$out"
