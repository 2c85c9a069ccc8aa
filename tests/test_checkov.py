"""checkov on each stack's render: no failed check beyond the documented skips."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, STACKS, program

import render  # isort: skip

CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
CONFIG = ROOT / ".checkov.yaml"


def run_checkov(path: Path) -> dict:
    assert CHECKOV.exists(), "checkov is missing: `make venv` installs it into .venv-checkov"
    result = subprocess.run(
        [str(CHECKOV), "--config-file", str(CONFIG), "-f", str(path), "-o", "json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = json.loads(result.stdout)
    return report[0] if isinstance(report, list) else report


@pytest.mark.parametrize("stack", STACKS)
def test_render_has_no_failed_checkov_check(stack: str, tmp_path: Path) -> None:
    render.write_render(program(stack), tmp_path)
    report = run_checkov(tmp_path / "kubernetes.yaml")
    failed = [f"{c['check_id']} {c['resource']}: {c['check_name']}" for c in report["results"]["failed_checks"]]
    assert failed == []
    assert report["summary"]["passed"] > 100, "checkov checked almost nothing"


def test_checkov_catches_a_regression(tmp_path: Path) -> None:
    render.write_render(program("local"), tmp_path)
    path = tmp_path / "kubernetes.yaml"
    text = path.read_text().replace("allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true")
    path.write_text(text)
    failed = {c["check_id"] for c in run_checkov(path)["results"]["failed_checks"]}
    assert "CKV_K8S_20" in failed


def test_every_skipped_check_has_a_reason() -> None:
    lines = CONFIG.read_text().splitlines()
    for index, line in enumerate(lines):
        if re.match(r"\s+- CKV_", line):
            previous = [p.strip() for p in lines[:index] if p.strip()]
            assert previous[-1].startswith("#") or re.match(r"- CKV_", previous[-1]), line
