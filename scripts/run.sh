#!/usr/bin/env bash
# The main job on the embedded default: the reference rule module decides the example
# leads, then every example organisation's fixtures are checked.
# Sets up what it needs: the wasm32-wasip2 target; the guest crates are built by the
# host's build script.
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target add wasm32-wasip2
cargo build --release -p crm-rules
./target/release/crm-rules qualify --pretty examples/leads.jsonl
./target/release/crm-rules test examples
