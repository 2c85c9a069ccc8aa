"""rBackend redis in the whole program: the queue server, its claim, Service and policies, and the workers."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest

from components.engines import model, r_queue
from tests.conftest import STACKS, only, program, stack_config
from tests.test_config import problems

QUEUE_STACKS = [s for s in STACKS if stack_config(s).get("kubepar:engine", "r") == "r"]


def deployment(stack: str, component: str) -> dict[str, Any]:
    return only(
        [
            d
            for d in program(stack, rBackend="redis").kubernetes("Deployment")
            if d["metadata"]["labels"]["app.kubernetes.io/component"] == component
        ]
    )


def pod(stack: str, component: str) -> dict[str, Any]:
    return deployment(stack, component)["spec"]["template"]["spec"]


@pytest.mark.parametrize("stack", QUEUE_STACKS)
def test_every_object_validates_and_the_queue_is_a_clusterip_service(stack: str) -> None:
    capture = program(stack, rBackend="redis")
    for document in capture.kubernetes("Deployment") + capture.kubernetes("Service"):
        kubernetes_validate.validate(document, "1.33", strict=True)
    service = only([s for s in capture.kubernetes("Service") if s["metadata"].get("name") == r_queue.QUEUE_SERVICE])
    assert service["spec"]["type"] == "ClusterIP"
    assert [p["port"] for p in service["spec"]["ports"]] == [6379]
    # No PSOCK endpoint without PSOCK workers.
    assert not [s for s in capture.kubernetes("Service") if s["metadata"].get("name") == model.ENDPOINT_SERVICE]


@pytest.mark.parametrize("stack", QUEUE_STACKS)
def test_the_server_is_a_pinned_non_root_valkey_on_the_system_pool_with_its_append_only_file_on_a_claim(
    stack: str,
) -> None:
    spec = pod(stack, "queue")
    server = only(spec["containers"])
    assert server["image"] == "valkey/valkey:8.1.8"
    assert server["command"][:2] == ["valkey-server", "/etc/kubepar/scripts/valkey.conf"]
    assert server["securityContext"]["runAsNonRoot"] is True
    assert server["securityContext"]["readOnlyRootFilesystem"] is True
    data = only([m for m in server["volumeMounts"] if m["mountPath"] == "/data"])
    claim = only([v for v in spec["volumes"] if v["name"] == data["name"]])["persistentVolumeClaim"]["claimName"]
    assert claim.startswith("kubepar-queue-claim")
    assert deployment(stack, "queue")["spec"]["strategy"] == {"type": "Recreate"}
    assert "initContainers" not in spec
    if stack != "local":
        assert spec["nodeSelector"] == {"kubepar.dev/pool": "system"}


def test_the_config_keeps_every_task_on_disk_and_evicts_none() -> None:
    config = (model.WORKLOADS / "queue" / "valkey.conf").read_text().splitlines()
    assert {"appendonly yes", "maxmemory-policy noeviction"} <= set(config)
    command = only(pod("dev", "queue")["containers"])["command"]
    assert command[2:6] == ["--dir", "/data", "--include", "/etc/kubepar/queue-auth/auth.conf"]


def test_the_password_is_a_secret_mounted_as_files_never_an_env_var() -> None:
    capture = program("dev", rBackend="redis")
    secret = only([s for s in capture.of_type("kubernetes:core/v1:Secret") if s.name == "kubepar-queue-auth"])
    assert "stringData" in secret.secret_paths  # the whole stringData is a Pulumi secret
    for component in ("queue", "worker", "scheduler"):
        spec = pod("dev", component)
        auth = only([v for v in spec["volumes"] if v["name"] == "kubepar-queue-auth"])
        assert auth["secret"]["secretName"] == secret.state["metadata"]["name"]
        for container in spec["containers"]:
            assert not any(
                "PASSWORD" in e["name"] and "valueFrom" in e for e in container["env"] if e["name"] != "PASSWORD"
            )


def test_only_the_scheduler_and_workers_may_reach_the_queue() -> None:
    policies = program("dev", rBackend="redis").kubernetes("NetworkPolicy")
    queue = [p for p in policies if p["metadata"]["labels"].get("app.kubernetes.io/component") == "queue"]
    ingress = [rule for p in queue for rule in p["spec"].get("ingress", [])]
    sources = {f["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for r in ingress for f in r["from"]}
    assert sources == {"scheduler", "worker"}
    assert {p["port"] for r in ingress for p in r["ports"]} == {6379}


def test_workers_run_the_queue_loop_with_hiredis_fetched_by_an_init_container() -> None:
    spec = pod("dev", "worker")
    worker = only(spec["containers"])
    assert worker["command"] == ["sh", "/etc/kubepar/scripts/kubepar-queue-worker.sh"]
    assert [c["name"] for c in spec["initContainers"]] == ["install-libraries", "install-packages"]
    libraries, packages = spec["initContainers"]
    assert {"name": "KUBEPAR_SYSTEM_LIBRARIES", "value": "hiredis"} in libraries["env"]
    assert libraries["securityContext"]["runAsNonRoot"] is True
    wanted = next(e["value"] for e in packages["env"] if e["name"] == "KUBEPAR_PACKAGES").split()
    assert wanted[:6] == ["future", "future.apply", "parallelly", "doRedis", "redux", "storr"]
    for container in (packages, worker):
        assert any(
            e["name"] == "LD_LIBRARY_PATH" and "/opt/kubepar/system/usr/lib" in e["value"] for e in container["env"]
        )
    # kubepar's non-root UID; GKE gives Spot pods about 15 s.
    assert worker["securityContext"]["runAsUser"] == 10001
    assert spec["terminationGracePeriodSeconds"] == 15


def test_scaling_workers_changes_replicas_only() -> None:
    four = program("dev", rBackend="redis", workers=4)
    nine = program("dev", rBackend="redis", workers=9)
    assert {(r.type, r.name) for r in four.resources} == {(r.type, r.name) for r in nine.resources}
    replicas = {
        d["metadata"]["labels"]["app.kubernetes.io/component"]: d["spec"]["replicas"]
        for d in nine.kubernetes("Deployment")
    }
    assert replicas == {"scheduler": 1, "worker": 9, "queue": 1}


def test_rbackend_is_for_the_r_engine_and_takes_two_values() -> None:
    assert any(p.startswith("kubepar:rBackend: 'queue' is not one of psock, redis") for p in problems(rBackend="queue"))
    assert any("applies to engine r only" in p for p in problems(rBackend="redis", engine="dask"))


def test_a_queue_password_set_as_a_secret_replaces_the_generated_one_and_never_shows() -> None:
    chosen = "Q" * 12 + "0123456789ab"
    capture = program("kwok", rBackend="redis", queuePassword={"secret": chosen})
    generated = capture.of_type("random:index/randomPassword:RandomPassword")
    assert "kubepar-queue-password" not in [r.name for r in generated]
    secret = only([s for s in capture.of_type("kubernetes:core/v1:Secret") if s.name == "kubepar-queue-auth"])
    assert "stringData" in secret.secret_paths
    assert secret.state["stringData"]["value"] == {"password": chosen, "auth.conf": f"requirepass {chosen}\n"}
    # Generated when unset (GKE stacks: the random provider), kept in the stack's state.
    generated = program("dev", rBackend="redis").of_type("random:index/randomPassword:RandomPassword")
    assert "kubepar-queue-password" in [r.name for r in generated]


@pytest.mark.parametrize(
    ("overrides", "said"),
    [
        ({"queuePassword": {"secret": "Q" * 24}}, "only the queue of rBackend redis uses it"),
        ({"rBackend": "redis", "queuePassword": {"secret": "short0"}}, "use 24 or more letters and digits"),
        ({"rBackend": "redis", "queuePassword": {"secret": "has space " * 4}}, "use 24 or more letters and digits"),
        ({"rBackend": "redis", "queuePassword": "Q" * 24}, "stored in plain text"),
    ],
)
def test_a_queue_password_the_server_would_not_take_is_refused(overrides: dict[str, Any], said: str) -> None:
    from tools import harness

    monitor = harness.RecordingMonitor(harness.RecordingMocks())
    config = {f"kubepar:{key}": value for key, value in overrides.items()}
    with pytest.raises(Exception, match=f"kubepar:queuePassword: {said}"):
        harness.run_program("kwok", config, monitor=monitor)
    assert monitor.records == []
