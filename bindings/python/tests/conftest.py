"""What every test shares: the repository's root, the program to compare with,
and one org per example folder, loaded once."""

import os
import pathlib
import subprocess

import pytest

import crm_rules

ROOT = pathlib.Path(__file__).resolve().parents[3]
NOW = "2026-11-25T09:00:00Z"


def program() -> pathlib.Path:
    """The `crm-rules` program built from this checkout (or CRM_RULES_BIN)."""
    path = pathlib.Path(os.environ.get("CRM_RULES_BIN", ROOT / "target" / "release" / "crm-rules"))
    if not path.is_file():
        pytest.fail(f"the program {path} is not built: cargo build --release -p crm-rules-cli")
    return path


def run_program(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess:
    """Runs the program from the repository's root."""
    return subprocess.run(
        [str(program()), *args], cwd=ROOT, input=stdin, capture_output=True, check=False
    )


@pytest.fixture(scope="session")
def host() -> crm_rules.Host:
    return crm_rules.Host()


@pytest.fixture(scope="session")
def strict(host) -> crm_rules.Org:
    return host.org(ROOT / "examples" / "strict")
