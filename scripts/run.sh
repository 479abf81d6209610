#!/usr/bin/env bash
# The main job on the embedded default: the reference rule module decides the example
# leads, then every example organisation's fixtures are checked.
# Sets up what it needs: the WebAssembly targets; the guest crates are built by the
# host's build script.
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target add wasm32-wasip2 wasm32-unknown-unknown
cargo build --release -p crm-rules-cli
./target/release/crm-rules qualify --pretty examples/leads.jsonl
# The same two leads straight from Dataverse, Salesforce and HubSpot: decisions and
# the native requests that apply them.
for records in examples/native/*.json; do
  ./target/release/crm-rules --org-dir examples/strict --now 2026-11-25T09:00:00Z \
    qualify --emit both "$records"
done
./target/release/crm-rules test examples
