"""Faults under the real controllers, on the local control plane, with one stack `pulumi up` created.

What a cloud's own disruptions do, arriving the way they arrive: the eviction
API (what `kubectl drain`, a node upgrade and the cluster autoscaler call for
each pod), a pod deleted (the queue server restarted), and nodes deleted (Spot
capacity reclaimed). The real kube-apiserver, pod garbage collector, Job,
Deployment and ReplicaSet controllers and scheduler decide what follows.

The stack runs the R engine with the Redis queue and two sweeps whose names
start with "held": the local control plane keeps their tasks running until a
test says how each ended (engine/kwok-stages.yaml), as a script would.
The tests share the stack and run in this file's order (the last deletes
the worker nodes and brings them back); each reads the state it needs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto

from tests.engine.conftest import Cluster, Deployed, new_stack, record, remove
from tests.engine.test_kwok import wait
from tools import kwok_cluster

SPOT: dict[str, Any] = {"name": "held-spot", "script": "examples/sweeps/sim.R", "tasks": 2, "parallelism": 1}
FAILING = {"name": "held-fail", "script": "examples/sweeps/sim.R", "tasks": 3, "parallelism": 2}
FAILING_LIMITS = {"retries": 1, "maxFailed": 1}
NODE_LOST = {"name": "held-node", "script": "examples/sweeps/sim.R", "tasks": 1, "parallelism": 1}
POOL_LABEL = "kubepar.dev/pool"
INDEX = "batch.kubernetes.io/job-completion-index"
FAILURES = "batch.kubernetes.io/job-index-failure-count"
EXIT_CODE = "kubepar.dev/exit-code"


@pytest.fixture(scope="module")
def faulted(cluster: Cluster, project: Path, state: Path) -> Iterator[Deployed]:
    # One worker and three sweeps: config counts whole nodes for each, so the pool grows to four
    # (as the autoscaler would grow it); the nodes go after, for the tests that share the cluster.
    extra = [kwok_cluster.node(f"kwok-workers-{i}", "workers", "e2-standard-4", spot=True) for i in (2, 3)]
    cluster.kubectl("create", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": extra}))
    sweeps = [SPOT, {**FAILING, **FAILING_LIMITS}, NODE_LOST]
    deployed = new_stack(
        cluster, project, state, "kwfault", rBackend="redis", workers=1, workerPoolMaxNodes=4, sweeps=sweeps
    )
    try:
        deployed.up()
        yield deployed
    finally:
        remove(deployed)
        cluster.kubectl("delete", "node", *(n["metadata"]["name"] for n in extra), check=False)


def evict(deployed: Deployed, pod: dict[str, Any]) -> tuple[int, str]:
    """POST the pod's eviction, as a drain does: (exit code, what the API server answered)."""
    name = pod["metadata"]["name"]
    body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": deployed.namespace}}
    path = f"/api/v1/namespaces/{deployed.namespace}/pods/{name}/eviction"
    done = deployed.cluster.kubectl("create", "--raw", path, "-f", "-", check=False, input=json.dumps(body))
    return done.returncode, done.stdout + done.stderr


def unchanged(deployed: Deployed, after: str) -> None:
    """The stack's next preview, reading the cluster first (`--refresh`), plans nothing."""
    try:
        deployed.stack.preview(expect_no_changes=True, refresh=True, diff=True, color="never")
    except auto.CommandError as changes:
        raise AssertionError(f"the preview after {after} plans changes:\n{str(changes)[-4000:]}") from changes


def tasks(deployed: Deployed, sweep: dict[str, Any], phase: str | None = "Running") -> list[dict[str, Any]]:
    """The sweep's task pods (in ``phase``; None: all), oldest first."""
    found = deployed.cluster.get("pods", "-n", deployed.namespace, "-l", f"kubepar.dev/sweep={sweep['name']}")
    pods = [p for p in found["items"] if phase is None or p["status"].get("phase") == phase]
    return sorted(pods, key=lambda p: p["metadata"]["creationTimestamp"])


def task(deployed: Deployed, sweep: dict[str, Any], index: int) -> dict[str, Any]:
    """The running pod of the sweep's task ``index``, once the Job controller has started it."""
    return wait(
        lambda: next((p for p in tasks(deployed, sweep) if p["metadata"]["labels"][INDEX] == str(index)), None),
        what=f"task {index} of {sweep['name']} running",
    )


def retry_of(deployed: Deployed, sweep: dict[str, Any], pod: dict[str, Any]) -> dict[str, Any]:
    """The pod the Job controller started again for the task ``pod`` ran (running)."""
    index, uid = pod["metadata"]["labels"][INDEX], pod["metadata"]["uid"]
    return wait(
        lambda: next(
            (
                p
                for p in tasks(deployed, sweep)
                if p["metadata"]["labels"][INDEX] == index and p["metadata"]["uid"] != uid
            ),
            None,
        ),
        what=f"task {index} of {sweep['name']} started again",
    )


def end(deployed: Deployed, pod: dict[str, Any], code: int) -> None:
    """The task's script ends with ``code`` (the local control plane's simulated kubelet reads the annotation)."""
    deployed.cluster.kubectl(
        "annotate", "pod", "-n", deployed.namespace, pod["metadata"]["name"], f"{EXIT_CODE}={code}"
    )


def job(deployed: Deployed, sweep: dict[str, Any]) -> dict[str, Any]:
    (found,) = deployed.cluster.get("jobs", "-n", deployed.namespace, "-l", f"kubepar.dev/sweep={sweep['name']}")[
        "items"
    ]
    return dict(found)


def condition(job_object: dict[str, Any], kind: str) -> dict[str, Any] | None:
    return next(
        (c for c in job_object["status"].get("conditions") or [] if c["type"] == kind and c["status"] == "True"), None
    )


def test_a_drain_waits_for_the_session_and_moves_a_worker(faulted: Deployed) -> None:
    session = wait(lambda: faulted.pods("scheduler"), what="the session pod")[0]
    # A drain of the session's node: the budget refuses the eviction, so the drain waits (429).
    code, answer = evict(faulted, session)
    assert code != 0 and "disruption budget" in answer, answer
    after = faulted.pods("scheduler")
    assert [p["metadata"]["uid"] for p in after] == [session["metadata"]["uid"]]
    assert not after[0]["metadata"].get("deletionTimestamp")
    # A worker holds no budget: a drain moves it (the eviction is accepted).
    worker = wait(lambda: faulted.pods("worker"), what="a worker pod")[0]
    started = time.monotonic()
    code, answer = evict(faulted, worker)
    assert code == 0, answer
    wait(
        lambda: [
            p
            for p in faulted.pods("worker")
            if p["metadata"]["uid"] != worker["metadata"]["uid"] and p["status"].get("phase") == "Running"
        ],
        what="the worker's replacement",
    )
    record("drain", time.monotonic() - started)
    unchanged(faulted, "the drain")


def test_an_evicted_task_runs_again_without_spending_a_retry_and_the_job_completes(faulted: Deployed) -> None:
    first = task(faulted, SPOT, 0)
    assert first["metadata"]["annotations"][FAILURES] == "0"
    started = time.monotonic()
    code, answer = evict(faulted, first)
    assert code == 0, answer
    # The eviction API marked it; the kubelet (kwok) ended it; the Job's pod failure policy ignores it.
    again = retry_of(faulted, SPOT, first)
    record("sweep task evicted", time.monotonic() - started)
    assert again["metadata"]["annotations"][FAILURES] == "0", "the eviction spent one of the task's retries"
    status = job(faulted, SPOT)["status"]
    assert not status.get("failed") and not status.get("failedIndexes"), status
    for index in range(SPOT["tasks"]):
        end(faulted, task(faulted, SPOT, index), 0)
    done = wait(lambda: condition(job(faulted, SPOT), "Complete"), what="the sweep's Job to complete")
    assert done["reason"] == "CompletionsReached", done
    status = job(faulted, SPOT)["status"]
    assert status["succeeded"] == SPOT["tasks"] and not status.get("failed"), status


def test_a_failing_task_spends_its_retries_and_past_max_failed_the_job_fails_saying_why(faulted: Deployed) -> None:
    # Task 0 fails, runs again (one retry spent), fails again: the index has failed; one is allowed.
    first = task(faulted, FAILING, 0)
    end(faulted, first, 1)
    retried = retry_of(faulted, FAILING, first)
    assert retried["metadata"]["annotations"][FAILURES] == "1"
    end(faulted, retried, 1)
    wait(lambda: job(faulted, FAILING)["status"].get("failedIndexes") == "0", what="index 0 to count as failed")
    assert condition(job(faulted, FAILING), "Failed") is None, "one failed index is within maxFailed"
    end(faulted, task(faulted, FAILING, 1), 0)
    # Task 2 fails past its retry: a second failed index, past maxFailed (1): the Job stops.
    last = task(faulted, FAILING, 2)
    end(faulted, last, 1)
    end(faulted, retry_of(faulted, FAILING, last), 1)
    failed = wait(lambda: condition(job(faulted, FAILING), "Failed"), what="the Job to fail")
    # Where docs/operations.md says to look: the Job's condition and its event.
    assert failed["reason"] == "MaxFailedIndexesExceeded", failed
    name = job(faulted, FAILING)["metadata"]["name"]
    described = faulted.cluster.kubectl("describe", "job", "-n", faulted.namespace, name).stdout
    assert "MaxFailedIndexesExceeded" in described, described
    status = job(faulted, FAILING)["status"]
    assert status["failedIndexes"] == "0,2" and status["succeeded"] == 1 and status["failed"] == 4, status


def test_the_queue_server_restarted_keeps_its_claim_and_password(faulted: Deployed) -> None:
    (server,) = wait(lambda: faulted.pods("queue"), what="the queue server")
    started = time.monotonic()
    faulted.cluster.kubectl("delete", "pod", "-n", faulted.namespace, server["metadata"]["name"], "--wait=false")
    (restarted,) = wait(
        lambda: [
            p
            for p in faulted.pods("queue")
            if p["metadata"]["uid"] != server["metadata"]["uid"] and p["status"].get("phase") == "Running"
        ],
        what="the queue server back",
    )
    record("queue server restarted", time.monotonic() - started)
    # The same claim (its append-only file) and the same Secret (its password): tests/e2e restarts the
    # server process on them and finds every queued task.
    assert _claims_and_secrets(restarted) == _claims_and_secrets(server)
    assert any(kind == "claim" for kind, _ in _claims_and_secrets(server))
    assert any(kind == "secret" for kind, _ in _claims_and_secrets(server))
    unchanged(faulted, "the queue server's restart")


def _claims_and_secrets(pod: dict[str, Any]) -> set[tuple[str, str]]:
    mounted = set()
    for volume in pod["spec"]["volumes"]:
        if "persistentVolumeClaim" in volume:
            mounted.add(("claim", volume["persistentVolumeClaim"]["claimName"]))
        if "secret" in volume:
            mounted.add(("secret", volume["secret"]["secretName"]))
    return mounted


def test_the_worker_pool_lost_brings_workers_and_tasks_back_and_leaves_the_session(faulted: Deployed) -> None:
    # Spot capacity reclaimed: every worker node deleted. The pod garbage collector marks their
    # pods (DisruptionTarget) and deletes them; the Deployment and the Job make new ones, which
    # wait Pending until nodes come back.
    session = wait(lambda: faulted.pods("scheduler"), what="the session pod")[0]
    workers = wait(lambda: [p for p in faulted.pods("worker") if p["spec"].get("nodeName")], what="placed workers")
    lost_task = task(faulted, NODE_LOST, 0)
    nodes = [n for n in faulted.cluster.get("nodes")["items"] if n["metadata"]["labels"].get(POOL_LABEL) == "workers"]
    assert nodes, "the cluster has no worker nodes"
    started = time.monotonic()
    for node in nodes:
        faulted.cluster.kubectl("delete", "node", node["metadata"]["name"])
    try:
        gone = {p["metadata"]["uid"] for p in [*workers, lost_task]}
        replaced = wait(
            lambda: (
                len(current := [*faulted.pods("worker"), *tasks(faulted, NODE_LOST, phase=None)]) == len(workers) + 1
                and not gone & {p["metadata"]["uid"] for p in current}
                and current
            ),
            timeout=240,
            what="the lost workers and task made again",
        )
        # Pending for new nodes: nothing else may run them.
        assert all(p["status"].get("phase") == "Pending" and not p["spec"].get("nodeName") for p in replaced)
        assert [p["metadata"]["uid"] for p in faulted.pods("scheduler")] == [session["metadata"]["uid"]]
        (again,) = tasks(faulted, NODE_LOST, phase="Pending")
        assert again["metadata"]["annotations"][FAILURES] == "0", "the node's loss spent one of the task's retries"
        unchanged(faulted, "the loss of the worker pool")
    finally:
        # New Spot VMs under the same names.
        for node in nodes:
            fresh = {key: node[key] for key in ("apiVersion", "kind", "spec", "status")}
            fresh["metadata"] = {key: node["metadata"][key] for key in ("name", "labels", "annotations")}
            faulted.cluster.kubectl("create", "-f", "-", input=json.dumps(fresh))
    wait(
        lambda: all(p["status"].get("phase") == "Running" for p in faulted.pods("worker")),
        timeout=180,
        what="the workers running on the new nodes",
    )
    back = task(faulted, NODE_LOST, 0)
    record("worker pool lost (Spot)", time.monotonic() - started)
    end(faulted, back, 0)
    wait(lambda: condition(job(faulted, NODE_LOST), "Complete"), what="the sweep's Job to complete")
    assert not job(faulted, NODE_LOST)["status"].get("failed")
