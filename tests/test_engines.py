"""Engines: what each role runs, and what the R and Dask engines share."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components import engines
from components.config import parse
from components.engines.model import Edge
from tests.conftest import OWN_RANGE, only, program


def container(stack: str, component: str, **overrides: object) -> dict[str, Any]:
    documents = program(stack, **overrides).kubernetes("Deployment")
    document = only([d for d in documents if d["metadata"]["labels"]["app.kubernetes.io/component"] == component])
    return only(document["spec"]["template"]["spec"]["containers"])


def pod_spec(stack: str, component: str, **overrides: object) -> dict[str, Any]:
    documents = program(stack, **overrides).kubernetes("Deployment")
    document = only([d for d in documents if d["metadata"]["labels"]["app.kubernetes.io/component"] == component])
    return dict(document["spec"]["template"]["spec"])


def env(spec: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in spec["env"]}


def test_r_worker_runs_the_dial_loop_from_the_scripts_config_map() -> None:
    worker = container("local", "worker", rVersion="4.4.2")
    assert worker["image"] == "rocker/r-ver:4.4.2"
    assert worker["command"] == ["sh", "/etc/kubepar/scripts/kubepar-worker.sh"]
    variables = env(worker)
    assert variables["KUBEPAR_SCHEDULER_HOST"] == "kubepar-scheduler.kubepar.svc.cluster.local"
    assert variables["KUBEPAR_SCHEDULER_PORT"] == "11562"
    assert variables["KUBEPAR_SETUP_TIMEOUT"] == "5"


def test_rstudio_sessions_load_kubepar_r_and_read_the_live_worker_count() -> None:
    scheduler = container("local", "scheduler", rVersion="4.4.2")
    assert scheduler["image"] == "rocker/rstudio:4.4.2"
    variables = env(scheduler)
    mounts = {m["mountPath"]: m for m in scheduler["volumeMounts"]}
    assert variables["R_PROFILE_USER"].rsplit("/", 1)[0] in mounts
    assert variables["KUBEPAR_WORKERS_FILE"].rsplit("/", 1)[0] in mounts
    # No subPath: a subPath mount would never see the new count.
    assert all("subPath" not in m for m in scheduler["volumeMounts"])


def test_dask_roles_run_one_pinned_version() -> None:
    images = {
        component: container("dask-dev", component, daskVersion="2025.11.0")["image"]
        for component in ("notebook", "scheduler", "worker")
    }
    assert images == {
        "notebook": "ghcr.io/dask/dask-notebook:2025.11.0-py3.11",
        "scheduler": "ghcr.io/dask/dask:2025.11.0-py3.11",
        "worker": "ghcr.io/dask/dask:2025.11.0-py3.11",
    }


def test_dask_worker_threads_and_memory_come_from_its_limits() -> None:
    worker = container("dask-dev", "worker", workerCpu="3", workerMemory="6Gi")
    command = worker["command"]
    assert command[:3] == ["dask", "worker", "tcp://kubepar-scheduler.kubepar.svc.cluster.local:8786"]
    assert command[command.index("--nthreads") + 1] == "3"
    assert command[command.index("--memory-limit") + 1] == str(6 * 1024**3)
    # Its disk: logs (64Mi) and the /tmp it spills to, twice its memory (12Gi); no packages.
    assert worker["resources"]["limits"] == {"cpu": "3", "memory": "6Gi", "ephemeral-storage": f"{64 + 12 * 1024}Mi"}


def test_fractional_worker_cpu_gives_one_dask_thread() -> None:
    worker = container("dask-dev", "worker", workerCpu="500m")
    assert worker["command"][worker["command"].index("--nthreads") + 1] == "1"


def test_notebook_finds_the_scheduler_without_arguments() -> None:
    notebook = container("dask-dev", "notebook")
    assert env(notebook)["DASK_SCHEDULER_ADDRESS"] == "tcp://kubepar-scheduler.kubepar.svc.cluster.local:8786"
    assert notebook["readinessProbe"]["tcpSocket"] == {"port": 8888}


def test_dask_scheduler_and_workers_are_probed_on_health() -> None:
    assert container("dask-dev", "scheduler")["readinessProbe"]["httpGet"] == {"path": "/health", "port": 8787}
    assert container("dask-dev", "worker")["readinessProbe"]["httpGet"] == {"path": "/health", "port": 8789}


@pytest.mark.parametrize("component", ["scheduler", "worker"])
def test_no_liveness_probe_can_kill_a_busy_dask_process(component: str) -> None:
    """A blocked event loop misses checks; readiness only takes it out of the Service."""
    probed = container("dask-dev", component)
    assert "livenessProbe" not in probed
    assert "readinessProbe" in probed
    assert "startupProbe" in probed


def test_rstudio_keeps_its_liveness_probe() -> None:
    # rserver answers while an R session computes: it runs the session in another process.
    assert container("dev", "scheduler")["livenessProbe"]["tcpSocket"] == {"port": 8787}


def test_dask_worker_retires_within_the_spot_notice() -> None:
    worker = container("dask-dev", "worker")
    deployment_spec = pod_spec("dask-dev", "worker")
    retire_budget = float(next(e["value"] for e in worker["env"] if e["name"] == "KUBEPAR_RETIRE_TIMEOUT"))
    assert deployment_spec["terminationGracePeriodSeconds"] <= 15
    assert retire_budget < deployment_spec["terminationGracePeriodSeconds"]


def test_dask_worker_scratch_space_grows_with_its_memory() -> None:
    volumes = {v["name"]: v for v in pod_spec("dask-dev", "worker", workerMemory="6Gi")["volumes"]}
    assert volumes["tmp"]["emptyDir"]["sizeLimit"] == f"{2 * 6 * 1024}Mi"


def test_dask_exposes_only_the_https_front_never_the_scheduler_port() -> None:
    door = {"allowedSourceRanges": json.dumps([OWN_RANGE]), "domain": "lab.example.org", "dnsZone": "lab-zone"}
    services = program("dask-dev", **door).kubernetes("Service")
    public = [s for s in services if s["spec"]["type"] == "LoadBalancer"]
    assert [
        (s["metadata"]["labels"]["app.kubernetes.io/component"], p["port"], p["targetPort"])
        for s in public
        for p in s["spec"]["ports"]
    ] == [("https", 443, 8443)]


def test_engines_share_namespace_network_and_cluster() -> None:
    r, dask = program("dev"), program("dev", engine="dask", packages=[])
    gcp = {(x.type, x.name) for x in r.resources if x.type.startswith("gcp:")}
    assert gcp == {(x.type, x.name) for x in dask.resources if x.type.startswith("gcp:")}
    assert only(r.kubernetes("Namespace")) == only(dask.kubernetes("Namespace"))
    for capture in (r, dask):
        assert any(p["spec"]["podSelector"] == {} for p in capture.kubernetes("NetworkPolicy"))


def test_every_engine_points_workers_at_the_role_named_scheduler() -> None:
    # The hub declares no workers: each session's are rendered into its settings (tests/test_hub.py).
    assert set(engines.plugins()) == {"r", "dask", "hub"}
    for plugin in (engines.plugins()["r"], engines.plugins()["dask"]):
        engine = plugin.build(parse({"platform": "existing"}, stack="t", gcp_project=None).workload)
        roles = {role.component: role for role in engine.roles}
        scheduler = roles["scheduler"]
        assert scheduler.exposure.endpoint_port is not None
        assert Edge(client="worker", server="scheduler", port=scheduler.exposure.endpoint_port) in engine.edges
        assert roles["worker"].exposure.endpoint_port is None
