"""An interrupted `up`, on the local control plane: the CLI killed while it creates the stack.

The whole process group of `up` (the program, the Pulumi CLI, the Kubernetes
provider) is killed with SIGKILL once the state shows creates in flight, as a
closed laptop would stop it. Then: what the next `make up` says, `make
recover` (tools/recover.py), `make up`, and `make destroy`, with the real CLI
and provider.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest
from pulumi import automation as auto

from tests.conftest import ROOT
from tests.engine.conftest import Deployed, record
from tests.engine.test_kwok import objects, wait
from tools import recover

# What a namespace of the stack holds that Kubernetes makes itself.
OWN_OBJECTS = {("ConfigMap", "kube-root-ca.crt"), ("ServiceAccount", "default")}
KINDS = ",".join(
    (
        "deployments,services,persistentvolumeclaims,configmaps,secrets,serviceaccounts",
        "poddisruptionbudgets,networkpolicies,roles,rolebindings,jobs",
    )
)


def _checkpoint(deployed: Deployed) -> dict[str, Any]:
    """The stack's checkpoint as the file backend last wrote it (atomically: a rename)."""
    path = deployed.stack.state / ".pulumi" / "stacks" / "kubepar" / f"{deployed.name}.json"
    try:
        return dict(json.loads(path.read_text()).get("checkpoint", {}).get("latest") or {})
    except (OSError, ValueError):
        return {}


def interrupt_up(deployed: Deployed) -> int:
    """Start `up` in a process group of its own; SIGKILL the group while creates are in flight.

    Returns how many creates the state holds as pending."""
    stack = deployed.stack
    code = (
        "import sys; from pathlib import Path; from tools import stack as s\n"
        f"s.Isolated({stack.name!r}, work_dir=Path({str(stack.work_dir)!r}), state=Path({str(stack.state)!r}), "
        f"kubeconfig=Path({str(stack.kubeconfig)!r})).up(color='never')\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # Several objects made and creates still pending: well inside the run.
        wait(
            lambda: (
                len(_checkpoint(deployed).get("resources") or []) >= 8
                and recover.pending_creates(_checkpoint(deployed))
            ),
            timeout=180,
            what="the up to be creating the stack",
        )
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    return len(recover.pending_creates(_checkpoint(deployed)))


def in_namespace(deployed: Deployed) -> set[tuple[str, str]]:
    """(kind, name) of every object in the stack's namespace that Kubernetes did not make itself."""
    listed = deployed.cluster.get(KINDS, "-n", deployed.namespace)["items"]
    found = {(item["kind"], item["metadata"]["name"]) for item in listed}
    return found - OWN_OBJECTS


def test_an_interrupted_up_is_recovered_with_make_recover_then_up_and_destroy_remove_everything(deploy: Any) -> None:
    deployed = deploy("kwcut")
    pending = interrupt_up(deployed)
    assert pending > 0, "the up was killed between creates: nothing to recover"
    # The next `make up` is refused: the dead run's lock.
    with pytest.raises(auto.CommandError) as refused:
        deployed.up()
    assert "locked" in str(refused.value) or "ConcurrentUpdateError" in str(refused.value), str(refused.value)[-2000:]

    started = time.monotonic()
    report = recover.recover(deployed.stack.local, lambda *args: deployed.cluster.kubectl(*args, check=False))
    assert not report.elsewhere and not report.kept, report
    assert len(report.deleted) + len(report.absent) == pending, report
    assert not recover.pending_creates(deployed.stack.export_stack().deployment or {})

    deployed.up()
    # Nothing leaked, nothing twice: the namespace holds exactly what the state records.
    recorded = {
        (kind.split(":")[-1], name) for kind, _, name in objects(deployed) if kind != "kubernetes:core/v1:Namespace"
    }
    assert in_namespace(deployed) == recorded
    # The next preview, reading the cluster, plans nothing.
    deployed.stack.preview(expect_no_changes=True, refresh=True, color="never")
    record("interrupted up", time.monotonic() - started)

    deployed.stack.destroy()
    gone = deployed.cluster.kubectl("get", "namespace", deployed.namespace, check=False)
    assert (
        gone.returncode != 0
        or json.loads(deployed.cluster.kubectl("get", "namespace", deployed.namespace, "-o", "json").stdout)[
            "status"
        ].get("phase")
        == "Terminating"
    )
