"""CI workflows: valid against GitHub's schema, pointing at real stacks and the pack, and working on their first run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
# The workflows that run Pulumi against a stack (test.yml is the suite they share).
STACK_WORKFLOWS = [w for w in WORKFLOWS if w.name != "test.yml"]


def _load(name: str) -> dict:
    return dict(yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text()))


def test_there_are_preview_deploy_and_test_workflows() -> None:
    assert {w.name for w in WORKFLOWS} == {"preview.yml", "deploy.yml", "test.yml"}


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
        for step in job.get("steps", [])
        if str(step.get("uses", "")).startswith("pulumi/actions@")
    ]


@pytest.mark.parametrize("path", STACK_WORKFLOWS, ids=lambda p: p.name)
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


@pytest.mark.parametrize("path", STACK_WORKFLOWS, ids=lambda p: p.name)
def test_pulumi_runs_with_the_policy_pack(path: Path) -> None:
    steps = _pulumi_steps(path)
    assert steps
    for step in steps:
        pack = ROOT / step["with"]["policyPacks"]
        assert (pack / "PulumiPolicy.yaml").exists()
        assert (pack / "__main__.py").exists()
    # The pack imports components/ground: its venv must come from the Makefile, which puts the project on its path.
    document = yaml.safe_load(path.read_text())
    jobs = [job for job in document["jobs"].values() if any(s in job.get("steps", []) for s in steps)]
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


@pytest.mark.parametrize("path", STACK_WORKFLOWS, ids=lambda p: p.name)
def test_nothing_is_previewed_or_deployed_before_the_tests_pass(path: Path) -> None:
    jobs = yaml.safe_load(path.read_text())["jobs"]
    assert jobs["test"] == {"uses": "./.github/workflows/test.yml"}
    for name, job in jobs.items():
        if _pulumi_steps_of(job):
            assert job.get("needs") == "test", name


def _pulumi_steps_of(job: dict) -> list[dict]:
    return [step for step in job.get("steps", []) if str(step.get("uses", "")).startswith("pulumi/actions@")]


def test_the_suite_runs_as_the_runners_user_with_the_engines_go_and_a_cached_engine() -> None:
    steps = _load("test.yml")["jobs"]["test"]["steps"]
    runs = [step["run"] for step in steps if "run" in step]
    # sudo would swap PATH for its secure_path and lose setup-go's Go: .ci/run calls sudo for apt alone.
    assert runs == ["bash .ci/run"]
    assert not any("sudo" in str(step.get("run", "")) for path in WORKFLOWS for step in _all_steps(path))
    go = next(step for step in steps if str(step.get("uses", "")).startswith("actions/setup-go@"))
    assert go["with"]["go-version-file"] == "engine/pulumi/go.mod"
    assert go["id"] == "go"
    cache = next(step for step in steps if str(step.get("uses", "")).startswith("actions/cache@"))
    # engine/build.sh's default cache folder, keyed by what its digests hash: Go, the wrapper modules.
    assert cache["with"]["path"] == "~/.cache/kubepar-engine"
    key = cache["with"]["key"]
    assert "steps.go.outputs.go-version" in key
    assert "hashFiles('engine/*/go.mod', 'engine/*/go.sum', 'engine/*/*.go')" in key
    # The cache is restored before .ci/run builds the engine.
    assert steps.index(cache) < next(i for i, step in enumerate(steps) if step.get("run") == "bash .ci/run")


def test_the_newest_go_line_of_the_wrappers_is_the_one_setup_go_reads() -> None:
    versions = [
        line.split()[1]
        for go_mod in (ROOT / "engine").glob("*/go.mod")
        for line in go_mod.read_text().splitlines()
        if line.startswith("go ")
    ]
    newest = max(versions, key=lambda v: tuple(int(part) for part in v.split(".")))
    assert f"go {newest}" in (ROOT / "engine" / "pulumi" / "go.mod").read_text().splitlines()


def _all_steps(path: Path) -> list[dict]:
    return [step for job in yaml.safe_load(path.read_text())["jobs"].values() for step in job.get("steps", [])]


@pytest.mark.parametrize("path", STACK_WORKFLOWS, ids=lambda p: p.name)
def test_each_stack_runs_in_the_backend_its_stack_file_names_and_is_created_on_first_use(path: Path) -> None:
    for job in yaml.safe_load(path.read_text())["jobs"].values():
        steps = job.get("steps", [])
        for step in _pulumi_steps_of(job):
            backend = next(s for s in steps if s.get("id") == "backend")
            assert "make --no-print-directory backend" in backend["run"] and "CI_BACKEND=required" in backend["run"]
            assert steps.index(backend) < steps.index(step)
            assert step["with"]["cloud-url"] == "${{ steps.backend.outputs.url }}"
            assert step["env"]["PULUMI_BACKEND_URL"] == "${{ steps.backend.outputs.url }}"
            # No committed salt: the first run creates the stack, later checkouts find its secrets manager in state.
            assert step["with"]["upsert"] is True
            assert step["with"]["secrets-provider"] == "passphrase"
            assert step["env"]["PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER"] == "true"


@pytest.mark.parametrize("stack", ["dev", "prod", "dask-dev"])
def test_every_stack_ci_runs_names_its_backend(stack: str) -> None:
    document = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    assert str(document["config"]["kubepar:stateBackend"]).startswith("gs://")
