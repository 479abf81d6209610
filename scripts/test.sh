#!/usr/bin/env bash
# Runs every check of the project: formatting, lints and all tests, in release mode
# (the rule modules are compiled by Cranelift, which is much faster when optimised).
# Sets up what it needs: the wasm32-wasip2 target; the guest crates are built by the
# host's build script.
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target add wasm32-wasip2
cargo fmt --all --check
cargo clippy --workspace --all-targets --release -- -D warnings
mkdir -p target
set +e
cargo test --workspace --release 2>&1 | tee target/test-output.log
status=${PIPESTATUS[0]}
set -e
echo "== summary =="
grep -E '^test result:' target/test-output.log || true
exit "$status"
