#!/usr/bin/env bash
# Runs every fuzz target (fuzz/, cargo-fuzz and libFuzzer) for a fixed time each,
# starting from its committed corpus, and prints executions and findings per
# target. Usage: scripts/fuzz.sh [TARGET...]   (default: every target)
#   FUZZ_SECONDS   time per target (default 300)
#   FUZZ_NICE      niceness of the fuzzing processes (default 15)
#
# cargo-fuzz needs a nightly toolchain; this script installs it (and cargo-fuzz)
# when missing, for fuzzing only: the project itself builds on stable.
#
# New inputs go to a scratch copy of the corpus, so the committed one stays small.
# A finding is written to fuzz/artifacts/TARGET/: minimise it with
#   (cd fuzz && cargo +nightly fuzz tmin -s none TARGET artifacts/TARGET/FILE)
# fix the bug, and commit the minimised input as fuzz/corpus/TARGET/NAME, named
# after what it found; tests/fuzz_corpus.rs replays it on stable in CI.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${FUZZ_SECONDS:-300}
niceness=${FUZZ_NICE:-15}

rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
# The rule modules the host embeds are built with the stable toolchain, which
# has the WebAssembly targets (nightly is for the fuzzing instrumentation only).
export CRM_RULES_GUEST_TOOLCHAIN=${CRM_RULES_GUEST_TOOLCHAIN:-stable}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo +nightly fuzz list)
fi

# Sanitizers off: the targets are safe Rust, where a sanitizer finds nothing a
# panic would not, and they run several times faster without it.
for target in "${targets[@]}"; do
  nice -n "$niceness" cargo +nightly fuzz build --sanitizer none "$target"
done

mkdir -p ../target/fuzz
summary=()
failed=0
for target in "${targets[@]}"; do
  scratch=$(mktemp -d)
  cp corpus/"$target"/* "$scratch"/
  log=../target/fuzz/"$target".log
  set +e
  nice -n "$niceness" cargo +nightly fuzz run --sanitizer none "$target" "$scratch" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 >"$log" 2>&1
  status=$?
  set -e
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  found=$(ls artifacts/"$target" 2>/dev/null | wc -l)
  summary+=("$(printf '%-14s %12s executions  %3s s  exit %s  %s finding(s) in fuzz/artifacts/%s' \
    "$target" "${runs:-?}" "$seconds" "$status" "$found" "$target")")
  [ "$status" -eq 0 ] || failed=1
  rm -rf "$scratch"
done
echo "== fuzzing summary (logs in target/fuzz/) =="
printf '%s\n' "${summary[@]}"
exit "$failed"
