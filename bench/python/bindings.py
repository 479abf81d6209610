"""The bindings' figures, side by side in one run (BENCHMARKS.md, "Bindings"):

- py_warm_qualify: `org.qualify(dict)` from Python, a dict in and a dict out,
  beside our Rust warm qualify (the library's typed call, as the bench's
  `warm_qualify`), `Org::decide` on one record's bytes, the C ABI
  (`crm_org_decide`), and zen-engine's own Python binding evaluating the bench's
  equivalent decision model (its answers checked against ours first);
- py_batch_qualify: `org.decide` on 100,000 JSON lines from Python, in records
  per second, beside the program (`crm-rules qualify FILE`) on the same file.

Run from the repository's root, in a virtual environment with the binding and
zen-engine installed (BENCHMARKS.md has the commands):

    python bench/python/bindings.py [--records N] [--rounds N] [--json PATH]
"""

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import tempfile
import time

import crm_rules
import zen

NOW = "2026-11-25T09:00:00Z"
ROOT = pathlib.Path(__file__).resolve().parents[2]


def lead(i: int) -> dict:
    """The bench's realistic lead (bench/src/data.rs `lead`): the contract's 15
    fields plus 15 custom fields, two of which the strict policy reads."""
    custom = {f"new_field_{f:02}": f"value of custom field {f} on lead {i}" for f in range(13)}
    custom["new_industry"] = "Government"
    custom["new_employees"] = 2500.0
    return {
        "id": f"L-{i:07}",
        "company": "Northwind Traders",
        "contact_name": "Robin Meyer",
        "email": "robin.meyer@northwind.example",
        "topic": "Fleet telematics for 400 vans",
        "source": ["web_form", "partner", "trade_show"][i % 3],
        "engagement": "conversation",
        "budget": {"amount": 120000.0, "currency": "EUR"},
        "budget_status": "can_buy" if i % 2 == 0 else "may_buy",
        "decision_maker_known": i % 5 != 0,
        "need": "must_have",
        "timeframe": "this_quarter",
        "estimated_value": {"amount": 90000.0, "currency": "EUR"},
        "estimated_close": "2027-03-31",
        "existing_customer": False,
        "custom": dict(sorted(custom.items())),
    }


def zen_input(l: dict) -> dict:
    """What zen's model reads of a lead (bench/src/zen.rs `lead`)."""
    keys = ["source", "engagement", "budget_status", "decision_maker_known", "need", "timeframe",
            "existing_customer"]
    return {**{k: l.get(k) for k in keys}, "new_industry": l["custom"].get("new_industry"),
            "new_employees": l["custom"].get("new_employees")}


def zen_qualification() -> str:
    """The strict policy's qualification as a JDM graph (bench/src/zen.rs
    `qualification`, the same expressions and tables)."""
    def points(field, table):
        return "".join(f'{field} == "{value}" ? {p} : ' for value, p in table) + "0"
    source = points("source", [("web_form", 30), ("phone_inquiry", 25), ("employee_referral", 25),
                               ("external_referral", 20), ("partner", 20), ("word_of_mouth", 15),
                               ("seminar", 15), ("advertisement", 10), ("public_relations", 10),
                               ("trade_show", 10), ("other", 5)])
    engagement = points("engagement", [("content", 5), ("inquiry", 10), ("conversation", 15),
                                       ("evaluation", 25), ("proposal", 30), ("contract", 35)])
    budget = points("budget_status", [("may_buy", 5), ("can_buy", 10), ("will_buy", 15)])
    need = points("need", [("must_have", 15), ("should_have", 10), ("good_to_have", 5)])
    timeframe = points("timeframe", [("immediate", 15), ("this_quarter", 12), ("next_quarter", 8),
                                     ("this_year", 4)])
    score = (f"min([100, ({source}) + ({engagement}) + ({budget}) + (decision_maker_known == true ? 10 : 0) "
             f"+ ({need}) + ({timeframe}) + (existing_customer == true ? 10 : 0) "
             f'+ (new_industry == "Government" ? 5 : 0) + (new_employees >= 1000 ? 5 : 0)])')
    known = ("budget_status != null and decision_maker_known == true and need != null "
             'and timeframe != null and timeframe != "unknown"')
    graph = {
        "nodes": [
            {"id": "in", "name": "lead", "type": "inputNode", "content": {}},
            {"id": "score", "name": "score", "type": "expressionNode", "content": {
                "passThrough": True,
                "expressions": [{"id": "x1", "key": "score", "value": score},
                                {"id": "x2", "key": "known", "value": known}]}},
            {"id": "outcome", "name": "outcome", "type": "decisionTableNode", "content": {
                "hitPolicy": "first", "passThrough": True,
                "inputs": [{"id": "n", "name": "Need", "field": "need"},
                           {"id": "k", "name": "Known", "field": "known"},
                           {"id": "s", "name": "Score", "field": "score"}],
                "outputs": [{"id": "o", "name": "Outcome", "field": "outcome"}],
                "rules": [
                    {"_id": "r1", "n": '"no_need"', "k": "", "s": "", "o": '"disqualified"'},
                    {"_id": "r2", "n": "", "k": "false", "s": "", "o": '"needs_information"'},
                    {"_id": "r3", "n": "", "k": "", "s": ">= 60", "o": '"qualified"'},
                    {"_id": "r4", "n": "", "k": "", "s": "", "o": '"nurture"'}]}},
            {"id": "rating", "name": "rating", "type": "decisionTableNode", "content": {
                "hitPolicy": "first", "passThrough": True,
                "inputs": [{"id": "s", "name": "Score", "field": "score"}],
                "outputs": [{"id": "r", "name": "Rating", "field": "rating"}],
                "rules": [{"_id": "h", "s": ">= 70", "r": '"hot"'},
                          {"_id": "w", "s": ">= 40", "r": '"warm"'},
                          {"_id": "c", "s": "", "r": '"cold"'}]}},
            {"id": "out", "name": "out", "type": "outputNode", "content": {}},
        ],
        "edges": [{"id": "e1", "sourceId": "in", "targetId": "score"},
                  {"id": "e2", "sourceId": "score", "targetId": "outcome"},
                  {"id": "e3", "sourceId": "outcome", "targetId": "rating"},
                  {"id": "e4", "sourceId": "rating", "targetId": "out"}],
    }
    return json.dumps(graph)


def per_call(rounds: int, items: int, work) -> float:
    """Median over `rounds` of µs per item."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1e6 / items)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--json", type=pathlib.Path)
    args = parser.parse_args()
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    program, warm = target / "release" / "crm-rules", target / "release" / "examples" / "warm"

    leads = [lead(i) for i in range(1000)]
    org = crm_rules.Org(ROOT / "examples/strict")
    engine = zen.ZenEngine()
    decision = engine.create_decision(zen_qualification())
    zen_leads = [zen_input(l) for l in leads]
    # Same work: zen's score, outcome and rating equal ours on every lead.
    for l, z in zip(leads, zen_leads):
        ours = org.qualify(l, now=NOW)["decision"]
        theirs = decision.evaluate(z)["result"]
        assert (theirs["score"], theirs["outcome"], theirs["rating"]) == \
            (ours["score"], ours["outcome"], ours["rating"]), (l["id"], ours, theirs)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        (tmp / "leads.jsonl").write_text("".join(json.dumps(l) + "\n" for l in leads))
        batch = tmp / "batch.jsonl"
        batch.write_text("".join(json.dumps(lead(i)) + "\n" for i in range(args.records)))
        data = batch.read_bytes()

        # Rounds alternate between contenders, so a slow phase of the machine
        # lands on all of them.
        rust, ours, theirs, py_batch, cli_batch = [], [], [], [], []
        for _ in range(3):
            out = subprocess.run([str(warm), str(tmp / "leads.jsonl"), str(args.rounds)], cwd=ROOT,
                                 check=True, capture_output=True, text=True).stdout
            rust.append(json.loads(out))
            ours.append(per_call(args.rounds, len(leads),
                                 lambda: [org.qualify(l, now=NOW) for l in leads]))
            theirs.append(per_call(args.rounds, len(leads),
                                   lambda: [decision.evaluate(z) for z in zen_leads]))
            start = time.perf_counter()
            lines = org.decide("qualify", data, now=NOW)
            py_batch.append(args.records / (time.perf_counter() - start))
            assert len(lines) == args.records and "decision" in lines[-1]
            start = time.perf_counter()
            subprocess.run([str(program), "--org-dir", "examples/strict", "--now", NOW, "qualify",
                            str(batch)], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
            cli_batch.append(args.records / (time.perf_counter() - start))

    median = statistics.median
    figures = [
        {"measure": "py_warm_qualify", "unit": "us", "ours": median(ours),
         "rust": median(r["warm_qualify"] for r in rust),
         "rust_org_decide": median(r["org_decide_one"] for r in rust),
         "zen": median(theirs)},
        {"measure": "c_warm_qualify", "unit": "us", "ours": median(r["c_warm_qualify"] for r in rust),
         "rust": median(r["warm_qualify"] for r in rust)},
        {"measure": "py_batch_qualify", "unit": "records/s", "ours": median(py_batch),
         "program": median(cli_batch), "records": args.records},
    ]
    for f in figures:
        print(json.dumps(f))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
