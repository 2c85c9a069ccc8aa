"""Scheduler: RStudio, its Services and the doors its NetworkPolicies open."""

from __future__ import annotations

from typing import Any

from components import r_files
from tests.conftest import only, program


def component(documents: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [d for d in documents if d["metadata"]["labels"].get("app.kubernetes.io/component") == name]


def rstudio(stack: str = "local", **overrides: object) -> dict[str, Any]:
    return only(component(program(stack, **overrides).kubernetes("Deployment"), "scheduler"))


def env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_worker_port_is_never_public() -> None:
    for stack in ("local", "dev", "prod"):
        services = program(stack).kubernetes("Service")
        worker_service = only([s for s in services if s["metadata"]["name"] == "kubepar-scheduler"])
        assert worker_service["spec"]["type"] == "ClusterIP"
        for service in services:
            if service["spec"]["type"] != "ClusterIP":
                assert {p["port"] for p in service["spec"]["ports"]} == {8787}


def test_rstudio_is_a_load_balancer_limited_to_the_allowed_ranges() -> None:
    services = program("dev").kubernetes("Service")
    public = only([s for s in services if s["spec"]["type"] == "LoadBalancer"])
    assert public["spec"]["loadBalancerSourceRanges"] == ["203.0.113.0/24"]
    assert public["spec"]["externalTrafficPolicy"] == "Local"


def test_rstudio_stays_cluster_internal_without_allowed_ranges() -> None:
    services = program("local").kubernetes("Service")
    assert {s["spec"]["type"] for s in services} == {"ClusterIP"}


def test_only_workers_may_reach_the_worker_port() -> None:
    policies = component(program("local").kubernetes("NetworkPolicy"), "scheduler")
    policy = only(policies)
    rule = only(policy["spec"]["ingress"])
    assert rule["ports"] == [{"protocol": "TCP", "port": 11562}]
    assert only(rule["from"])["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "worker"


def test_users_reach_rstudio_only_from_the_allowed_ranges() -> None:
    policies = component(program("dev").kubernetes("NetworkPolicy"), "scheduler")
    from_users = only([p for p in policies if p["spec"]["ingress"][0]["ports"][0]["port"] == 8787])
    assert from_users["spec"]["ingress"][0]["from"] == [{"ipBlock": {"cidr": "203.0.113.0/24"}}]


def test_home_is_a_claim_and_the_pod_is_recreated_not_surged() -> None:
    document = rstudio()
    spec = document["spec"]["template"]["spec"]
    claim = only([v for v in spec["volumes"] if "persistentVolumeClaim" in v])
    mount = only([m for m in spec["containers"][0]["volumeMounts"] if m["name"] == claim["name"]])
    assert mount["mountPath"] == "/home/rstudio"
    assert document["spec"]["strategy"] == {"type": "Recreate"}


def test_rstudio_image_and_password_come_from_config_and_secret() -> None:
    container = only(rstudio(rVersion="4.4.2")["spec"]["template"]["spec"]["containers"])
    assert container["image"] == "rocker/rstudio:4.4.2"
    assert env(container)["PASSWORD"]["secretKeyRef"]["key"] == "password"


def test_rstudio_has_startup_readiness_and_liveness_probes() -> None:
    container = only(rstudio()["spec"]["template"]["spec"]["containers"])
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["tcpSocket"] == {"port": 8787}


def test_sessions_load_kubepar_r_and_read_the_live_worker_count() -> None:
    spec = rstudio()["spec"]["template"]["spec"]
    container = only(spec["containers"])
    variables = env(container)
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    profile_dir, profile_file = variables["R_PROFILE_USER"].rsplit("/", 1)
    assert profile_file in r_files.SCRIPT_FILES
    assert "configMap" in volumes[mounts[profile_dir]]
    workers_dir = variables["KUBEPAR_WORKERS_FILE"].rsplit("/", 1)[0]
    assert volumes[mounts[workers_dir]]["configMap"]["name"] == "kubepar-settings"
    # No subPath: a subPath mount would never see the new count.
    assert all("subPath" not in m for m in container["volumeMounts"])


def test_scheduler_runs_on_the_system_pool_on_gke_only() -> None:
    assert rstudio("dev")["spec"]["template"]["spec"]["nodeSelector"] == {"kubepar.dev/pool": "system"}
    assert "nodeSelector" not in rstudio("local")["spec"]["template"]["spec"]


def test_rstudio_keeps_only_the_capabilities_its_init_needs() -> None:
    context = only(rstudio()["spec"]["template"]["spec"]["containers"])["securityContext"]
    assert context["capabilities"]["drop"] == ["ALL"]
    assert "NET_RAW" not in context["capabilities"]["add"]
    assert context["allowPrivilegeEscalation"] is False
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
