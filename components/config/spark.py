"""The ``spark`` key: a Spark Connect cluster beside engine r or dask, checked whole.

Owns: reading the mapping (JSON from the CLI, a YAML mapping in the stack
file), refusing unknown fields, sizes Spark cannot start in, versions with
no published image, engines that cannot use it, and a Spark client in
``packages`` at another version than the server. Does not: size the pools
(ground/sizing.py counts the workers) or build roles (engines/spark.py).
Invariant: a SparkSettings exists only when every field is valid; absent,
``{}`` or ``workers: 0`` is no Spark at all.
"""

from __future__ import annotations

from components.engines.python_language import requirement_name
from components.engines.r_language import ubuntu_series
from components.ground import quantities, spark
from components.ground.parsers import parse_cpu, parse_memory
from components.ground.reader import Reader
from components.ground.settings import SparkSettings
from components.ground.sizing import check_system_node_fits

KEY = "spark"
FIELDS = ("workers", "workerCpu", "workerMemory", "driverCpu", "driverMemory", "version")
DEFAULTS = {"workerCpu": "1", "workerMemory": "4Gi", "driverCpu": "1", "driverMemory": "2Gi", "version": "4.1.2"}
MAX_WORKERS = 200
ENGINES = ("r", "dask")
# Spark's own Python clients: one at another minor version than the server breaks createDataFrame.
CLIENT_PACKAGES = ("pyspark", "pyspark-client", "pyspark-connect")


def parse_spark(read: Reader, engine: str, r_version: str, packages: list[str]) -> SparkSettings | None:
    """The ``spark`` settings, or None for no Spark (problems recorded on ``read``)."""
    entry = read.mapping(KEY, "{workers: 2, workerMemory: 4Gi}")
    if entry is None:
        return None
    read.unknown_fields(KEY, entry, FIELDS, "spark")
    workers = read.bounded(f"{KEY}.workers", entry.get("workers", 0), 0, MAX_WORKERS, f"use 0..{MAX_WORKERS}")
    if not workers:
        return None
    if engine not in ENGINES:
        read.fail(
            KEY,
            f"engine {engine} does not start Spark (the hub's profiles do not yet); use engine r or dask, "
            "or remove spark",
        )
        return None
    values = {**DEFAULTS, **{key: entry[key] for key in FIELDS if key in entry and key != "workers"}}
    worker_cpu = read.quantity(f"{KEY}.workerCpu", values["workerCpu"], parse_cpu, "1 or 2")
    if worker_cpu is not None and quantities.cpu_millis(worker_cpu) % 1000:
        read.fail(f"{KEY}.workerCpu", f"{worker_cpu!r}: a worker's executor runs whole cores; use 1, 2 or more")
    driver_cpu = read.quantity(f"{KEY}.driverCpu", values["driverCpu"], parse_cpu, "1 or 500m")
    worker_memory = read.quantity(f"{KEY}.workerMemory", values["workerMemory"], parse_memory, "4Gi")
    driver_memory = read.quantity(f"{KEY}.driverMemory", values["driverMemory"], parse_memory, "2Gi")
    if worker_memory is not None and quantities.memory_mib(worker_memory) < spark.MIN_WORKER_MEMORY_MIB:
        executor = max(0, spark.executor_heap_mib(quantities.memory_mib(worker_memory)))
        read.fail(
            f"{KEY}.workerMemory",
            f"{worker_memory!r} leaves the executor {executor} MiB "
            f"beside the worker daemon and the JVMs' overhead; Spark needs at least "
            f"{spark.MIN_WORKER_MEMORY_MIB}Mi (4Gi is a good start)",
        )
    if driver_memory is not None and quantities.memory_mib(driver_memory) < spark.MIN_DRIVER_MEMORY_MIB:
        read.fail(
            f"{KEY}.driverMemory",
            f"{driver_memory!r} is below the {spark.MIN_DRIVER_MEMORY_MIB}Mi a Connect server needs (2Gi is a "
            "good start; results you collect pass through it)",
        )
    version = str(values["version"])
    if version not in spark.SPARK_VERSIONS:
        read.fail(
            f"{KEY}.version",
            f"{version!r} has no published apache/spark image with Java 17 and a Connect client; use one of "
            f"{', '.join(spark.SPARK_VERSIONS)}",
        )
    if engine == "r" and ubuntu_series(r_version) != "noble":
        read.fail(
            KEY,
            f"rVersion {r_version} runs on Ubuntu {ubuntu_series(r_version)}, older than the Python the RStudio pod "
            "gets for sparklyr (built on Debian bookworm); use rVersion 4.4.2 or newer with Spark",
        )
    # engine dask: packages are pinned requirements (already checked), one of them perhaps a Spark client.
    clients = [spec for spec in packages if requirement_name(spec) in CLIENT_PACKAGES] if engine == "dask" else []
    for requirement in clients:
        read.fail(
            "packages",
            f"{requirement!r}: kubepar installs pyspark-client=={version}, the server's own version (a client "
            f"of another minor version breaks createDataFrame); remove it, or change {KEY}.version",
        )
    if read.failed(KEY, "packages", *(f"{KEY}.{field}" for field in FIELDS)):
        return None
    assert None not in (worker_cpu, driver_cpu, worker_memory, driver_memory), "a quantity that fails is recorded"
    return SparkSettings(
        workers=workers,
        worker_cpu=str(worker_cpu),
        worker_memory=str(worker_memory),
        driver_cpu=str(driver_cpu),
        driver_memory=str(driver_memory),
        version=version,
    )


def check_spark_fits(read: Reader, config: SparkSettings | None, machine: str, *, sidecar: bool) -> None:
    """The Connect server must fit on one system node, or it stays Pending (the master is smaller than
    any system machine kubepar accepts). ``sidecar``: on GKE it reads the results bucket through the
    FUSE sidecar, which sits beside it."""
    if config is None or read.failed("systemMachineType"):
        return
    check_system_node_fits(
        read,
        machine,
        config.driver_cpu,
        config.driver_memory,
        sidecar=sidecar,
        what="the Connect server",
        keys=(f"{KEY}.driverCpu", f"{KEY}.driverMemory"),
    )
