"""Workload: each role's Deployment and exactly the doors it declares, for both engines."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.engines.r_language import R_CORE_PACKAGES
from tests.conftest import OWN_RANGE, only, program


def of(documents: list[dict[str, Any]], component: str) -> list[dict[str, Any]]:
    return [d for d in documents if d["metadata"]["labels"].get("app.kubernetes.io/component") == component]


def deployment(component: str, stack: str = "local", **overrides: object) -> dict[str, Any]:
    return only(of(program(stack, **overrides).kubernetes("Deployment"), component))


def env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


@pytest.mark.parametrize("stack", ["local", "dev", "prod", "dask-dev"])
def test_endpoint_is_never_public(stack: str) -> None:
    services = program(stack).kubernetes("Service")
    endpoint = only([s for s in services if s["metadata"]["name"] == "kubepar-scheduler"])
    assert endpoint["spec"]["type"] == "ClusterIP"
    endpoint_port = endpoint["spec"]["ports"][0]["port"]
    for service in services:
        if service["spec"]["type"] != "ClusterIP":
            assert endpoint_port not in {p["port"] for p in service["spec"]["ports"]}


def test_the_public_door_is_an_https_load_balancer_limited_to_the_allowed_ranges() -> None:
    door = {"allowedSourceRanges": json.dumps([OWN_RANGE]), "domain": "lab.example.org", "dnsZone": "lab-zone"}
    services = program("dev", **door).kubernetes("Service")
    public = only([s for s in services if s["spec"]["type"] == "LoadBalancer"])
    assert public["spec"]["loadBalancerSourceRanges"] == [OWN_RANGE]
    assert public["spec"]["externalTrafficPolicy"] == "Local"
    assert [(p["port"], p["targetPort"]) for p in public["spec"]["ports"]] == [(443, 8443)]
    assert public["spec"]["selector"]["app.kubernetes.io/component"] == "https"


def test_a_plain_http_load_balancer_is_refused_for_every_engine() -> None:
    for engine in ("r", "dask"):
        with pytest.raises(Exception, match="over plain HTTP"):
            program("dev", engine=engine, packages="[]", allowedSourceRanges=json.dumps([OWN_RANGE]))


def test_ui_stays_cluster_internal_without_allowed_ranges() -> None:
    assert {s["spec"]["type"] for s in program("local").kubernetes("Service")} == {"ClusterIP"}


def test_home_is_a_claim_and_the_pod_is_recreated_not_surged() -> None:
    document = deployment("scheduler")
    spec = document["spec"]["template"]["spec"]
    claim = only([v for v in spec["volumes"] if v["name"] == "home"])
    mount = only([m for m in spec["containers"][0]["volumeMounts"] if m["name"] == claim["name"]])
    assert mount["mountPath"] == "/home/rstudio"
    assert document["spec"]["strategy"] == {"type": "Recreate"}


def test_password_reaches_the_ui_from_a_secret() -> None:
    for component, stack, variable in (("scheduler", "local", "PASSWORD"), ("notebook", "dask-dev", "JUPYTER_TOKEN")):
        container = only(deployment(component, stack)["spec"]["template"]["spec"]["containers"])
        assert env(container)[variable]["secretKeyRef"]["key"] == "password"


def test_ui_has_startup_readiness_and_liveness_probes() -> None:
    container = only(deployment("scheduler")["spec"]["template"]["spec"]["containers"])
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["tcpSocket"] == {"port": 8787}


def test_roles_run_on_their_gke_pool_and_anywhere_elsewhere() -> None:
    assert deployment("scheduler", "dev")["spec"]["template"]["spec"]["nodeSelector"] == {"kubepar.dev/pool": "system"}
    gke_worker = deployment("worker", "dev")["spec"]["template"]["spec"]
    assert gke_worker["nodeSelector"] == {"kubepar.dev/pool": "workers"}
    assert gke_worker["tolerations"] == [
        {"key": "kubepar.dev/workers", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
    ]
    for component in ("scheduler", "worker"):
        spec = deployment(component, "local")["spec"]["template"]["spec"]
        assert "nodeSelector" not in spec
        assert "tolerations" not in spec


def test_only_the_root_init_role_runs_as_root() -> None:
    for stack in ("local", "dask-dev"):
        for document in program(stack).kubernetes("Deployment"):
            component = document["metadata"]["labels"]["app.kubernetes.io/component"]
            for container in [
                *document["spec"]["template"]["spec"].get("initContainers", []),
                *document["spec"]["template"]["spec"]["containers"],
            ]:
                context = container["securityContext"]
                assert context["allowPrivilegeEscalation"] is False
                assert context["capabilities"]["drop"] == ["ALL"]
                if (stack, component, container["name"]) == ("local", "scheduler", "scheduler"):
                    assert context["runAsUser"] == 0
                    assert "NET_RAW" not in context["capabilities"]["add"]
                else:
                    assert context["runAsNonRoot"] is True
                    assert context["runAsUser"] != 0


def test_replicas_follow_the_workers_setting() -> None:
    assert deployment("worker", workers=7)["spec"]["replicas"] == 7
    assert deployment("worker", workers=0)["spec"]["replicas"] == 0
    assert deployment("scheduler", workers=7)["spec"]["replicas"] == 1


def test_blas_runs_one_thread_and_workers_see_their_cpu_limit() -> None:
    variables = env(only(deployment("worker")["spec"]["template"]["spec"]["containers"]))
    assert variables["OMP_NUM_THREADS"] == variables["OPENBLAS_NUM_THREADS"] == variables["MKL_NUM_THREADS"] == "1"
    assert variables["MC_CORES"]["resourceFieldRef"]["resource"] == "limits.cpu"


@pytest.mark.parametrize(("engine", "count"), [("r", 2), ("dask", 3)])
def test_packages_install_in_an_init_container_identical_on_every_pod(engine: str, count: int) -> None:
    packages = ["ranger", "data.table"] if engine == "r" else ["xarray==2025.1.2", "zarr==2.18.4"]
    installers = []
    for document in program("local", engine=engine, packages=packages).kubernetes("Deployment"):
        spec = document["spec"]["template"]["spec"]
        init = only(spec["initContainers"])
        init_env = env(init)
        installers.append((init["image"], init["command"], init_env["KUBEPAR_PACKAGES"]))
        main_env = env(spec["containers"][0])
        path = str(main_env.get("R_LIBS") or main_env.get("PYTHONPATH"))
        assert path.split(":")[0].startswith(init_env["KUBEPAR_LIBRARY"])
    assert len(installers) == count
    assert len(set(map(str, installers))) == 1
    core = " ".join(R_CORE_PACKAGES) + " " if engine == "r" else ""
    assert installers[0][2] == core + " ".join(sorted(packages))


@pytest.mark.parametrize("stack", ["local", "dev", "prod"])
def test_every_r_pod_installs_the_core_packages_with_no_packages_configured(stack: str) -> None:
    deployments = program(stack, packages=[]).kubernetes("Deployment")
    assert len(deployments) == 2
    for document in deployments:
        init = only(document["spec"]["template"]["spec"]["initContainers"])
        init_env = env(init)
        assert init_env["KUBEPAR_PACKAGES"].split() == list(R_CORE_PACKAGES)
        assert init_env["KUBEPAR_CRAN"] == "https://p3m.dev/cran/__linux__/noble/2026-06-30"
        assert init["image"] == "rocker/r-ver:4.6.1"


def test_core_packages_listed_by_the_user_are_installed_once() -> None:
    worker = deployment("worker", packages=["future", "ranger"])
    packages = env(only(worker["spec"]["template"]["spec"]["initContainers"]))["KUBEPAR_PACKAGES"].split()
    assert packages == [*R_CORE_PACKAGES, "ranger"]


def test_every_pod_installs_from_the_pinned_snapshot_of_its_r_version() -> None:
    capture = program("local", rVersion="4.3.2", cranSnapshot="2024-02-28")
    for document in capture.kubernetes("Deployment"):
        init = only(document["spec"]["template"]["spec"]["initContainers"])
        assert env(init)["KUBEPAR_CRAN"] == "https://p3m.dev/cran/__linux__/jammy/2024-02-28"
    assert capture.outputs["cranRepository"] == "https://p3m.dev/cran/__linux__/jammy/2024-02-28"


def test_dask_without_packages_has_no_init_container() -> None:
    for document in program("dask-dev").kubernetes("Deployment"):
        assert "initContainers" not in document["spec"]["template"]["spec"]


@pytest.mark.parametrize(
    ("stack", "kept"),
    [("dev", {"scheduler", "worker"}), ("dask-dev", {"notebook", "scheduler"})],
)
def test_the_autoscaler_never_evicts_pods_that_hold_work(stack: str, kept: set[str]) -> None:
    annotated = set()
    for document in program(stack).kubernetes("Deployment"):
        annotations = document["spec"]["template"]["metadata"].get("annotations") or {}
        if annotations.get("cluster-autoscaler.kubernetes.io/safe-to-evict") == "false":
            annotated.add(document["metadata"]["labels"]["app.kubernetes.io/component"])
    # Dask workers may go: they retire and hand their results over.
    assert annotated == kept


@pytest.mark.parametrize(
    ("stack", "budgeted"),
    [("dev", {"scheduler"}), ("dask-dev", {"notebook", "scheduler"})],
)
def test_single_session_pods_have_a_budget_that_admits_no_eviction(stack: str, budgeted: set[str]) -> None:
    capture = program(stack)
    budgets = capture.kubernetes("PodDisruptionBudget")
    assert {b["metadata"]["labels"]["app.kubernetes.io/component"] for b in budgets} == budgeted
    for budget in budgets:
        assert budget["spec"]["maxUnavailable"] == 0
        component = budget["metadata"]["labels"]["app.kubernetes.io/component"]
        target = only(of(capture.kubernetes("Deployment"), component))
        assert budget["spec"]["selector"]["matchLabels"] == target["spec"]["selector"]["matchLabels"]


def test_a_workers_change_never_touches_the_session_pod() -> None:
    two, five = deployment("scheduler", workers=2), deployment("scheduler", workers=5)
    assert two == five
