"""Moving files changes no URN: a stack deployed by kubepar before the move upgrades in place after it.

The stack is deployed by the project as it was at BEFORE_THE_MOVE (the
last commit before components/ was laid out in wings), run from a checkout
of that commit in its own process with its own tools/stack.py; then the
project as it is now previews the same stack: nothing is created, deleted
or replaced (every URN is the one in the state), and what changes in place
is the pod templates later releases gave more (each container's disk, each
role's decisions), nothing else.
"""

from __future__ import annotations

import io
import os
import secrets
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import yaml
from pulumi import automation as auto

from tests.conftest import ROOT
from tests.engine.conftest import Cluster
from tools import stack as engine_stack

BEFORE_THE_MOVE = "e644052ed4574bf7c0a3f9c71b1f4fec662b5d14"
NAME = "upgrade"


def _checkout(commit: str, folder: Path) -> Path:
    """The project's tree at ``commit``, from this clone's history (fetched from origin if the clone is shallow)."""

    def known() -> bool:
        found = subprocess.run(["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=ROOT, capture_output=True)
        return found.returncode == 0

    if not known():
        subprocess.run(["git", "fetch", "--quiet", "origin", commit], cwd=ROOT, capture_output=True, timeout=300)
    assert known(), (
        f"this clone has no history back to {commit[:12]} and origin did not provide it: "
        "clone without --depth (actions/checkout: fetch-depth: 0), or `git fetch --unshallow`"
    )
    archive = subprocess.run(["git", "archive", commit], cwd=ROOT, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def test_a_stack_deployed_before_the_move_previews_with_no_change_after_it(
    cluster: Cluster, project: Path, state: Path, tmp_path: Path
) -> None:
    old = _checkout(BEFORE_THE_MOVE, tmp_path / "before")
    # The old tools/stack.py finds the engine, the cluster and the state under its own tree.
    (old / "build" / "cluster").mkdir(parents=True)
    (old / "build" / "engine").symlink_to(ROOT / "build" / "engine")
    (old / "build" / "cluster" / "kubeconfig").symlink_to(cluster.kubeconfig)
    (old / ".pulumi-state").symlink_to(state)
    document = yaml.safe_load((ROOT / "Pulumi.kwok.yaml").read_text())
    document["config"]["kubepar:namespace"] = f"kp-{NAME}"
    (old / f"Pulumi.{NAME}.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    # The one secret, encrypted with the session's passphrase into the old tree's stack file.
    selected = engine_stack.Isolated(NAME, work_dir=old, state=state, kubeconfig=cluster.kubeconfig)
    selected.set_config("kubepar:password", auto.ConfigValue(value=secrets.token_urlsafe(18), secret=True))
    deployed = subprocess.run(
        [sys.executable, "tools/stack.py", "up", "--stack", NAME, "--yes"],
        cwd=old,
        env={**os.environ, "PYTHONPATH": ""},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-3000:]
    assert "created" in deployed.stdout
    try:
        # The same stack file, now read by the project as it is.
        shutil.copy(old / f"Pulumi.{NAME}.yaml", project / f"Pulumi.{NAME}.yaml")
        current = engine_stack.Isolated(NAME, work_dir=project, state=state, kubeconfig=cluster.kubeconfig)
        updated: list[str] = []

        def record(event: auto.EngineEvent) -> None:
            step = event.resource_pre_event
            if step is not None and step.metadata.op.value not in ("same", "read"):
                updated.append(f"{step.metadata.op.value} {step.metadata.type}")

        preview = current.preview(color="never", on_event=record)
        # `read` is the stack's reference to its own last outputs (components/config/previous.py).
        assert set(preview.change_summary) <= {"same", "read", "update"}, preview.change_summary
        assert sum(count for op, count in preview.change_summary.items() if op == "same") > 10
        # Pod templates only: the session's and the workers' Deployments.
        assert updated and set(updated) <= {"update kubernetes:apps/v1:Deployment"}, updated
    finally:
        engine_stack.Isolated(NAME, work_dir=project, state=state, kubeconfig=cluster.kubeconfig).destroy()
