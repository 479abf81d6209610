#!/usr/bin/env bash
# Builds the Node.js binding from the checkout and runs its tests: npm ci installs
# the package's development dependencies (napi-rs's CLI, TypeScript) into
# bindings/node/node_modules and builds the addon into the workspace's target
# folder; the tests compare its answers with the program's, so the program is
# built first (a no-op after the workspace's tests).
set -euo pipefail
cd "$(dirname "$0")/.."  # the repository root
command -v node >/dev/null || { echo "bindings-node-test: node is not installed" >&2; exit 1; }
# The program and the addon from the workspace's build (built already by the
# tests and scripts/bindings-test.sh; alone, this builds them).
cargo build --release -q --workspace
export CRM_RULES_BUILD_WORKSPACE=1
export CRM_RULES_BIN="$PWD/target/release/crm-rules"
cd bindings/node
npm ci --no-audit --no-fund
node --test test/*.test.js
