"""The real program, run by the real Pulumi CLI and Kubernetes provider, against a real control plane.

What the mock engine cannot show: the CLI's own config rules, the provider's
diff (what it updates, what it replaces), the API server's validation and
Pod Security admission, the scheduler placing pods on the pools' nodes, the
Job controller running an Indexed Job, and `pulumi destroy`. kwok simulates
the nodes: pods become Running and Ready, a Job's pods complete, and no
container runs (tests/e2e runs what is in them, as local processes).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto
from pulumi_policy import EnforcementLevel

from tests.conftest import program
from tests.engine.conftest import Cluster, Deployed
from tests.policies.helpers import violations
from tools import harness

POOL_OF = {"scheduler": "system", "worker": "workers", "sweep": "workers"}
SWEEP = {"name": "sim", "script": "examples/sweeps/sim.R", "tasks": 4, "parallelism": 2}


def wait(condition: Any, timeout: float = 120, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what or condition}")


def _resources(deployed: Deployed) -> list[dict[str, Any]]:
    deployment = deployed.stack.export_stack().deployment or {}
    return list(deployment.get("resources") or [])


def objects(deployed: Deployed) -> list[tuple[str, str, str]]:
    """(type, logical name, Kubernetes name) of every Kubernetes object in the stack's state."""
    found = []
    for resource in _resources(deployed):
        kind = resource["type"]
        if kind.startswith("kubernetes:") and not kind.startswith("pulumi:providers"):
            name = (resource.get("outputs") or {}).get("metadata", {}).get("name")
            found.append((kind, resource["urn"].rsplit("::", 1)[-1], name))
    return found


def test_up_creates_every_object_the_render_promises_and_the_api_server_has_them(deploy: Any, state: Path) -> None:
    deployed = deploy("kwup")
    deployed.up()
    # No blob sidecar is rewritten under the stack's read of its own state (tools/stack.py file_backend).
    assert not list(state.rglob("*.attrs")), "the folder backend wrote sidecar files"
    declared = objects(deployed)
    rendered = program("kwok", namespace="kp-kwup", password={"secret": "placeholder-password"})
    assert {(kind, name) for kind, name, _ in declared} == {
        (r.type, r.name) for r in rendered.resources if r.type.startswith("kubernetes:")
    }
    for kind, _, name in declared:
        resource = kind.split(":")[2].lower()
        scope = [] if resource == "namespace" else ["-n", deployed.namespace]
        assert deployed.cluster.kubectl("get", resource, name, *scope, check=False).returncode == 0, (kind, name)


SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"


def _plain(value: Any) -> Any:
    """State inputs as the policy pack sees a resource: secrets masked, as they reach a rule at preview."""
    if isinstance(value, dict):
        if SECRET_SIG in value.values():
            return "[secret]"
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def test_the_policy_pack_passes_on_the_resources_the_real_engine_registered(deploy: Any) -> None:
    # The CLI built here cannot run Python policy packs (they need the Python
    # language host the module proxy does not serve): the pack's rules judge
    # the inputs the engine recorded instead.
    deployed = deploy("kwpolicy", sweeps=[SWEEP])
    deployed.up()
    capture = harness.Capture()
    for resource in _resources(deployed):
        if resource["type"].startswith("kubernetes:") and resource.get("custom"):
            inputs = _plain(resource.get("inputs") or {})
            capture.resources.append(
                harness.Recorded(
                    type=resource["type"],
                    name=resource["urn"].rsplit("::", 1)[-1],
                    urn=resource["urn"],
                    inputs=inputs,
                    secret_paths=[],
                    state=inputs,
                )
            )
    assert len(capture.resources) > 10
    assert violations(capture, EnforcementLevel.MANDATORY) == []


def test_pod_security_admits_every_pod_and_each_lands_on_its_pool(deploy: Any) -> None:
    # Three workers and two sweep pods: as many as config lets two e2-standard-4 worker nodes hold.
    deployed = deploy("kwpods", workers=3, sweeps=[SWEEP])
    deployed.up()
    admitted_on_pools(deployed, POOL_OF)


def admitted_on_pools(deployed: Deployed, pools: dict[str, str]) -> list[dict[str, Any]]:
    """Every pod of each component was admitted (no FailedCreate) and scheduled on its pool; the pods."""
    events = deployed.cluster.get("events", "-n", deployed.namespace)["items"]
    refused = [e["message"] for e in events if e.get("reason") == "FailedCreate"]
    assert refused == [], refused
    nodes = {n["metadata"]["name"]: n["metadata"]["labels"] for n in deployed.cluster.get("nodes")["items"]}
    found = []
    for component, pool in pools.items():
        pods = wait(lambda component=component: deployed.pods(component), what=f"{component} pods")
        for pod in pods:
            node = pod["spec"].get("nodeName")
            assert node, f"{pod['metadata']['name']} is not scheduled: {pod['status']}"
            assert nodes[node]["kubepar.dev/pool"] == pool, (pod["metadata"]["name"], node)
        found += pods
    return found


def test_pods_that_could_not_fit_the_pools_are_refused_by_config_before_anything_is_created(deploy: Any) -> None:
    deployed = deploy("kwfit", workers=6, sweeps=[SWEEP])
    with pytest.raises(auto.CommandError) as refused:
        deployed.stack.preview(color="never")
    assert "kubepar:workerPoolMaxNodes: 2 e2-standard-4 nodes cannot hold everything that runs at once" in str(
        refused.value
    )
    assert deployed.cluster.kubectl("get", "namespace", deployed.namespace, check=False).returncode != 0


def test_a_second_preview_reports_no_changes(deploy: Any) -> None:
    deployed = deploy("kwsame")
    deployed.up()
    try:
        deployed.stack.preview(expect_no_changes=True, diff=True, color="never")
    except auto.CommandError as changes:
        pytest.fail(f"the second preview plans changes:\n{str(changes)[-6000:]}")


def test_a_workers_change_updates_the_workers_and_settings_and_never_the_session_pod(deploy: Any) -> None:
    deployed = deploy("kwscale")
    deployed.up()
    session = wait(lambda: deployed.pods("scheduler"), what="the session pod")[0]["metadata"]["uid"]
    deployed.configure(workers=4)
    deployed.up()
    changed = deployed.changed()
    assert changed == {"worker-deployment": ["update"], "kubepar-files-settings": ["update"]}, changed
    assert [p["metadata"]["uid"] for p in deployed.pods("scheduler")] == [session]
    wait(lambda: len(deployed.pods("worker")) == 4, what="four workers")


def test_a_packages_change_restarts_the_session_and_says_so(deploy: Any) -> None:
    deployed = deploy("kwpkgs")
    deployed.up()
    session = wait(lambda: deployed.pods("scheduler"), what="the session pod")[0]["metadata"]["uid"]
    deployed.configure(packages=["data.table"])
    result = deployed.up()
    assert "kubepar:packages changed: the RStudio pod restarts" in result.stdout
    wait(
        lambda: [
            p
            for p in deployed.pods("scheduler")
            if p["metadata"]["uid"] != session and p["status"].get("phase") == "Running"
        ],
        what="a new session pod",
    )


def _jobs(deployed: Deployed) -> list[dict[str, Any]]:
    return list(deployed.cluster.get("jobs", "-n", deployed.namespace)["items"])


def test_a_sweep_completes_under_the_job_controller_and_a_parallelism_change_makes_a_new_job(deploy: Any) -> None:
    deployed = deploy("kwsweep", sweeps=[SWEEP])
    deployed.up()
    (first,) = wait(lambda: _jobs(deployed), what="the sweep's Job")
    complete = wait(
        lambda: [j for j in _jobs(deployed) if (j.get("status") or {}).get("succeeded") == SWEEP["tasks"]],
        timeout=180,
        what="the Job's four tasks",
    )
    assert complete[0]["metadata"]["name"] == first["metadata"]["name"]
    deployed.configure(sweeps=[{**SWEEP, "parallelism": 3}])
    deployed.up()
    changed = deployed.changed()
    # The provider replaces a Job whose parallelism changes: under a new name, created before the old one goes.
    assert changed["sweep-sim-job"] == ["create-replacement", "replace", "delete-replaced"], changed
    names = wait(
        lambda: (
            [j for j in _jobs(deployed) if j["metadata"]["name"] != first["metadata"]["name"]]
            and len(_jobs(deployed)) == 1
        ),
        timeout=120,
        what="the old Job to go",
    )
    assert names
    (second,) = _jobs(deployed)
    assert second["spec"]["parallelism"] == 3
    labels = "kubepar.dev/run"
    assert second["metadata"]["labels"][labels] == first["metadata"]["labels"][labels]
    env = {e["name"]: e.get("value") for e in second["spec"]["template"]["spec"]["containers"][0]["env"]}
    old = {e["name"]: e.get("value") for e in first["spec"]["template"]["spec"]["containers"][0]["env"]}
    # Same results folder: the new Job's tasks find what the old one saved (tests/e2e shows they skip it).
    assert env["KUBEPAR_RESULTS"] == old["KUBEPAR_RESULTS"]


def _run_files(deployed: Deployed) -> dict[str, dict[str, Any]]:
    """The sweep's ConfigMaps by run id."""
    found = deployed.cluster.get("configmaps", "-n", deployed.namespace, "-l", "kubepar.dev/sweep=sim")["items"]
    return {c["metadata"]["labels"]["kubepar.dev/run"]: c for c in found}


def test_a_run_never_sees_its_scripts_change_and_memory_keeps_the_run(deploy: Any) -> None:
    deployed = deploy("kwrun", sweeps=[SWEEP])
    deployed.up()
    ((run, files),) = _run_files(deployed).items()
    assert files["immutable"] is True
    # Raising memory (after out-of-memory kills) changes the Job, not the run or what it mounts.
    deployed.configure(sweeps=[{**SWEEP, "memory": "3Gi"}])
    deployed.up()
    assert list(_run_files(deployed)) == [run]
    assert not any(name.startswith("sweep-sim-files") for name in deployed.changed()), deployed.changed()
    # A changed script is a new run with a ConfigMap of its own, created first; the old one is
    # deleted with the old Job, never rewritten under it (the provider updates mutable ones in place).
    deployed.configure(sweeps=[{**SWEEP, "script": "examples/sweeps/sim.py"}])
    deployed.up()
    changed = deployed.changed()
    files_ops = {name: ops for name, ops in changed.items() if name.startswith("sweep-sim-files")}
    assert files_ops == {
        f"sweep-sim-files-{run}": ["delete"],
        **{name: ["create"] for name in files_ops if name != f"sweep-sim-files-{run}"},
    }, changed
    assert len(files_ops) == 2
    (new_run,) = _run_files(deployed)
    assert new_run != run


def test_destroy_removes_every_object(deploy: Any) -> None:
    deployed = deploy("kwgone")
    deployed.up()
    made = objects(deployed)
    deployed.stack.destroy(color="never")
    for kind, _, name in made:
        resource = kind.split(":")[2].lower()
        scope = [] if resource == "namespace" else ["-n", deployed.namespace]
        wait(
            lambda resource=resource, name=name, scope=scope: (
                deployed.cluster.kubectl("get", resource, name, *scope, check=False).returncode != 0
                or _terminating(deployed.cluster, resource, name, scope)
            ),
            what=f"{kind} {name} to go",
        )


def _terminating(cluster: Cluster, resource: str, name: str, scope: list[str]) -> bool:
    got = cluster.kubectl("get", resource, name, *scope, "-o", "json", check=False)
    return got.returncode == 0 and bool(json.loads(got.stdout)["metadata"].get("deletionTimestamp"))


def test_with_deletion_protection_destroy_stops_at_the_preview_naming_the_protected_resources(deploy: Any) -> None:
    deployed = deploy("kwkeep", deletionProtection=True)
    deployed.up()
    with pytest.raises(auto.CommandError) as refused:
        deployed.stack.destroy(color="never")
    assert "kubepar-home-claim" in str(refused.value)
    assert "protect" in str(refused.value)
    assert deployed.cluster.kubectl("get", "namespace", deployed.namespace, check=False).returncode == 0


def test_bad_config_stops_the_preview_with_kubepars_message_and_no_traceback(deploy: Any) -> None:
    deployed = deploy("kwbad", workers=-1, workerMemory="2GB")
    with pytest.raises(auto.CommandError) as refused:
        deployed.stack.preview(color="never")
    message = str(refused.value)
    assert "invalid stack configuration, nothing was created" in message
    assert "kubepar:workers: -1 is outside 0..120" in message
    assert "kubepar:workerMemory: '2GB' is not valid" in message
    assert "Traceback" not in message
    assert deployed.cluster.kubectl("get", "namespace", deployed.namespace, check=False).returncode != 0
