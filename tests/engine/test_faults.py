"""Faults under the real controllers, on the local control plane: a drain, and a worker node lost.

The eviction API (what `kubectl drain`, a node upgrade and the cluster
autoscaler call for each pod) against the session's PodDisruptionBudget, and
a worker node deleted as Spot loss removes it: the real kube-apiserver, pod
garbage collector and Deployment controller decide, with the stack `pulumi up`
created.
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


def test_a_worker_node_lost_brings_its_workers_back_and_leaves_the_session(deploy: Any) -> None:
    # Spot loss removes the node: the garbage collector deletes its pods, the Deployment replaces them.
    deployed = deploy("kwnode")
    deployed.up()
    session = wait(lambda: deployed.pods("scheduler"), what="the session pod")[0]
    workers = wait(lambda: [p for p in deployed.pods("worker") if p["spec"].get("nodeName")], what="placed workers")
    lost = workers[0]["spec"]["nodeName"]
    gone = {p["metadata"]["uid"] for p in workers if p["spec"]["nodeName"] == lost}
    node = deployed.cluster.get("node", lost)
    deployed.cluster.kubectl("delete", "node", lost)
    try:
        replaced = wait(
            lambda: (
                len(current := deployed.pods("worker")) == len(workers)
                and not gone & {p["metadata"]["uid"] for p in current}
            ),
            timeout=240,
            what="the lost node's workers to be replaced",
        )
        assert replaced
        # On the nodes that are left, or Pending for a new one: never on the lost node.
        assert all(p["spec"].get("nodeName") != lost for p in deployed.pods("worker"))
        assert [p["metadata"]["uid"] for p in deployed.pods("scheduler")] == [session["metadata"]["uid"]]
        try:
            deployed.stack.preview(expect_no_changes=True, diff=True, color="never")
        except auto.CommandError as changes:
            raise AssertionError(f"the preview after the node loss plans changes:\n{str(changes)[-4000:]}") from changes
    finally:
        # The node comes back (a new Spot VM under the same name), for the tests that share this cluster.
        fresh = {key: node[key] for key in ("apiVersion", "kind", "spec", "status")}
        fresh["metadata"] = {key: node["metadata"][key] for key in ("name", "labels", "annotations")}
        deployed.cluster.kubectl("create", "-f", "-", input=json.dumps(fresh))
