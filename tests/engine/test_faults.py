"""Faults under the real controllers, on the local control plane: what a drain really does.

The eviction API (what `kubectl drain`, a node upgrade and the cluster
autoscaler call for each pod) against the session's PodDisruptionBudget: the
real kube-apiserver decides, with the stack `pulumi up` created, and the
Deployment controller replaces what a drain moves.
"""

from __future__ import annotations

import json
from typing import Any

from pulumi import automation as auto

from tests.engine.conftest import Deployed
from tests.engine.test_kwok import wait


def evict(deployed: Deployed, pod: dict[str, Any]) -> tuple[int, str]:
    """POST the pod's eviction, as a drain does: (exit code, what the API server answered)."""
    name = pod["metadata"]["name"]
    body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": deployed.namespace}}
    path = f"/api/v1/namespaces/{deployed.namespace}/pods/{name}/eviction"
    done = deployed.cluster.kubectl("create", "--raw", path, "-f", "-", check=False, input=json.dumps(body))
    return done.returncode, done.stdout + done.stderr


def test_a_drain_waits_for_the_session_and_moves_a_worker(deploy: Any) -> None:
    deployed = deploy("kwfault")
    deployed.up()
    session = wait(lambda: deployed.pods("scheduler"), what="the session pod")[0]
    # A drain of the session's node: the budget refuses the eviction, so the drain waits (429).
    code, answer = evict(deployed, session)
    assert code != 0 and "disruption budget" in answer, answer
    after = deployed.pods("scheduler")
    assert [p["metadata"]["uid"] for p in after] == [session["metadata"]["uid"]]
    assert not after[0]["metadata"].get("deletionTimestamp")
    # A worker holds no budget: a drain moves it (the eviction is accepted).
    worker = wait(lambda: deployed.pods("worker"), what="a worker pod")[0]
    code, answer = evict(deployed, worker)
    assert code == 0, answer
    wait(
        lambda: [p for p in deployed.pods("worker") if p["metadata"]["uid"] != worker["metadata"]["uid"]],
        what="the worker's replacement",
    )
    # Nothing in the stack changed: the controllers put back what it declared.
    try:
        deployed.stack.preview(expect_no_changes=True, diff=True, color="never")
    except auto.CommandError as changes:
        raise AssertionError(f"the preview after the drain plans changes:\n{str(changes)[-4000:]}") from changes
