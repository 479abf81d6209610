#!/usr/bin/env bash
# Renders the HTML reports of the two history examples and has headless Chromium
# take a screenshot of each, to look at what a person sees. Needs Debian's
# `chromium` (apt-get install -y chromium).
# Usage: scripts/report-screenshot.sh [OUT_DIR] (default target/reports)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/reports}
mkdir -p "$out"
bin=target/release/crm-rules
[ -x "$bin" ] || cargo build --release --bin crm-rules
X=examples/x-education; O=examples/sales-opportunities
"$bin" --org-dir $X backtest $X/data/lead-scoring.csv --html "$out/x-education-backtest.html" >/dev/null
"$bin" --org-dir $X calibrate $X/data/lead-scoring.csv --out "$out/x-education-policy.json" \
  --html "$out/x-education-calibrated.html" >/dev/null
"$bin" --org-dir $O backtest $O/data/sales_pipeline.csv --html "$out/opportunities-backtest.html" >/dev/null
"$bin" --org-dir $O calibrate $O/data/sales_pipeline.csv --out "$out/opportunities-policy.json" \
  --html "$out/opportunities-calibrated.html" >/dev/null
for page in "$out"/*.html; do
  profile=$(mktemp -d)
  chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --user-data-dir="$profile" \
    --window-size=1200,1900 --screenshot="${page%.html}.png" "file://$(realpath "$page")" 2>/dev/null
  rm -rf "$profile"
  echo "${page%.html}.png"
done
