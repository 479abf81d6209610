#!/usr/bin/env bash
# Replicas behind a load balancer (docs/deployment.md, "More than one machine"):
# three `crm-rules serve` processes sharing one orgs folder behind HAProxy, under
# load, while a replica is stopped and started again, a module version is rolled
# out through the folder and another org's folder breaks (bench/src/bin/load/
# replicas.rs says what is checked). `.ci/run` runs the short version; `--full`
# runs the longer one whose figures are in BENCHMARKS.md.
# Installs Debian's haproxy when it is missing. Every process it starts is
# stopped when it ends, whatever the outcome.
set -euo pipefail
cd "$(dirname "$0")/.."  # the repository root
mode=--quick
if [[ "${1:-}" == "--full" ]]; then mode=""; fi

if ! command -v haproxy >/dev/null; then
  sudo=""
  if [[ "$(id -u)" != 0 ]]; then sudo=sudo; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq haproxy >/dev/null
fi

cargo build --release -q -p crm-rules-cli
# Only the generator: the engines the other benchmarks compare are not built.
cargo build --release -q --manifest-path bench/Cargo.toml --target-dir target \
  --no-default-features --bin load --bin http-floor

pids=target/tmp/replicas/pids
cleanup() {
  # The generator stops what it started; this catches what a crash or the
  # timeout left: only processes it recorded that are still crm-rules or haproxy.
  if [[ -f "$pids" ]]; then
    while read -r pid; do
      if grep -qaE 'crm-rules|haproxy' "/proc/$pid/cmdline" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
      fi
    done <"$pids"
    rm -f "$pids"
  fi
}
trap cleanup EXIT
mkdir -p target/tmp/replicas
timeout 300 target/release/load replicas $mode
