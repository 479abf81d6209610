"""The binding answers what the program answers, line for line, on every
committed example input: the fixtures of every example org, the example leads,
the native CRM files and the Salesforce sample data."""

import json
import pathlib

import pytest

import crm_rules
from conftest import NOW, ROOT, run_program

ORGS = ["strict", "loose", "acme", "acme-0.1"]


def cases():
    """(org, kind, input file, extra flags) for every committed input."""
    for org in ORGS:
        for fixture in sorted((ROOT / "examples" / org / "fixtures").glob("*.json")):
            kind = json.loads(fixture.read_text())["decision"]
            if kind != "stages":
                yield pytest.param(org, kind, fixture, {}, id=f"{org}/{fixture.name}")
    for org in ["strict", "loose"]:
        for emit in ["decision", "both"]:
            yield pytest.param(org, "qualify", ROOT / "examples/leads.jsonl", {"emit": emit},
                               id=f"{org}/leads.jsonl/{emit}")
    for native in sorted((ROOT / "examples/native").glob("*.json")):
        yield pytest.param("strict", "qualify", native, {"emit": "both"}, id=f"native/{native.name}")
    bundle = ROOT / "examples/native/bundle"
    for crm in ["salesforce", "dataverse"]:
        for kind in ["qualify", "convert"]:
            name = "lead" if kind == "qualify" else "convert"
            yield pytest.param("strict", kind, bundle / f"{crm}-{name}.json",
                               {"emit": "native", "bundle": True}, id=f"bundle/{crm}-{kind}")
    samples = ROOT / "examples/loose/samples"
    for sample, kind in [("minlopro-Leads.json", "qualify"), ("minlopro-Opportunities.json", "forecast"),
                         ("lwc-recipes-Opportunities.json", "forecast")]:
        yield pytest.param("loose", kind, samples / sample, {"emit": "both"}, id=f"samples/{sample}")


def program_lines(org, kind, path: pathlib.Path, now, flags):
    args = ["--org-dir", f"examples/{org}", "--now", now, kind]
    if flags.get("emit"):
        args += ["--emit", flags["emit"]]
    if flags.get("bundle"):
        args += ["--bundle"]
    if path.parent.name == "fixtures":
        # A fixture holds its input under "input": the program reads it from stdin.
        stdin = json.dumps(json.loads(path.read_text())["input"]).encode()
        result = run_program(*args, "-", stdin=stdin)
    else:
        stdin = path.read_bytes()
        result = run_program(*args, str(path.relative_to(ROOT)))
    assert result.returncode in (0, 1), result.stderr.decode()
    return stdin, [json.loads(line) for line in result.stdout.decode().splitlines()]


@pytest.mark.parametrize("org,kind,path,flags", list(cases()))
def test_lines_equal_the_program(host, org, kind, path, flags):
    now = NOW
    if path.parent.name == "fixtures":
        now = json.loads(path.read_text()).get("now", NOW)
    data, want = program_lines(org, kind, path, now, flags)
    assert want, "the program wrote nothing"
    got = host.org(ROOT / "examples" / org).decide(kind, data, now=now, jobs=2, **flags)
    assert got == want


@pytest.mark.parametrize("org", ORGS)
def test_info_and_stages_equal_the_program(host, org):
    loaded = host.org(ROOT / "examples" / org)
    for command, got in [("info", loaded.info()), ("stages", loaded.stages())]:
        result = run_program("--org-dir", f"examples/{org}", command)
        assert result.returncode == 0, result.stderr.decode()
        want = json.loads(result.stdout)
        if command == "info":
            # Where the compiled module came from depends on the process: the
            # program's loaded it from the cache, a host with other orgs may
            # share the one it compiled already.
            assert got.pop("origin") in ("cache", "compiled", "shared")
            want.pop("origin")
        assert got == want


def test_the_shortcut_equals_decide(strict):
    lead = {"id": "L-1", "company": "Northwind", "email": "robin@northwind.example",
            "source": "web_form", "budget_status": "can_buy", "need": "must_have"}
    line = strict.decide("qualify", [lead], now=NOW)[0]
    assert strict.qualify(lead, now=NOW) == line
    assert strict.qualify(json.dumps(lead), now=NOW) == line
    assert strict.qualify(json.dumps(lead).encode(), now=NOW) == line
    assert line["decision"]["outcome"] in ("qualified", "needs_information", "nurture", "disqualified")
