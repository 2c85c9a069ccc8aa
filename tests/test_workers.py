"""Workers: one Deployment, one R process per pod, dialing the scheduler."""

from __future__ import annotations

from typing import Any

from tests.conftest import containers, only, program


def workers(stack: str = "local", **overrides: object) -> dict[str, Any]:
    deployments = program(stack, **overrides).kubernetes("Deployment")
    return only([d for d in deployments if d["metadata"]["labels"]["app.kubernetes.io/component"] == "worker"])


def worker_container(document: dict[str, Any]) -> dict[str, Any]:
    return only(document["spec"]["template"]["spec"]["containers"])


def env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_replicas_follow_the_workers_setting() -> None:
    assert workers(workers=7)["spec"]["replicas"] == 7
    assert workers(workers=0)["spec"]["replicas"] == 0


def test_worker_runs_r_ver_at_the_configured_version() -> None:
    assert worker_container(workers(rVersion="4.4.2"))["image"] == "rocker/r-ver:4.4.2"


def test_worker_dials_the_scheduler_service_by_dns() -> None:
    variables = env(worker_container(workers()))
    assert variables["KUBEPAR_SCHEDULER_HOST"] == "kubepar-scheduler.kubepar.svc.cluster.local"
    assert variables["KUBEPAR_SCHEDULER_PORT"] == "11562"
    assert variables["KUBEPAR_SETUP_TIMEOUT"] == "5"


def test_blas_runs_one_thread_and_r_sees_its_cpu_limit() -> None:
    variables = env(worker_container(workers()))
    assert variables["OMP_NUM_THREADS"] == variables["OPENBLAS_NUM_THREADS"] == variables["MKL_NUM_THREADS"] == "1"
    assert variables["MC_CORES"]["resourceFieldRef"]["resource"] == "limits.cpu"


def test_worker_is_non_root_with_a_read_only_root() -> None:
    document = workers()
    for container in containers(document):
        context = container["securityContext"]
        assert context["runAsNonRoot"] is True
        assert context["readOnlyRootFilesystem"] is True
        assert context["capabilities"] == {"drop": ["ALL"]}
        assert context["allowPrivilegeEscalation"] is False


def test_workers_land_on_the_tainted_pool_on_gke_only() -> None:
    gke_spec = workers("dev")["spec"]["template"]["spec"]
    assert gke_spec["nodeSelector"] == {"kubepar.dev/pool": "workers"}
    assert gke_spec["tolerations"] == [
        {"key": "kubepar.dev/workers", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
    ]
    local_spec = workers("local")["spec"]["template"]["spec"]
    assert "nodeSelector" not in local_spec
    assert "tolerations" not in local_spec


def test_nothing_may_reach_the_workers() -> None:
    policies = program("local").kubernetes("NetworkPolicy")
    policy = only([p for p in policies if p["metadata"]["labels"].get("app.kubernetes.io/component") == "worker"])
    assert policy["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "worker"
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    assert "ingress" not in policy["spec"]


def test_packages_install_in_an_init_container_identical_on_every_r_pod() -> None:
    capture = program("local", packages=["ranger", "data.table"])
    installers = []
    for document in capture.kubernetes("Deployment"):
        spec = document["spec"]["template"]["spec"]
        init = only(spec["initContainers"])
        installers.append((init["image"], init["command"], env(init)["KUBEPAR_PACKAGES"]))
        main = spec["containers"][0]
        assert env(main)["R_LIBS"].startswith(env(init)["KUBEPAR_LIBRARY"] + ":")
    assert len(installers) == 2
    assert installers[0] == installers[1]
    assert installers[0][2] == "data.table ranger"


def test_no_packages_means_no_init_container() -> None:
    for document in program("local").kubernetes("Deployment"):
        assert "initContainers" not in document["spec"]["template"]["spec"]
