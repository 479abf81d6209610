"""The Python face of the binding: arguments, errors, hosts, threads."""

import datetime
import json
import pathlib
import re
import subprocess
import sys
import threading

import pytest

import crm_rules
from conftest import NOW, ROOT, run_program

LEAD = {"id": "L-1", "email": "kim@contoso.example", "source": "web_form",
        "budget_status": "can_buy", "need": "must_have", "timeframe": "this_quarter"}


def test_a_record_that_fails_costs_that_record_only(strict):
    lines = strict.decide("qualify", [LEAD, {"id": "L-2", "budget_status": 7}, dict(LEAD, id="L-3")],
                          now=NOW)
    assert [line["position"] for line in lines] == [1, 2, 3]
    assert "decision" in lines[0] and "decision" in lines[2]
    assert "budget_status" in json.dumps(lines[1]["error"])
    assert "decision" not in lines[1]
    # The shortcut returns the same error line rather than raising.
    assert strict.qualify({"id": "L-2", "budget_status": 7}, now=NOW) == lines[1] | {"position": 1}


def test_iterables_of_dicts_read_as_json_lines(strict):
    text = "".join(json.dumps(dict(LEAD, id=f"L-{i}")) + "\n" for i in range(5))
    generated = (dict(LEAD, id=f"L-{i}") for i in range(5))
    assert strict.decide("qualify", generated, now=NOW) == strict.decide("qualify", text, now=NOW)
    assert strict.decide("qualify", LEAD, now=NOW) == strict.decide("qualify", [LEAD], now=NOW)


def test_now_takes_text_or_an_aware_datetime(strict):
    at = datetime.datetime(2026, 11, 25, 9, tzinfo=datetime.timezone.utc)
    assert strict.qualify(LEAD, now=at) == strict.qualify(LEAD, now=NOW)
    paris = datetime.timezone(datetime.timedelta(hours=1))
    assert strict.qualify(LEAD, now=at.astimezone(paris)) == strict.qualify(LEAD, now=NOW)
    # No `now`: decided at the current second, as the program does.
    assert "decision" in strict.qualify(LEAD)


def test_native_and_provenance_flags(strict):
    salesforce = (ROOT / "examples/native/salesforce-leads.json").read_bytes()
    lines = strict.decide("qualify", salesforce, now=NOW, emit="native", provenance=True)
    assert lines and all("actions" in line and "decision" not in line for line in lines)
    assert all(line["by"]["version"] == strict.info()["version"] for line in lines)


def test_transition_takes_its_target_stage(strict):
    opportunity = {"id": "O-1", "name": "Fleet", "stage": "Qualify",
                   "filled": ["parentcontactid", "parentaccountid", "budgetamount"]}
    line = strict.transition({"opportunity": opportunity, "to": "Develop"}, now=NOW)
    assert line["decision"]["allowed"] is True
    assert strict.transition(opportunity, to="Develop", now=NOW) == line
    assert "decision" in strict.forecast(dict(opportunity, amount={"amount": 1000.0, "currency": "EUR"}), now=NOW)


@pytest.mark.parametrize("call,error,named", [
    (lambda o: o.decide("qualifyy", b"{}"), ValueError, "kind"),
    (lambda o: o.decide("qualify", b"{}", emit="all"), ValueError, "emit"),
    (lambda o: o.decide("qualify", b"{}", now="tomorrow"), ValueError, "now"),
    (lambda o: o.decide("qualify", b"{}", now=42), TypeError, "now"),
    (lambda o: o.decide("qualify", b"{}", now=datetime.datetime(2026, 1, 1)), ValueError, "now"),
    (lambda o: o.decide("qualify", b"{}", jobs=0), ValueError, "jobs"),
    (lambda o: o.decide("qualify", b"{}", format="excel"), ValueError, "format"),
    (lambda o: o.decide("qualify", 42), TypeError, "data"),
    (lambda o: o.decide("qualify", [LEAD, {"at": datetime.date(2026, 1, 1)}]), TypeError, "data[1]"),
    (lambda o: o.decide("qualify", b"[{\"id\": "), ValueError, "data"),
    (lambda o: o.qualify([LEAD]), TypeError, "record"),
    (lambda o: o.qualify(json.dumps([LEAD, LEAD])), ValueError, "record"),
    (lambda o: o.qualify(LEAD, emit=3), TypeError, "emit"),
])
def test_bad_arguments_name_themselves(strict, call, error, named):
    with pytest.raises(error, match=re.escape(named)):
        call(strict)


def test_loading_failures_raise_load_error(tmp_path, host):
    with pytest.raises(crm_rules.LoadError, match="no-such-org"):
        crm_rules.Org(tmp_path / "no-such-org")
    (tmp_path / "org.json").write_text('{"org_id": "x", "policy": "policy.json", "modul": "reference"}')
    with pytest.raises(crm_rules.LoadError, match="modul"):
        host.org(tmp_path)
    with pytest.raises(TypeError, match="dir"):
        host.org(42)
    assert issubclass(crm_rules.LoadError, Exception)


def test_an_unapproved_module_is_refused_as_the_program_refuses_it(tmp_path, host):
    strict = ROOT / "examples/strict"
    org = json.loads((strict / "org.json").read_text())
    org["sha256"] = "0" * 64
    (tmp_path / "org.json").write_text(json.dumps(org))
    (tmp_path / "policy.json").write_bytes((strict / "policy.json").read_bytes())
    with pytest.raises(crm_rules.LoadError, match="SHA-256") as refused:
        host.org(tmp_path)
    # The program refuses it with the same message.
    result = run_program("--org-dir", str(tmp_path), "info")
    assert result.returncode != 0
    assert str(refused.value) in result.stderr.decode()


def test_a_host_shares_its_engine_between_orgs(host):
    strict, loose = host.org(ROOT / "examples/strict"), host.org(ROOT / "examples/loose")
    assert {"strict-co", loose.id} <= set(host.orgs())
    assert strict.info()["hash"] == loose.info()["hash"]
    assert strict.dir == ROOT / "examples/strict"
    assert "strict-co" in repr(strict)
    # Orgs made without a host share the process's.
    assert crm_rules.Org(ROOT / "examples/strict").qualify(LEAD, now=NOW) == strict.qualify(LEAD, now=NOW)


def test_batches_release_the_gil(strict):
    """While one thread decides a batch, another runs Python: with a long switch
    interval, the main thread can only run while the decider has let the GIL
    go (were it held, the main thread would first run after `done` is set)."""
    batch = "".join(json.dumps(dict(LEAD, id=f"L-{i}")) + "\n" for i in range(20000)).encode()
    started, done = threading.Event(), threading.Event()

    def decide():
        started.set()
        strict.decide("qualify", batch, now=NOW, jobs=1)
        done.set()

    interval = sys.getswitchinterval()
    sys.setswitchinterval(0.5)
    try:
        worker = threading.Thread(target=decide)
        worker.start()
        started.wait()
        ran = 0
        while not done.is_set():
            ran += 1
        worker.join()
    finally:
        sys.setswitchinterval(interval)
    assert ran > 0


def test_the_readme_example_runs(tmp_path):
    """The README's Python example, run as it is printed."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Use it from Python", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


def test_type_stubs_ship_with_the_package():
    import importlib.util
    spec = importlib.util.find_spec("crm_rules")
    folder = pathlib.Path(spec.origin).parent
    stubs = [folder / "__init__.pyi", folder / "crm_rules.pyi"]
    assert any(s.is_file() for s in stubs) and (folder / "py.typed").is_file()
