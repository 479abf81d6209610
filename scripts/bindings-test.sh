#!/usr/bin/env bash
# Builds the Python and C bindings and runs their tests, from the repository's
# root, sharing the one cargo target folder (target/): .ci/run calls it after
# the workspace's tests, so the library is already compiled.
#
# - Python: a virtual environment in target/venv with maturin and pytest (from
#   PyPI), `pip install ./bindings/python` as a user runs it, then pytest.
# - C: the library (libcrm_rules_c), the test program compiled with the system
#   compiler against the committed header, run plainly and then under valgrind
#   (installed with apt-get when missing): no leaks, no memory errors.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="$PWD/target"
now=2026-11-25T09:00:00Z
# The program and libcrm_rules_c: built already by the workspace's tests (the
# same command builds nothing new then; alone, it builds them).
cargo test --release -q --workspace --no-run 2>/dev/null || cargo test --release --workspace --no-run
# Tests build no cdylib: libcrm_rules_c comes from the workspace's build, whose
# features match the tests' (a `-p` build would compile wasmtime again).
cargo build --release -q --workspace
bin=target/release/crm-rules

echo "== bindings: python =="
venv=target/venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q --upgrade pip
"$venv/bin/pip" install -q "maturin>=1.9,<2" pytest
# As a user installs it; the build uses this environment's maturin rather than
# downloading one into an isolated environment each run.
PATH="$PWD/$venv/bin:$PATH" "$venv/bin/pip" install -q --force-reinstall --no-build-isolation ./bindings/python
CRM_RULES_BIN="$PWD/$bin" "$venv/bin/python" -m pytest -q bindings/python/tests

echo "== bindings: c =="
out=target/c-test
mkdir -p "$out"
# The committed header is what cbindgen makes of the crate today
# (CRM_RULES_BLESS=1 rewrites it). cbindgen is built into target/tools, away
# from the workspace, so it changes no feature of the workspace's builds.
cbindgen=target/tools/bin/cbindgen
if ! "$cbindgen" --version 2>/dev/null | grep -q "0.29.4"; then
  cargo install -q cbindgen --version 0.29.4 --locked --root target/tools --target-dir target/tools-build
fi
"$cbindgen" -q --config bindings/c/cbindgen.toml --crate crm-rules-c --output "$out/crm_rules.h" bindings/c
if [ -n "${CRM_RULES_BLESS:-}" ]; then
  cp "$out/crm_rules.h" bindings/c/crm_rules.h
fi
diff -u bindings/c/crm_rules.h "$out/crm_rules.h" || {
  echo "bindings/c/crm_rules.h is not what cbindgen generates: CRM_RULES_BLESS=1 scripts/bindings-test.sh"
  exit 1
}
"$bin" --org-dir examples/strict --now "$now" qualify --emit both examples/leads.jsonl >"$out/leads.expected" || true
"$bin" --org-dir examples/strict --now "$now" qualify --emit both examples/native/salesforce-leads.json >"$out/salesforce.expected" || true
gcc -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -I bindings/c \
  bindings/c/tests/c/crm_rules_test.c -o "$out/crm_rules_test" \
  -L target/release -lcrm_rules_c -Wl,-rpath,"$PWD/target/release" -lpthread
# A cache folder of the test's own: the plain run compiles the module into it,
# the run under valgrind loads it from there (compiling under valgrind is slow).
export CRM_RULES_TEST_SETTINGS="{\"cache_dir\": \"$PWD/$out/cache\", \"cache_key\": \"$PWD/$out/cache.key\"}"
"$out/crm_rules_test" "$out/leads.expected" "$out/salesforce.expected"
if ! command -v valgrind >/dev/null; then
  apt-get update -qq && apt-get install -y -qq valgrind >/dev/null
fi
valgrind -q --error-exitcode=99 --suppressions=bindings/c/tests/c/valgrind.supp --leak-check=full --errors-for-leak-kinds=definite,indirect \
  --show-leak-kinds=definite,indirect "$out/crm_rules_test" "$out/leads.expected" "$out/salesforce.expected"
echo "bindings: python and C tests passed"
