#!/usr/bin/env bash
# Measures the figures of docs/backtesting.md on the committed examples: backtest and
# calibrate of X Education and CRM Sales Opportunities (with the time each takes), the
# X Education scorecard with and without the lead-activity snapshots, at two point scales,
# and the spread of both over 20 seeds of the split. Needs python3 to read the JSON.
# Usage: scripts/backtest-figures.sh [path/to/crm-rules]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/crm-rules}
[ -x "$bin" ] || cargo build --release --bin crm-rules
X=examples/x-education; O=examples/sales-opportunities
xd=$X/data/lead-scoring.csv; od=$O/data/sales_pipeline.csv
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT

echo "== backtest, the org's own (hand-written) policies"
"$bin" --org-dir $X backtest $xd --json 2>"$out/e" >"$out/bx.json"; tail -n 1 "$out/e"
"$bin" --org-dir $O backtest $od --json 2>"$out/e" >"$out/bo.json"; tail -n 1 "$out/e"
echo "== calibrate"
"$bin" --org-dir $X calibrate $xd --out "$out/px.json" --json 2>"$out/e" >"$out/cx.json"; head -n 1 "$out/e"
"$bin" --org-dir $X calibrate $xd --mapping $X/mapping-pre-contact.json --out "$out/pp.json" --json 2>/dev/null >"$out/cp.json"
"$bin" --org-dir $X calibrate $xd --points-per-doubling 10 --points-step 1 --out "$out/p1.json" --json 2>/dev/null >"$out/c1.json"
"$bin" --org-dir $O calibrate $od --out "$out/po.json" --json 2>"$out/e" >"$out/co.json"; head -n 1 "$out/e"
echo "== 20 seeds of the X Education split"
for s in $(seq 0 19); do
  "$bin" --org-dir $X calibrate $xd --seed "$s" --out "$out/s.json" --json 2>/dev/null >"$out/seed-a-$s.json"
  "$bin" --org-dir $X calibrate $xd --seed "$s" --points-per-doubling 10 --points-step 1 --out "$out/s.json" --json 2>/dev/null >"$out/seed-b-$s.json"
  "$bin" --org-dir $X calibrate $xd --seed "$s" --mapping $X/mapping-pre-contact.json --out "$out/s.json" --json 2>/dev/null >"$out/seed-c-$s.json"
done
python3 - "$out" <<'PY'
import json, os, statistics as st, sys
d = sys.argv[1]
J = lambda n: json.load(open(os.path.join(d, n)))
bx, bo = J("bx.json"), J("bo.json")
print(f"X Education backtest, hand-written policy, whole file: AUC {bx['auc']:.4f}, monotone by decile {bx['monotone_by_decile']}")
print(f"Opportunities backtest, hand-written policy, closed deals: Brier {bo['brier']:.4f}; base rate {bo['baselines']['base_rate']['brier']:.4f}; Salesforce {bo['baselines']['salesforce_default']['brier']:.4f}")
for name, f in [("committed mapping (activity snapshots; 8 points per doubling, multiples of 5)", "cx.json"),
                ("activity snapshots, default scale (10 points per doubling, whole points)", "c1.json"),
                ("without the snapshots (mapping-pre-contact.json, default scale)", "cp.json")]:
    c = J(f); v = c["validation"]; n = c["detail"]["new"]
    print(f"X Education calibrate {name}: validation AUC new {v['new']['auc']:.4f} (LR {v['logistic_regression']['auc']:.4f}, old {v['old']['auc']:.4f}); "
          f"precision {v['new']['precision']:.3f} recall {v['new']['recall']:.3f} F1 {v['new']['f1']:.3f}; monotone by decile {n['monotone_by_decile']}; "
          f"rules {len(c['fit']['scorecard']['custom_rules'])}, qualify_at {c['fit']['qualify_at']}, hot {c['fit']['hot']}")
    print("   validation deciles:", " ".join(f"{x['conversion']*100:.1f}%" for x in n["deciles"]))
co = J("co.json"); v = co["validation"]
print("Opportunities calibrate, newer 30% by close date: " + ", ".join(f"{k} Brier {e['brier']:.4f}" for k, e in v.items() if "brier" in e))
print("   stage probabilities:", co["fit"]["stage_probabilities"], "notes:", co["fit"]["notes"])
for tag, name in [("a", "committed mapping (PDO 8, step 5)"), ("b", "snapshots, PDO 10, step 1"), ("c", "pre-contact only, PDO 10, step 1")]:
    runs = [J(f"seed-{tag}-{s}.json") for s in range(20)]
    aucs = [r["validation"]["new"]["auc"] for r in runs]
    mono = sum(r["detail"]["new"]["monotone_by_decile"] for r in runs)
    print(f"20 seeds, {name}: AUC {st.mean(aucs):.4f} ± {st.pstdev(aucs):.4f} (min {min(aucs):.4f}, max {max(aucs):.4f}); monotone deciles {mono}/20")
PY
