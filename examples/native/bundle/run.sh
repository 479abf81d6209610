#!/usr/bin/env bash
# One lead qualified, then converted, by the strict org: the native requests of
# each decision grouped into the atomic sends of Salesforce and Dataverse
# (--emit native --bundle). Writes the *.out.json files beside this script.
set -euo pipefail
cd "$(dirname "$0")/../../.."
crm_rules=${CRM_RULES:-./target/release/crm-rules}
out=examples/native/bundle
for crm in salesforce dataverse; do
  "$crm_rules" --org-dir examples/strict --now 2026-11-25T09:00:00Z --pretty \
    qualify --emit native --bundle "$out/$crm-lead.json" >"$out/$crm-qualify.out.json"
  "$crm_rules" --org-dir examples/strict --now 2026-11-25T09:00:00Z --pretty \
    convert --emit native --bundle "$out/$crm-convert.json" >"$out/$crm-convert.out.json"
done
