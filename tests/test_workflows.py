"""CI workflows: valid against GitHub's schema, and pointing at real stacks and the pack."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def test_there_are_preview_and_deploy_workflows() -> None:
    assert {w.name for w in WORKFLOWS} == {"preview.yml", "deploy.yml"}


def test_workflows_validate_against_the_github_schema() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.github-workflows",
            *map(str, WORKFLOWS),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _pulumi_steps(path: Path) -> list[dict]:
    document = yaml.safe_load(path.read_text())
    return [
        step
        for job in document["jobs"].values()
        for step in job["steps"]
        if str(step.get("uses", "")).startswith("pulumi/actions@")
    ]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_stack_a_workflow_names_exists(path: Path) -> None:
    document = yaml.safe_load(path.read_text())
    named: set[str] = set()
    for job in document["jobs"].values():
        named.update((job.get("strategy") or {}).get("matrix", {}).get("stack", []))
    dispatch = (document.get(True) or document.get("on") or {}).get("workflow_dispatch") or {}
    named.update(((dispatch.get("inputs") or {}).get("stack") or {}).get("options", []))
    assert named, "the workflow names no stack"
    for stack in named:
        assert (ROOT / f"Pulumi.{stack}.yaml").exists(), stack


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_pulumi_runs_with_the_policy_pack(path: Path) -> None:
    steps = _pulumi_steps(path)
    assert steps
    for step in steps:
        pack = ROOT / step["with"]["policyPacks"]
        assert (pack / "PulumiPolicy.yaml").exists()
        assert (pack / "__main__.py").exists()
    # The pack imports components/ground: its venv must come from the Makefile, which puts the project on its path.
    document = yaml.safe_load(path.read_text())
    jobs = [job for job in document["jobs"].values() if any(s in job["steps"] for s in steps)]
    commands = "\n".join(str(step.get("run", "")) for job in jobs for step in job["steps"])
    assert "make policy-venv" in commands
    assert "python -m venv policies/venv" not in commands


def test_prod_updates_only_by_hand_behind_an_environment() -> None:
    document = yaml.safe_load((ROOT / ".github" / "workflows" / "deploy.yml").read_text())
    triggers = document.get(True) or document["on"]
    assert set(triggers) == {"push", "workflow_dispatch"}
    job = document["jobs"]["up"]
    assert "production" in job["environment"]
    # A push carries no inputs, so it can only ever update dev.
    assert "github.event.inputs.stack || 'dev'" in job["steps"][-1]["with"]["stack-name"]
