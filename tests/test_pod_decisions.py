"""Every pod template of every shipped stack and engine variant: its disk, probes and disruption are decided.

Walks the rendered objects (Deployments and Jobs of the program, and the
users' pods the hub's settings describe) and fails when a container, init
containers included, requests no ephemeral storage or requests other than
it limits, when a pod's containers ask less than its emptyDir volumes may
hold, when a liveness check is the readiness check or trips within minutes,
or when a role carries no recorded reason for its liveness check or its
disruption decision.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.engines.model import (
    PACKAGES_SIZE,
    Disruption,
    PodRole,
    Probe,
    Security,
    Storage,
    container_disks,
    scratch_volumes,
)
from components.ground.disk import LOG_BYTES
from components.ground.quantities import memory_bytes
from components.k8s.pods import DISRUPTION_ANNOTATION, LIVENESS_ANNOTATION, SAFE_TO_EVICT
from tests.conftest import OWN_RANGE, STACKS, program

SPARK = json.dumps({"workers": 2})
DOOR = {"allowedSourceRanges": json.dumps([OWN_RANGE]), "domain": "lab.example.org", "dnsZone": "lab-zone"}
R_SWEEP = json.dumps([{"name": "sim", "script": "examples/sweeps/sim.R", "tasks": 10, "disk": "5Gi"}])
PY_SWEEP = json.dumps([{"name": "py", "script": "examples/sweeps/sim.py", "tasks": 4}])
# Each engine's variants beside the shipped stacks: the queue backend, Spark on both engines, the
# HTTPS front, and sweeps of both languages with and without packages to install.
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    **{stack: (stack, {}) for stack in STACKS},
    "r-queue": ("dev", {"rBackend": "redis"}),
    "r-spark": ("dev", {"engine": "r", "spark": SPARK}),
    "dask-spark": ("dask-dev", {"engine": "dask", "spark": SPARK}),
    "r-door": ("dev", DOOR),
    "dask-door": ("dask-dev", DOOR),
    "local-sweeps": ("local", {"sweeps": R_SWEEP}),
    "dask-sweeps": ("dask-dev", {"sweeps": PY_SWEEP, "packages": json.dumps(["xarray==2025.1.2"])}),
}
# Five minutes of failed checks before a restart: a long computation or a pause cannot add up to it.
MIN_LIVENESS_SECONDS = 300


def _disk(resources: dict[str, Any]) -> tuple[int, int] | None:
    """(request, limit) of ephemeral storage, in bytes, or None when either is missing."""
    request = resources.get("requests", {}).get("ephemeral-storage")
    limit = resources.get("limits", {}).get("ephemeral-storage")
    if request is None or limit is None:
        return None
    return memory_bytes(request), memory_bytes(limit)


def _scratch(spec: dict[str, Any]) -> dict[str, int]:
    return {
        volume["name"]: memory_bytes(volume["emptyDir"]["sizeLimit"])
        for volume in spec.get("volumes", [])
        if "emptyDir" in volume
    }


def template_problems(template: dict[str, Any]) -> list[str]:
    """What the pod template ``template`` (API spelling) leaves undecided, one line each."""
    problems = []
    spec, annotations = template["spec"], template["metadata"].get("annotations") or {}
    scratch = _scratch(spec)
    main_disk = 0
    for container in [*spec.get("initContainers", []), *spec["containers"]]:
        name = container["name"]
        disk = _disk(container.get("resources", {}))
        if disk is None:
            problems.append(f"{name}: no ephemeral-storage request and limit")
            continue
        if disk[0] != disk[1] or disk[0] <= 0:
            problems.append(f"{name}: ephemeral-storage request {disk[0]} is not its limit {disk[1]}")
        writes = sum(
            scratch.get(mount["name"], 0) for mount in container.get("volumeMounts", []) if not mount.get("readOnly")
        )
        if disk[1] < writes + LOG_BYTES:
            problems.append(f"{name}: asks {disk[1]} bytes of disk, under the {writes} its volumes may hold")
        if container in spec["containers"]:
            main_disk += disk[1]
    if main_disk < sum(scratch.values()):
        # The kubelet counts every emptyDir against the pod's containers' limits together.
        problems.append(f"the containers ask {main_disk} bytes, under the {sum(scratch.values())} of emptyDirs")
    for container in spec["containers"]:
        live, ready = container.get("livenessProbe"), container.get("readinessProbe")
        if live is not None:
            if live == ready:
                problems.append(f"{container['name']}: its liveness check is its readiness check")
            if live.get("periodSeconds", 10) * live.get("failureThreshold", 3) < MIN_LIVENESS_SECONDS:
                problems.append(f"{container['name']}: liveness restarts within {MIN_LIVENESS_SECONDS} s of failures")
    if not annotations.get(LIVENESS_ANNOTATION):
        problems.append(f"no {LIVENESS_ANNOTATION}: why liveness is on or off is not recorded")
    if not annotations.get(DISRUPTION_ANNOTATION):
        problems.append(f"no {DISRUPTION_ANNOTATION}: the disruption decision is not recorded")
    if annotations.get(SAFE_TO_EVICT) not in ("true", "false"):
        problems.append(f"no {SAFE_TO_EVICT}: the autoscaler's decision is left to its default")
    if annotations.get("gke-gcsfuse/volumes") == "true":
        sidecar = (
            annotations.get("gke-gcsfuse/ephemeral-storage-request"),
            annotations.get("gke-gcsfuse/ephemeral-storage-limit"),
        )
        if sidecar[0] is None or sidecar[0] != sidecar[1]:
            problems.append(f"the storage sidecar's disk request {sidecar[0]} is not its limit {sidecar[1]}")
    return problems


def session_problems(override: dict[str, Any]) -> list[str]:
    """What one hub profile's session pod (KubeSpawner's settings for it) leaves undecided."""
    guarantee = override["extra_resource_guarantees"].get("ephemeral-storage")
    limit = override["extra_resource_limits"].get("ephemeral-storage")
    main = {
        "name": "notebook",
        "resources": {"requests": {"ephemeral-storage": guarantee}, "limits": {"ephemeral-storage": limit}},
        "volumeMounts": override["volume_mounts"],
        # KubeSpawner gives its container no probe: the hub watches the server.
    }
    template = {
        "metadata": {"annotations": override["extra_annotations"]},
        "spec": {
            "initContainers": override["init_containers"],
            "containers": [main, *override["extra_containers"]],
            "volumes": override["volumes"],
        },
    }
    if guarantee is None or limit is None:
        return ["the session's container: no ephemeral-storage guarantee and limit"]
    return template_problems(template)


def pod_templates(variant: str) -> dict[str, dict[str, Any]]:
    """Every pod template the variant renders or the hub would start, by where it comes from."""
    stack, overrides = VARIANTS[variant]
    capture = program(stack, **overrides)
    found = {}
    for kind in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        for document in capture.kubernetes(kind):
            found[f"{kind} {document['metadata']['name']}"] = document["spec"]["template"]
    for config_map in capture.kubernetes("ConfigMap"):
        hub = json.loads((config_map.get("data") or {}).get("hub.json", "null") or "null")
        for profile in (hub or {}).get("profiles", []):
            for document in profile["objects"]:
                if document["kind"] == "Deployment":
                    found[f"profile {profile['slug']} {document['metadata']['name']}"] = document["spec"]["template"]
            found[f"profile {profile['slug']} session"] = {"session": profile["override"]}
    return found


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_pod_template_decides_its_disk_probes_and_disruption(variant: str) -> None:
    templates = pod_templates(variant)
    assert templates, variant
    problems = {
        where: session_problems(template["session"]) if "session" in template else template_problems(template)
        for where, template in templates.items()
    }
    assert {where: found for where, found in problems.items() if found} == {}


def test_the_hub_stacks_pod_templates_include_every_profiles_session_and_workers() -> None:
    # The walk reaches the users' pods: both profile kinds, with their workers.
    hub = pod_templates("hub")
    sessions = [where for where in hub if where.endswith(" session")]
    workers = [where for where in hub if where.startswith("profile ") and not where.endswith(" session")]
    assert len(sessions) >= 2 and workers


# The walk itself must fail on what it is there to catch.
GOOD = {
    "metadata": {"annotations": {LIVENESS_ANNOTATION: "why", DISRUPTION_ANNOTATION: "why", SAFE_TO_EVICT: "false"}},
    "spec": {
        "containers": [
            {
                "name": "main",
                "resources": {"requests": {"ephemeral-storage": "2112Mi"}, "limits": {"ephemeral-storage": "2112Mi"}},
                "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                "readinessProbe": {"tcpSocket": {"port": 80}, "periodSeconds": 10},
                "livenessProbe": {"tcpSocket": {"port": 80}, "periodSeconds": 30, "failureThreshold": 10},
            }
        ],
        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "2Gi"}}],
    },
}


def _changed(path: list[Any], value: Any) -> dict[str, Any]:
    template = json.loads(json.dumps(GOOD))
    target = template
    for step in path[:-1]:
        target = target[step]
    if value is None:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return template


def test_the_walk_passes_a_decided_template() -> None:
    assert template_problems(GOOD) == []


@pytest.mark.parametrize(
    ("path", "value", "words"),
    [
        (["spec", "containers", 0, "resources"], {}, "no ephemeral-storage"),
        (["spec", "containers", 0, "resources", "limits", "ephemeral-storage"], "4Gi", "is not its limit"),
        (["spec", "volumes", 0, "emptyDir", "sizeLimit"], "8Gi", "under the"),
        (
            ["spec", "containers", 0, "livenessProbe"],
            {"tcpSocket": {"port": 80}, "periodSeconds": 10},
            "is its readiness check",
        ),
        (["spec", "containers", 0, "livenessProbe", "failureThreshold"], 3, "restarts within"),
        (["metadata", "annotations", LIVENESS_ANNOTATION], None, "why liveness"),
        (["metadata", "annotations", DISRUPTION_ANNOTATION], None, "disruption decision"),
        (["metadata", "annotations", SAFE_TO_EVICT], None, "autoscaler"),
    ],
)
def test_the_walk_names_what_a_template_leaves_undecided(path: list[Any], value: Any, words: str) -> None:
    problems = template_problems(_changed(path, value))
    assert any(words in problem for problem in problems), problems


def test_a_role_states_why_it_has_no_probe_and_what_its_writable_root_may_write() -> None:
    disruption = Disruption(why="holds nothing")
    with pytest.raises(ValueError, match="no probe, and no reason"):
        PodRole(component="x", image="i", cpu="1", memory="1Gi", disruption=disruption)
    with pytest.raises(ValueError, match="writable root needs its disk"):
        PodRole(
            component="x",
            image="i",
            cpu="1",
            memory="1Gi",
            probe=Probe(port=80, liveness=False, why="w"),
            security=Security(read_only_root=False),
            disruption=disruption,
        )


def test_a_containers_disk_is_its_logs_its_writable_layer_and_every_volume_it_fills() -> None:
    role = PodRole(
        component="x",
        image="i",
        cpu="1",
        memory="1Gi",
        unprobed="no port",
        storage=Storage(tmp_size="3Gi"),
        disruption=Disruption(why="w"),
    )
    assert scratch_volumes(role) == {"tmp": "3Gi"}
    assert container_disks(role) == {"main": LOG_BYTES + 3 * 1024**3}
    assert memory_bytes(PACKAGES_SIZE) == 4 * 1024**3
