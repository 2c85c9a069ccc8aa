"""kubepar:stateBackend: one stack name, one deployment; a run from another backend is refused first."""

from __future__ import annotations

from pathlib import Path

import pytest

from components import config
from tests.test_config import GKE_OK
from tools import harness


def _backend_problems(declared: str, in_use: str | None) -> list[str]:
    try:
        config.parse({**GKE_OK, "stateBackend": declared}, stack="t", gcp_project="kubepar-test", backend_in_use=in_use)
    except config.ConfigError as error:
        return [p for p in error.problems if p.startswith("kubepar:stateBackend:")]
    return []


@pytest.mark.parametrize(
    ("declared", "in_use"),
    [
        ("gs://team-state/kubepar", "gs://team-state/kubepar"),
        ("gs://team-state/kubepar", "gs://team-state/kubepar/"),
        ("gs://team-state/kubepar/", "gs://team-state/kubepar"),
        ("https://api.pulumi.com", "https://api.pulumi.com"),
        ("gs://team-state/kubepar", None),
        ("", "file:///home/me/kubepar/.pulumi-state"),
    ],
)
def test_a_run_from_the_stacks_own_backend_passes(declared: str, in_use: str | None) -> None:
    assert _backend_problems(declared, in_use) == []


@pytest.mark.parametrize(
    "in_use", ["file:///home/me/kubepar/.pulumi-state", "gs://team-state/other", "https://api.pulumi.com"]
)
def test_a_run_from_another_backend_is_refused_naming_both(in_use: str) -> None:
    (problem,) = _backend_problems("gs://team-state/kubepar", in_use)
    assert "lives in gs://team-state/kubepar" in problem and f"keeps state in {in_use}" in problem
    assert "PULUMI_BACKEND_URL=gs://team-state/kubepar" in problem
    assert "make up STACK=t uses gs://team-state/kubepar" in problem


@pytest.mark.parametrize("declared", ["team-state", "gs://", "gs://team state/x", "ftp://x/y", "/home/me/state"])
def test_a_state_backend_that_is_no_backend_url_is_refused(declared: str) -> None:
    (problem,) = _backend_problems(declared, None)
    assert "is not a Pulumi backend URL" in problem


def test_the_whole_program_refuses_another_backend_before_anything_is_created() -> None:
    monitor = harness.RecordingMonitor(harness.RecordingMocks())
    with pytest.raises(Exception, match="kubepar:stateBackend: this stack's state lives in gs://kubepar-dev-pulumi"):
        harness.run_program("dev", monitor=monitor, backend="file:///tmp/elsewhere")
    assert monitor.records == []
    # From its own backend it runs.
    assert harness.run_program("dev", backend="gs://kubepar-dev-pulumi-state/kubepar").outputs["cluster"]


def test_a_folder_backend_without_its_sidecar_files_off_is_refused_naming_the_fixed_url() -> None:
    # The blob library rewrites a sidecar in place; the stack's read of its own state can catch it empty.
    (problem,) = _backend_problems("file:///srv/state", None)
    assert "use file:///srv/state?metadata=skip" in problem
    assert _backend_problems("file:///srv/state?metadata=skip", "file:///srv/state?metadata=skip") == []


def test_every_folder_backend_kubepar_sets_writes_no_sidecar(tmp_path: Path) -> None:
    from tools import stack

    assert stack.engine_env(tmp_path)["PULUMI_BACKEND_URL"] == f"file://{tmp_path}?metadata=skip"
