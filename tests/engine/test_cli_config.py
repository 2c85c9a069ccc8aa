"""The real Pulumi CLI's project-config rules, against the render's copy of them and every shipped stack.

The CLI validates a stack's config against Pulumi.yaml before the program
runs. Here it runs for every shipped stack (GKE stacks then stop where the
program needs the GCP provider, which cannot be built here: that is past the
config check), and its refusals are compared word for word with what the
render (tools/render.py) says for the same files.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi import automation as auto

from tests.conftest import ROOT, STACKS
from tests.engine.conftest import Cluster
from tools import harness
from tools import stack as engine_stack

CLI_CONFIG_ERRORS = ("is missing configuration value", "must be of type", "must be encrypted")


def preview(project: Path, state: Path, cluster: Cluster, name: str) -> str:
    """The CLI's preview of stack ``name`` of ``project``: its error text, or '' when it succeeded."""
    # Its own process: a GKE stack's program, abandoned by the CLI for want of the GCP provider, ends there.
    selected = engine_stack.Isolated(name, work_dir=project, state=state, kubeconfig=cluster.kubeconfig)
    try:
        selected.preview(color="never")
    except auto.CommandError as error:
        return str(error)
    return ""


def copy_project(tmp_path: Path, project: Path, stacks: dict[str, Any]) -> Path:
    folder = tmp_path / "project"
    shutil.copytree(project, folder, ignore=shutil.ignore_patterns("Pulumi.*.yaml"))
    for name, document in stacks.items():
        (folder / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    return folder


@pytest.mark.parametrize("name", STACKS)
def test_the_cli_accepts_every_shipped_stacks_config_and_runs_the_program(
    name: str, tmp_path: Path, project: Path, state: Path, cluster: Cluster
) -> None:
    shipped = yaml.safe_load((ROOT / f"Pulumi.{name}.yaml").read_text())
    # The cloud stacks keep their state in a bucket; this engine has a file backend only.
    shipped["config"].pop("kubepar:stateBackend", None)
    error = preview(copy_project(tmp_path, project, {name: shipped}), state, cluster, name)
    assert not any(text in error for text in CLI_CONFIG_ERRORS), error
    # Past the config check the program runs: it stops only at a provider this engine does not have
    # (GCP on GKE stacks; random, which generates a password none of these stacks sets).
    assert error == "" or "plugin" in error, error


@pytest.mark.parametrize(
    ("declared", "values"),
    [
        # Pulumi.yaml as it was: typed keys with no default are required.
        (
            {"workerPoolMaxNodes": {"type": "integer"}, "password": {"type": "string", "secret": True}},
            {"kubepar:platform": "existing"},
        ),
        ({}, {"kubepar:platform": "existing", "kubepar:workers": "many"}),
        ({}, {"kubepar:platform": "existing", "kubepar:spot": "yes"}),
        ({"token": {"type": "string", "secret": True, "default": ""}}, {"kubepar:platform": "existing"}),
    ],
)
def test_the_clis_refusal_is_the_renders_word_for_word(
    declared: dict[str, Any], values: dict[str, Any], tmp_path: Path, project: Path, state: Path, cluster: Cluster
) -> None:
    folder = copy_project(tmp_path, project, {"clicheck": {"config": values}})
    document = yaml.safe_load((folder / "Pulumi.yaml").read_text())
    document["config"].update(declared)
    (folder / "Pulumi.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    with pytest.raises(harness.CliConfigError) as expected:
        harness.apply_project_config(document, "clicheck", values)
    error = preview(folder, state, cluster, "clicheck")
    assert str(expected.value) in error, error


def test_a_stack_run_from_a_backend_it_does_not_name_is_refused_before_anything_is_created(
    tmp_path: Path, project: Path, state: Path, cluster: Cluster
) -> None:
    # A laptop's file backend and CI's bucket would be two deployments of one stack.
    values = {"kubepar:platform": "existing", "kubepar:stateBackend": "gs://team-state/kubepar"}
    folder = copy_project(tmp_path, project, {"elsewhere": {"config": values}})
    error = preview(folder, state, cluster, "elsewhere")
    assert "kubepar:stateBackend: this stack's state lives in gs://team-state/kubepar" in error, error
    assert f"this run keeps state in file://{state}" in error, error
    assert "kubernetes:" not in error
