"""Facts of Apache Spark that the Spark roles, config and the policy pack share.

Owns: the Spark versions with published ``apache/spark`` images (Apache's
spark-docker ``versions.json``), the image's user, the ports kubepar fixes
and which of them are private, the fixed Service names, and the sizes of the
master and the JVM overheads config checks against. Does not: build roles
(engines/spark.py) or read config (config/spark.py).
Invariant: every Spark port a pod listens on is fixed here, so the network
policies are edges on named ports, never "any port".
"""

from __future__ import annotations

# apache/spark-docker versions.json (its snapshot of 2026-06-25): every 4.x release, each tagged
# `<version>-scala2.13-java17-python3-ubuntu` (the short `<version>-java17` exists for 4.1.x only, so
# kubepar names the full tag). pyspark-client, the Connect-only client, starts at 4.0.0.
SPARK_VERSIONS = ("4.0.0", "4.0.1", "4.0.2", "4.0.3", "4.1.0", "4.1.1", "4.1.2")
SPARK_HOME = "/opt/spark"
# The image's `spark` user and group (its Dockerfile: useradd --uid 185, home /nonexistent):
# Spark needs a passwd entry for its UID ("Invalid UID" otherwise).
SPARK_UID = 185

CONNECT_PORT = 15002
MASTER_PORT = 7077
WORKER_PORT = 7078
DRIVER_PORT = 7079
DRIVER_BLOCK_MANAGER_PORT = 7080
BLOCK_MANAGER_PORT = 7081
MASTER_UI_PORT = 8080
WORKER_UI_PORT = 8081
DRIVER_UI_PORT = 4040
# Whoever reaches these runs code in the cluster: never behind a LoadBalancer, NodePort or route.
PRIVATE_PORTS = (CONNECT_PORT, MASTER_PORT, WORKER_PORT, DRIVER_PORT, DRIVER_BLOCK_MANAGER_PORT, BLOCK_MANAGER_PORT)
CONNECT_SERVICE = "kubepar-spark-connect"
MASTER_SERVICE = "kubepar-spark-master"
SERVICES = (CONNECT_SERVICE, MASTER_SERVICE)
COMPONENTS = ("spark-connect", "spark-master", "spark-worker")

MASTER_CPU = "500m"
MASTER_MEMORY = "1Gi"
# The master and worker daemons' heap (SPARK_DAEMON_MEMORY); the worker's executor gets the rest.
DAEMON_HEAP_MIB = 256
# What a JVM uses beside its heap (metaspace, threads, direct buffers): Spark's own
# memoryOverhead rule, max(384 MiB, 10%).
MIN_OVERHEAD_MIB = 384
# Below these a Spark JVM cannot start a session or run a task of the default 128 MiB partitions.
MIN_DRIVER_MEMORY_MIB = 1024
MIN_WORKER_MEMORY_MIB = 1536
MIN_EXECUTOR_HEAP_MIB = 512


def image(version: str) -> str:
    return f"apache/spark:{version}-scala2.13-java17-python3-ubuntu"


def minor(version: str) -> str:
    """``4.1`` of ``4.1.2``: client and server must share it."""
    return ".".join(version.split(".")[:2])


def overhead_mib(memory_mib: int) -> int:
    return max(MIN_OVERHEAD_MIB, memory_mib // 10)


def driver_heap_mib(memory_mib: int) -> int:
    """The Connect server's heap in a container of ``memory_mib``."""
    return memory_mib - overhead_mib(memory_mib)


def executor_heap_mib(memory_mib: int) -> int:
    """The executor's heap in a worker container of ``memory_mib`` (beside the worker daemon)."""
    left = memory_mib - DAEMON_HEAP_MIB - MIN_OVERHEAD_MIB
    return left - overhead_mib(left)
