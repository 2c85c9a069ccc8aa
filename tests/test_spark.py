"""The ``spark`` key under the mock engine: the three roles, their doors, the session's client, config refusals."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pulumi_policy import EnforcementLevel

from components.ground import spark
from tests.conftest import STACKS, containers, only, program
from tests.test_config import parse, problems
from tools.harness.network import Address, Pod, connects
from tools.harness.pack import violations

SPARK = json.dumps({"workers": 2})
ENGINES = [("dev", "r", {}), ("dask-dev", "dask", {}), ("local", "r", {}), ("local", "dask", {"packages": "[]"})]
ROLES = ("spark-connect", "spark-master", "spark-worker")


def spark_stack(stack: str, engine: str, extra: dict[str, Any], **more: Any) -> Any:
    return program(stack, engine=engine, spark=SPARK, **extra, **more)


def deployments(capture: Any) -> dict[str, dict[str, Any]]:
    found = {}
    for document in capture.kubernetes("Deployment"):
        found[document["metadata"]["labels"]["app.kubernetes.io/component"]] = document
    return found


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in container.get("env", [])}


@pytest.mark.parametrize("stack", STACKS)
def test_no_shipped_stack_runs_spark_unless_it_asks(stack: str) -> None:
    assert not set(deployments(program(stack))) & set(ROLES)


@pytest.mark.parametrize(("stack", "engine", "extra"), ENGINES)
def test_three_jvms_as_pid_1_as_the_images_user_with_fixed_ports(
    stack: str, engine: str, extra: dict[str, Any]
) -> None:
    found = deployments(spark_stack(stack, engine, extra))
    for role in ROLES:
        pod = found[role]["spec"]["template"]["spec"]
        (main,) = pod["containers"]
        assert main["image"] == "apache/spark:4.1.2-scala2.13-java17-python3-ubuntu"
        # exec'd directly: no shell or sbin script between the runtime's SIGTERM and the JVM.
        assert main["command"][0] in ("/opt/spark/bin/spark-class", "/opt/spark/bin/spark-submit")
        assert not any("sbin" in part for part in main["command"])
        security = main["securityContext"]
        assert (security["runAsUser"], security["runAsGroup"], security["readOnlyRootFilesystem"]) == (185, 185, True)
        mounts = {mount["mountPath"] for mount in main["volumeMounts"]}
        assert "/tmp" in mounts
        assert "initContainers" not in pod  # nothing installed: the image is Spark
        assert pod["automountServiceAccountToken"] is False
    command = " ".join(found["spark-connect"]["spec"]["template"]["spec"]["containers"][0]["command"])
    for setting, port in (
        ("spark.driver.port", spark.DRIVER_PORT),
        ("spark.driver.blockManager.port", spark.DRIVER_BLOCK_MANAGER_PORT),
        ("spark.blockManager.port", spark.BLOCK_MANAGER_PORT),
        ("spark.connect.grpc.binding.port", spark.CONNECT_PORT),
    ):
        assert f"--conf {setting}={port}" in command
    assert "--class org.apache.spark.sql.connect.service.SparkConnectServer" in command
    assert "--conf spark.sql.warehouse.dir=/tmp/" in command
    worker = found["spark-worker"]["spec"]["template"]["spec"]["containers"][0]["command"]
    assert worker[worker.index("--port") + 1] == str(spark.WORKER_PORT)
    assert worker[worker.index("--work-dir") + 1].startswith("/tmp/")
    assert worker[-1] == "spark://kubepar-spark-master.kubepar.svc.cluster.local:7077"


def test_workers_on_the_spot_pool_master_and_connect_on_the_system_pool() -> None:
    found = deployments(spark_stack("dev", "r", {}))
    pools = {role: found[role]["spec"]["template"]["spec"]["nodeSelector"]["kubepar.dev/pool"] for role in ROLES}
    assert pools == {"spark-connect": "system", "spark-master": "system", "spark-worker": "workers"}
    assert found["spark-worker"]["spec"]["replicas"] == 2
    assert found["spark-worker"]["spec"]["template"]["spec"]["tolerations"][0]["effect"] == "NoSchedule"
    # A lost worker costs a rerun of its tasks: the autoscaler may move it; the driver holds every session.
    annotations = {role: found[role]["spec"]["template"]["metadata"].get("annotations", {}) for role in ROLES}
    assert annotations["spark-worker"]["cluster-autoscaler.kubernetes.io/safe-to-evict"] == "true"
    assert annotations["spark-connect"]["cluster-autoscaler.kubernetes.io/safe-to-evict"] == "false"


def test_executor_memory_leaves_room_for_the_daemon_and_the_jvms_overhead() -> None:
    capture = program("dev", spark=json.dumps({"workers": 1, "workerMemory": "4Gi", "workerCpu": 2}))
    found = deployments(capture)
    worker = found["spark-worker"]["spec"]["template"]["spec"]["containers"][0]
    offered = worker["command"][worker["command"].index("--memory") + 1]
    # 4096 MiB - 256 (daemon heap) - 384 (its overhead) = 3456; less max(384, 10%) = 3072.
    assert offered == "3072m"
    assert worker["command"][worker["command"].index("--cores") + 1] == "2"
    connect = " ".join(found["spark-connect"]["spec"]["template"]["spec"]["containers"][0]["command"])
    assert "--conf spark.executor.memory=3072m" in connect and "--conf spark.executor.cores=2" in connect
    # The driver's 2Gi default less max(384, 10%).
    assert "--driver-memory 1664m" in connect


def _pod(component: str, stack: str = "dev") -> Pod:
    labels = {"app.kubernetes.io/name": "kubepar", "app.kubernetes.io/instance": stack}
    return Pod({**labels, "app.kubernetes.io/component": component}, "kubepar")


@pytest.mark.parametrize(("stack", "engine", "extra"), ENGINES[:2])
def test_only_the_session_reaches_connect_and_spark_reaches_only_itself(
    stack: str, engine: str, extra: dict[str, Any]
) -> None:
    policies = spark_stack(stack, engine, extra).kubernetes("NetworkPolicy")
    session = _pod("scheduler" if engine == "r" else "notebook", stack)
    connect, master, worker = (_pod(role, stack) for role in ROLES)
    assert connects(policies, session, connect, spark.CONNECT_PORT)
    others = [_pod("worker", stack), worker, master, *([_pod("scheduler", stack)] if engine == "dask" else [])]
    assert not any(connects(policies, other, connect, spark.CONNECT_PORT) for other in others)
    assert not connects(policies, session, master, spark.MASTER_PORT)
    assert not connects(policies, session, worker, spark.BLOCK_MANAGER_PORT)
    for client, server, port in (
        (connect, master, spark.MASTER_PORT),
        (worker, master, spark.MASTER_PORT),
        (master, worker, spark.WORKER_PORT),
        (worker, connect, spark.DRIVER_PORT),
        (worker, connect, spark.DRIVER_BLOCK_MANAGER_PORT),
        (connect, worker, spark.BLOCK_MANAGER_PORT),
        (worker, worker, spark.BLOCK_MANAGER_PORT),
    ):
        assert connects(policies, client, server, port), (client, server, port)
        # Exactly that port: the same pair on another port is refused.
        assert not connects(policies, client, server, port + 1000), (client, server, port)
    # The master reaches nothing outside; the driver and workers HTTPS only (the results bucket).
    internet = Address("142.250.74.100")
    assert not connects(policies, master, internet, 443)
    for role in (connect, worker):
        assert connects(policies, role, internet, 443) and not connects(policies, role, internet, 80)


def test_no_door_reaches_spark_even_with_a_public_session() -> None:
    door = {"allowedSourceRanges": json.dumps(["81.2.69.0/24"]), "domain": "r.example.org", "dnsZone": "z"}
    capture = spark_stack("dev", "r", door)
    for service in capture.kubernetes("Service"):
        component = service["spec"]["selector"]["app.kubernetes.io/component"]
        if component.startswith("spark-"):
            assert service["spec"]["type"] == "ClusterIP"
            assert service["metadata"]["name"] in spark.SERVICES
    assert capture.outputs["sparkUiPortForward"].endswith(" 4040:4040")
    assert " port-forward deploy/spark-connect-" in capture.outputs["sparkUiPortForward"]
    assert " port-forward deploy/spark-master-" in capture.outputs["sparkMasterUiPortForward"]
    assert capture.outputs["sparkConnect"] == "sc://kubepar-spark-connect.kubepar.svc.cluster.local:15002"
    # The public door counts one LoadBalancer: Spark's UIs add none.
    assert capture.outputs["estimatedCost"]["items"]["load balancer"] > 0
    assert (
        program("dev", **door).outputs["estimatedCost"]["items"]["load balancer"]
        == (capture.outputs["estimatedCost"]["items"]["load balancer"])
    )


def test_the_jupyterlab_session_gets_the_servers_own_client_and_kubepar_spark() -> None:
    capture = spark_stack("dask-dev", "dask", {"packages": '["xarray==2025.1.2"]'})
    notebook = deployments(capture)["notebook"]["spec"]["template"]["spec"]
    (installer,) = notebook["initContainers"]
    packages = env_of(installer)["KUBEPAR_PACKAGES"].split()
    assert "pyspark-client==4.1.2" in packages and "xarray==2025.1.2" in packages
    env = env_of(notebook["containers"][0])
    assert env["PYTHONPATH"].split(":")[0] == "/etc/kubepar/scripts"  # import kubepar
    assert env["KUBEPAR_SPARK_REMOTE"] == "sc://kubepar-spark-connect.kubepar.svc.cluster.local:15002"
    assert env["KUBEPAR_SPARK_VERSION"] == "4.1.2"


def test_the_rstudio_session_gets_sparklyr_and_a_python_of_its_own() -> None:
    rstudio = deployments(spark_stack("dev", "r", {}))["scheduler"]["spec"]["template"]["spec"]
    names = [container["name"] for container in rstudio["initContainers"]]
    assert names[-1] == "install-python"
    python = rstudio["initContainers"][-1]
    assert python["image"] == "python:3.12.13-slim-bookworm"
    assert python["securityContext"]["runAsNonRoot"] is True
    python_env = env_of(python)
    assert python_env["KUBEPAR_PYTHON_REQUIREMENTS"] == "pyspark-client==4.1.2"
    assert python_env["KUBEPAR_PYTHON_ENV"] == "r-sparklyr-pyspark-4.1"
    packages = env_of(rstudio["initContainers"][names.index("install-packages")])["KUBEPAR_PACKAGES"].split()
    assert {"sparklyr", "pysparklyr", "reticulate", "arrow", "data.table"} <= set(packages)
    main = rstudio["containers"][0]
    env = env_of(main)
    assert env["RETICULATE_VIRTUALENV_ROOT"] == f"{python_env['KUBEPAR_PYTHON_DIR']}/envs"
    mount = only([m for m in main["volumeMounts"] if m["mountPath"] == python_env["KUBEPAR_PYTHON_DIR"]])
    assert mount["readOnly"] is True
    # The workers dial RStudio as before: they get no Spark client.
    worker = deployments(spark_stack("dev", "r", {}))["worker"]["spec"]["template"]["spec"]
    assert "sparklyr" not in env_of(worker["initContainers"][0])["KUBEPAR_PACKAGES"]


def test_sparks_share_of_the_estimate_is_what_it_adds() -> None:
    with_spark = spark_stack("dev", "r", {}).outputs["estimatedCost"]
    without = program("dev").outputs["estimatedCost"]
    share = with_spark["spark"]
    assert share["usdPerHour"] > 0
    assert with_spark["usdPerHour"] - without["usdPerHour"] == pytest.approx(share["usdPerHour"], abs=0.002)
    assert with_spark["nodes"]["worker"] - without["nodes"]["worker"] == share["nodes"]["worker"] == 1
    assert "spark" not in without


def test_a_workers_change_touches_only_the_worker_deployment_and_the_pools_ceiling() -> None:
    def inputs(capture: Any) -> dict[tuple[str, str], str]:
        return {(r.type, r.name): json.dumps(r.inputs, sort_keys=True, default=str) for r in capture.resources}

    before = inputs(spark_stack("dev", "r", {}))
    after = inputs(program("dev", engine="r", spark=json.dumps({"workers": 5})))
    assert before.keys() == after.keys()
    changed = {key for key in before if before[key] != after[key]}
    # The session, the Connect server and every script stay: only the workers scale, and the
    # worker pool's derived ceiling makes room for them.
    assert changed == {
        ("kubernetes:apps/v1:Deployment", "spark-worker-deployment"),
        ("gcp:container/nodePool:NodePool", "workers-pool"),
    }


GKE_SPARK = {"engine": "r"}


@pytest.mark.parametrize(
    ("value", "key", "words"),
    [
        ({"workers": 2, "workerMemory": "1Gi"}, "spark.workerMemory", "Spark needs at least 1536Mi"),
        ({"workers": 2, "driverMemory": "512Mi"}, "spark.driverMemory", "a Connect server needs"),
        ({"workers": 2, "version": "4.2.0"}, "spark.version", "no published apache/spark image"),
        ({"workers": 2, "version": "3.5.1"}, "spark.version", "4.1.2"),
        ({"workers": 2, "workerCpu": "500m"}, "spark.workerCpu", "whole cores"),
        ({"workers": 2, "worker": 3}, "spark.worker", "did you mean workers?"),
        ({"workers": 201}, "spark.workers", "0..200"),
        ({"workers": 2, "workerMemory": "200Gi"}, "spark.workerMemory", "does not fit on"),
        ({"workers": 2, "driverMemory": "64Gi"}, "spark.driverMemory", "does not fit on a"),
    ],
)
def test_spark_settings_spark_cannot_run_are_refused_naming_the_field(
    value: dict[str, Any], key: str, words: str
) -> None:
    found = problems(**GKE_SPARK, spark=json.dumps(value))
    assert any(p.startswith(f"kubepar:{key}:") and words in p for p in found), found


def test_spark_workers_over_the_pool_ceiling_are_counted_with_everything_else() -> None:
    found = problems(**GKE_SPARK, workers=2, workerPoolMaxNodes=1, spark=json.dumps({"workers": 4}))
    (problem,) = [p for p in found if p.startswith("kubepar:workerPoolMaxNodes:")]
    assert "2 workers need" in problem and "4 Spark workers need" in problem and "spark.workers" in problem


@pytest.mark.parametrize(
    ("raw", "key", "words"),
    [
        ({"engine": "hub", "hubAdmins": '["ada"]', "spark": SPARK}, "spark", "engine hub does not start Spark"),
        ({"engine": "r", "rVersion": "4.3.3", "spark": SPARK}, "spark", "use rVersion 4.4.2 or newer"),
        ({"engine": "r", "spark": "[2]"}, "spark", "is not a mapping"),
        ({"engine": "dask", "packages": '["pyspark-client==4.2.0"]', "spark": SPARK}, "packages", "4.1.2"),
        ({"engine": "dask", "packages": '["pyspark==4.1.2"]', "spark": SPARK}, "packages", "remove it"),
    ],
)
def test_spark_on_what_cannot_use_it_is_refused(raw: dict[str, Any], key: str, words: str) -> None:
    found = problems(**raw)
    assert any(p.startswith(f"kubepar:{key}:") and words in p for p in found), found


@pytest.mark.parametrize("value", ["{}", json.dumps({"workers": 0, "workerMemory": "8Gi"}), None])
def test_absent_empty_or_no_workers_is_no_spark(value: str | None) -> None:
    assert parse(engine="r", spark=value).workload.spark is None


def test_a_client_of_the_same_version_in_packages_is_refused_too_it_would_be_installed_twice() -> None:
    found = problems(engine="dask", packages='["pyspark-client==4.1.2"]', spark=SPARK)
    assert any("kubepar installs pyspark-client==4.1.2" in p for p in found), found


def test_every_spark_container_is_a_container_of_the_three_roles() -> None:
    capture = spark_stack("local", "r", {})
    spark_containers = [
        c for d in capture.kubernetes("Deployment") for c in containers(d) if c["image"].startswith("apache/spark")
    ]
    assert sorted(c["name"] for c in spark_containers) == sorted(ROLES)


@pytest.mark.parametrize(("stack", "engine", "extra"), ENGINES)
def test_the_policy_pack_passes_on_a_spark_stack(stack: str, engine: str, extra: dict[str, Any]) -> None:
    capture = spark_stack(stack, engine, extra)
    assert violations(capture, EnforcementLevel.MANDATORY) == []


@pytest.mark.parametrize(("stack", "engine", "extra"), ENGINES[:1] + ENGINES[2:3])
def test_the_driver_and_workers_read_the_results_the_session_reads(
    stack: str, engine: str, extra: dict[str, Any]
) -> None:
    capture = spark_stack(stack, engine, extra)
    found = deployments(capture)
    for role in ("spark-connect", "spark-worker"):
        pod = found[role]["spec"]["template"]["spec"]
        mount = only([m for m in pod["containers"][0]["volumeMounts"] if m["mountPath"] == "/results"])
        assert mount["readOnly"] is True
        volume = only([v for v in pod["volumes"] if v["name"] == mount["name"]])
        if stack == "dev":
            assert volume["csi"]["readOnly"] is True
            assert "uid=185,gid=185" in volume["csi"]["volumeAttributes"]["mountOptions"]
        else:
            assert volume["persistentVolumeClaim"]["readOnly"] is True
    assert not any(m["mountPath"] == "/results" for m in containers(found["spark-master"])[0]["volumeMounts"])
    if stack == "dev":
        readers = [
            r.inputs["member"]
            for r in capture.resources
            if r.type.endswith("BucketIAMMember") and "Viewer" in str(r.inputs)
        ]
        assert any("kubepar-spark-worker" in member for member in readers), readers
        assert any("kubepar-spark-connect" in member for member in readers), readers
