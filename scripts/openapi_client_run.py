"""Drives the service through a client generated from its OpenAPI document.

Usage: openapi_client_run.py BASE_URL ADMIN_KEY DATAVERSE_LEADS_JSON, with the
generated package (`crm_rules_client`) importable. Qualifies a batch of
canonical leads (asking for one JSON array) and one native Dataverse lead with
its native requests, and checks that the client parsed typed answers that
match the service's raw JSON.
"""

import datetime
import json
import sys

import httpx
from crm_rules_client import AuthenticatedClient
from crm_rules_client.api.decisions import module, qualify
from crm_rules_client.models import (
    ErrorBody,
    Lead,
    ModuleDoc,
    NativeRecord,
    QualifyEmit,
    QualifyLine,
)

base, key, dataverse_file = sys.argv[1:4]
now = datetime.datetime(2026, 11, 25, 9, 0, tzinfo=datetime.timezone.utc)
client = AuthenticatedClient(base_url=base, token=key, headers={"Accept": "application/json"})


def fail(message):
    print("FAILED:", message)
    sys.exit(1)


lead = {
    "id": "H-1",
    "company": "Kraus Medical",
    "contact_name": "Lena Kraus",
    "source": "web_form",
    "engagement": "contract",
    "budget_status": "will_buy",
    "decision_maker_known": True,
    "need": "must_have",
    "timeframe": "immediate",
}
leads = [Lead.from_dict(dict(lead, id=f"B-{i}")) for i in range(5)]
leads.append(Lead.from_dict({"id": "B-cold", "source": "purchased_list"}))
batch = qualify.sync_detailed("strict-co", client=client, body=leads, now=now)
if batch.status_code != 200:
    fail(f"the batch answered {batch.status_code}: {batch.content[:300]!r}")
lines = batch.parsed
if not isinstance(lines, list) or len(lines) != len(leads):
    fail(f"the batch parsed as {type(lines).__name__}: {batch.content[:300]!r}")
raw = json.loads(batch.content)
for line, raw_line, sent in zip(lines, raw, leads):
    if not isinstance(line, QualifyLine) or line.id != sent.id:
        fail(f"line {raw_line} parsed as {line!r}")
    if line.to_dict() != raw_line:
        fail(f"the typed line {line.to_dict()} is not the answer {raw_line}")
outcomes = sorted({line.decision.outcome.value for line in lines})
print(f"batch: {len(lines)} typed lines, outcomes {outcomes}, by {lines[0].by.version}")

page = json.load(open(dataverse_file))
record = NativeRecord.from_dict(page["value"][0])
native = qualify.sync_detailed(
    "strict-co", client=client, body=record, now=now, format_="dataverse", emit=QualifyEmit.BOTH
)
answer = native.parsed
if native.status_code != 200 or not isinstance(answer, QualifyLine):
    fail(f"the native record answered {native.status_code}: {native.content[:300]!r}")
if not answer.actions or answer.format_ != "dataverse":
    fail(f"no native requests: {native.content[:300]!r}")
methods = [action.method for action in answer.actions]
print(f"native: {answer.decision.outcome.value}, {len(answer.actions)} requests {methods}")

refused = qualify.sync_detailed("strict-co", client=client, body=Lead.from_dict({"id": ""}), now=now)
if refused.status_code < 400 or not isinstance(refused.parsed, ErrorBody):
    fail(f"a refused record answered {refused.status_code}: {refused.content[:300]!r}")
print(f"refused: {refused.status_code} {refused.parsed.error.code}")

active = module.sync("strict-co", client=client)
if not isinstance(active, ModuleDoc) or active.contract.value != "crm:rules@0.2.0":
    fail(f"the module parsed as {active!r}")
print(f"module: {active.info.name} {active.version}, contract {active.contract.value}")
