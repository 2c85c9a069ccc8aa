"""Spark beside an engine (the ``spark`` key): a Connect server, a standalone master and workers.

Owns: the three Spark roles from one ``apache/spark`` image (each JVM is
PID 1, as the image's user, with fixed ports), their edges, and what the
session gets: the Connect address in its environment and Spark's client
(pyspark-client at the server's version; in RStudio, sparklyr and
pysparklyr with a Python of their own). Does not: read config
(config/spark.py) or know Kubernetes objects.
Invariant: only the session reaches the Connect port; the Spark roles reach
each other on their fixed ports only; the driver and workers read the
results store read-only, as the session does.
"""

from __future__ import annotations

from dataclasses import replace

from components.engines.model import (
    SCRIPTS_DIR,
    Access,
    Disruption,
    Edge,
    Engine,
    Exposure,
    PodRole,
    Probe,
    PythonEnv,
    Security,
    Storage,
    endpoint_host,
    files,
)
from components.engines.python_language import pip_installer
from components.ground import quantities, spark
from components.ground.settings import SparkSettings, WorkloadSettings

POD_IP_ENV = "KUBEPAR_POD_IP"
POD_IP = f"$({POD_IP_ENV})"
WORK_DIR = "/tmp/spark-work"
WAREHOUSE_DIR = "/tmp/spark-warehouse"
# The RStudio pod's interpreter for pysparklyr: the official Python image's /usr/local, copied into
# a volume (its binary finds its libraries relative to itself), and a virtualenv of pyspark-client.
PYTHON_IMAGE = "python:3.12.13-slim-bookworm"
PYTHON_DIR = "/opt/kubepar/python"
SECURITY = Security(run_as_user=spark.SPARK_UID, fs_group=spark.SPARK_UID)
UID_SKIP = (("CKV_K8S_40", "runs as the apache/spark image's own user, UID 185: Spark needs its UID in /etc/passwd"),)
JVM_LIVENESS = (
    "the JVM is PID 1: when it dies the container ends and restarts; a long garbage collection can miss a "
    "check, and a restart of a healthy daemon would throw away the work below"
)


def connect_url(settings: WorkloadSettings) -> str:
    return f"sc://{endpoint_host(settings, spark.CONNECT_SERVICE)}:{spark.CONNECT_PORT}"


def master_url(settings: WorkloadSettings) -> str:
    return f"spark://{endpoint_host(settings, spark.MASTER_SERVICE)}:{spark.MASTER_PORT}"


def executor_memory(config: SparkSettings) -> str:
    """What a worker offers its executor, and the executor's heap: the same figure on both sides."""
    return f"{spark.executor_heap_mib(quantities.memory_mib(config.worker_memory))}m"


def _daemon(name: str, port: int, ui_port: int, *args: str) -> tuple[str, ...]:
    """A standalone daemon (master or worker) on the pod's own address, its port and its web UI's."""
    # exec'd by the container runtime: the JVM is PID 1 and gets SIGTERM itself.
    host = ("--host", POD_IP, "--port", str(port), "--webui-port", str(ui_port))
    return (f"{spark.SPARK_HOME}/bin/spark-class", name, *host, *args)


def master_role(config: SparkSettings) -> PodRole:
    return PodRole(
        component="spark-master",
        image=spark.image(config.version),
        command=_daemon("org.apache.spark.deploy.master.Master", spark.MASTER_PORT, spark.MASTER_UI_PORT),
        env=(
            ("SPARK_DAEMON_MEMORY", f"{spark.DAEMON_HEAP_MIB * 2}m"),
            # The master's REST submission server (port 6066) runs any jar for whoever reaches it.
            ("SPARK_MASTER_OPTS", "-Dspark.master.rest.enabled=false"),
        ),
        field_env=((POD_IP_ENV, "status.podIP"),),
        cpu=spark.MASTER_CPU,
        memory=spark.MASTER_MEMORY,
        probe=Probe(port=spark.MASTER_PORT, liveness=False, why=f"{JVM_LIVENESS} (every worker's registration)"),
        security=SECURITY,
        checkov_skips=UID_SKIP,
        disruption=Disruption(
            why=(
                "the workers and the Connect server register with the master again when it comes back, but the "
                "applications it runs meanwhile fail: the autoscaler leaves it put; no budget, so a drain moves it"
            ),
            safe_to_evict=False,
        ),
        exposure=Exposure(
            ports=(("spark-master", spark.MASTER_PORT), ("ui", spark.MASTER_UI_PORT)),
            endpoint_port=spark.MASTER_PORT,
            endpoint_service=spark.MASTER_SERVICE,
            internet="none",
        ),
    )


def worker_role(settings: WorkloadSettings, config: SparkSettings) -> PodRole:
    cores = quantities.whole_cpus(config.worker_cpu)
    return PodRole(
        component="spark-worker",
        image=spark.image(config.version),
        command=_daemon(
            "org.apache.spark.deploy.worker.Worker",
            spark.WORKER_PORT,
            spark.WORKER_UI_PORT,
            *("--cores", cores, "--memory", executor_memory(config)),
            *("--work-dir", WORK_DIR, master_url(settings)),
        ),
        env=(
            ("SPARK_DAEMON_MEMORY", f"{spark.DAEMON_HEAP_MIB}m"),
            # Shuffle files and spilled blocks: the /tmp volume, counted against its size limit.
            ("SPARK_LOCAL_DIRS", "/tmp"),
        ),
        field_env=((POD_IP_ENV, "status.podIP"),),
        cpu=config.worker_cpu,
        memory=config.worker_memory,
        blas_threads=cores,
        probe=Probe(port=spark.WORKER_PORT, liveness=False, why=f"{JVM_LIVENESS} (its executors' running tasks)"),
        replicas=config.workers,
        pool="workers",
        security=SECURITY,
        checkov_skips=UID_SKIP,
        storage=Storage(tmp_size="20Gi", results=True),
        disruption=Disruption(
            why=(
                "a lost worker costs a rerun of its tasks, not the query (Spark recomputes lost partitions): the "
                "autoscaler may move it, and no budget holds a drain"
            ),
            grace_seconds=15,
            await_rollout=False,
            safe_to_evict=True,
        ),
        exposure=Exposure(
            ports=(
                ("worker", spark.WORKER_PORT),
                ("ui", spark.WORKER_UI_PORT),
                ("block-manager", spark.BLOCK_MANAGER_PORT),
            ),
            # The results bucket's FUSE sidecar (GKE), and data a query reads over HTTPS.
            internet="https",
        ),
    )


def connect_role(settings: WorkloadSettings, config: SparkSettings) -> PodRole:
    conf = {
        "spark.driver.host": POD_IP,
        "spark.driver.bindAddress": POD_IP,
        "spark.driver.port": spark.DRIVER_PORT,
        "spark.driver.blockManager.port": spark.DRIVER_BLOCK_MANAGER_PORT,
        "spark.blockManager.port": spark.BLOCK_MANAGER_PORT,
        "spark.ui.port": spark.DRIVER_UI_PORT,
        "spark.connect.grpc.binding.port": spark.CONNECT_PORT,
        "spark.executor.memory": executor_memory(config),
        "spark.executor.cores": quantities.whole_cpus(config.worker_cpu),
        "spark.sql.warehouse.dir": WAREHOUSE_DIR,
        "spark.local.dir": "/tmp",
    }
    return PodRole(
        component="spark-connect",
        image=spark.image(config.version),
        command=(
            f"{spark.SPARK_HOME}/bin/spark-submit",
            *("--class", "org.apache.spark.sql.connect.service.SparkConnectServer"),
            *("--name", "kubepar-spark-connect", "--master", master_url(settings)),
            *("--driver-memory", f"{spark.driver_heap_mib(quantities.memory_mib(config.driver_memory))}m"),
            *(item for key, value in conf.items() for item in ("--conf", f"{key}={value}")),
        ),
        field_env=((POD_IP_ENV, "status.podIP"),),
        cpu=config.driver_cpu,
        memory=config.driver_memory,
        probe=Probe(
            port=spark.CONNECT_PORT,
            liveness=False,
            why=f"{JVM_LIVENESS} (every user's Spark session, its cached tables and running queries)",
        ),
        security=SECURITY,
        checkov_skips=UID_SKIP,
        storage=Storage(tmp_size="10Gi", results=True),
        disruption=Disruption(
            why=(
                "the driver: every user's Spark session, cached table and running query lives here, so the budget "
                "makes a drain wait and the autoscaler leaves it put"
            ),
            safe_to_evict=False,
            budget=True,
        ),
        exposure=Exposure(
            ports=(
                ("spark-connect", spark.CONNECT_PORT),
                ("driver", spark.DRIVER_PORT),
                ("driver-blocks", spark.DRIVER_BLOCK_MANAGER_PORT),
                ("ui", spark.DRIVER_UI_PORT),
            ),
            endpoint_port=spark.CONNECT_PORT,
            endpoint_service=spark.CONNECT_SERVICE,
            internet="https",
        ),
    )


def _edges(session: str) -> tuple[Edge, ...]:
    return (
        Edge(client=session, server="spark-connect", port=spark.CONNECT_PORT),
        Edge(client="spark-connect", server="spark-master", port=spark.MASTER_PORT),
        Edge(client="spark-worker", server="spark-master", port=spark.MASTER_PORT),
        Edge(client="spark-master", server="spark-worker", port=spark.WORKER_PORT),
        Edge(client="spark-master", server="spark-connect", port=spark.DRIVER_PORT),
        Edge(client="spark-worker", server="spark-connect", port=spark.DRIVER_PORT),
        Edge(client="spark-worker", server="spark-connect", port=spark.DRIVER_BLOCK_MANAGER_PORT),
        Edge(client="spark-connect", server="spark-worker", port=spark.BLOCK_MANAGER_PORT),
        Edge(client="spark-worker", server="spark-worker", port=spark.BLOCK_MANAGER_PORT),
    )


def client_requirement(config: SparkSettings) -> str:
    """The session's client: exactly the server's version (a newer minor breaks createDataFrame)."""
    return f"pyspark-client=={config.version}"


def _session(settings: WorkloadSettings, engine: Engine, session: PodRole, config: SparkSettings) -> PodRole:
    env = (*session.env, ("KUBEPAR_SPARK_REMOTE", connect_url(settings)), ("KUBEPAR_SPARK_VERSION", config.version))
    installer = session.installer
    if engine.name == "r":
        assert installer is not None, "every R pod has an installer"
        listed = dict(installer.env)["KUBEPAR_PACKAGES"].split()
        extra = [name for name in ("sparklyr", "pysparklyr", "reticulate", "arrow") if name not in listed]
        python = PythonEnv(
            image=PYTHON_IMAGE,
            path=PYTHON_DIR,
            # pysparklyr looks for this virtualenv name under RETICULATE_VIRTUALENV_ROOT.
            name=f"r-sparklyr-pyspark-{spark.minor(config.version)}",
            requirements=(client_requirement(config),),
        )
        installer = replace(
            installer,
            env=tuple((k, " ".join([*listed, *extra]) if k == "KUBEPAR_PACKAGES" else v) for k, v in installer.env),
            python=python,
        )
        # kubepar-spark.R loads kubepar.R, then adds kubepar_spark(): a stack without Spark keeps its scripts.
        env = tuple(
            (name, f"{SCRIPTS_DIR}/kubepar-spark.R" if name == "R_PROFILE_USER" else value) for name, value in env
        )
        env = (*env, ("RETICULATE_VIRTUALENV_ROOT", f"{PYTHON_DIR}/envs"), ("KUBEPAR_SPARK_ENV", python.name))
    else:
        packages = (*settings.packages, client_requirement(config))
        # SCRIPTS_DIR first: `import kubepar` finds kubepar.spark().
        installer = pip_installer(settings, packages, extra_path=f"{SCRIPTS_DIR}:")
    return replace(session, env=env, installer=installer)


def with_spark(engine: Engine, settings: WorkloadSettings) -> Engine:
    """``engine`` with Spark beside it, when the ``spark`` key asks for it; else unchanged."""
    config = settings.spark
    session = engine.session
    if config is None or session is None:
        return engine
    roles = tuple(_session(settings, engine, role, config) if role is session else role for role in engine.roles)
    extra = files("spark", ("kubepar.py",)) if engine.name == "dask" else {}
    extra |= files("spark", ("install-python-env.sh", "kubepar-spark.R")) if engine.name == "r" else {}
    return replace(
        engine,
        roles=(*roles, connect_role(settings, config), master_role(config), worker_role(settings, config)),
        files={**engine.files, **extra},
        edges=(*engine.edges, *_edges(session.component)),
        access=(
            *engine.access,
            Access(component="spark-master", port=spark.MASTER_UI_PORT, prefix="sparkMasterUi", forward_only=True),
            Access(component="spark-connect", port=spark.DRIVER_UI_PORT, prefix="sparkUi", forward_only=True),
        ),
        outputs=(*engine.outputs, ("sparkConnect", connect_url(settings)), ("sparkVersion", config.version)),
    )
