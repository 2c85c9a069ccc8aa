"""Pool sizing: whether what runs at once fits the pools, and how many worker nodes that takes.

Owns: the arithmetic of nodes from machine shapes (GKE's reservations
included) against workers, every sweep's parallelism together, the
scheduler and the storage sidecar; its problems name the key to change.
Does not: read config or create pools.
"""

from __future__ import annotations

import math

from components.ground import cost, quantities
from components.ground.machines import machine_problem
from components.ground.pools import (
    GCSFUSE_SIDECAR_CPU_MILLIS,
    GCSFUSE_SIDECAR_MEMORY_BYTES,
    SYSTEM_POOL_MAX_NODES,
    pod_size,
)
from components.ground.reader import Reader
from components.ground.settings import SparkSettings, SweepSettings

MAX_DERIVED_POOL_NODES = 1000


def worker_pool_size(
    read: Reader,
    machine: str,
    workers: int,
    worker_cpu: str,
    worker_memory: str,
    sweeps: list[SweepSettings],
    *,
    sidecar: bool = True,
    spark: SparkSettings | None = None,
) -> int:
    """The worker pool ceiling: derived, or set by hand, so workers, Spark's and every sweep fit at once.

    ``sidecar``: task pods mount the results bucket (GKE) and carry the FUSE sidecar.
    """
    shape = quantities.machine_shape(machine)
    # 0, the default, means derived (the CLI refuses a declared key without a default).
    max_nodes = read.integer("workerPoolMaxNodes", 0, 1000, "use 1..1000, or 0 to derive it")
    explicit = max_nodes > 0
    if shape is None or read.failed("workerCpu", "workerMemory", "workerMachineType", "workerPoolMaxNodes"):
        return max(1, max_nodes)
    per_node = quantities.workers_per_node(
        shape, quantities.cpu_millis(worker_cpu), quantities.memory_bytes(worker_memory)
    )
    if per_node == 0:
        read.fail(
            "workerMachineType",
            f"a worker ({worker_cpu} CPU, {worker_memory}) does not fit on {machine} "
            "after GKE's reservations; choose a larger machine or smaller workerCpu/workerMemory",
        )
        return max(1, max_nodes)
    worker_nodes = math.ceil(workers / per_node)
    needs = [f"{workers} workers need {worker_nodes} ({per_node} per node)"] if workers else []
    needed = worker_nodes
    if spark is not None:
        # Spark's workers read the results store too: on GKE, through the same sidecar.
        fit = quantities.workers_per_node(shape, *pod_size(spark.worker_cpu, spark.worker_memory, sidecar=sidecar))
        if fit == 0:
            read.fail(
                "spark.workerMemory",
                f"a Spark worker ({spark.worker_cpu} CPU, {spark.worker_memory}) does not fit on {machine} after "
                "GKE's reservations; choose a larger workerMachineType or a smaller spark.workerCpu/workerMemory",
            )
        else:
            nodes = math.ceil(spark.workers / fit)
            needs.append(f"{spark.workers} Spark workers need {nodes} ({fit} per node)")
            needed += nodes
    for sweep in sweeps:
        # Each task pod also carries the Cloud Storage FUSE sidecar.
        fit = quantities.workers_per_node(shape, *pod_size(sweep.cpu, sweep.memory, sidecar=sidecar))
        if fit == 0:
            beside = " and the storage sidecar" if sidecar else ""
            read.fail(
                f"sweeps[{sweep.name}].cpu",
                f"a task pod ({sweep.cpu} CPU, {sweep.memory}{beside}) does not fit on {machine}; "
                "choose a larger workerMachineType or a smaller cpu/memory for the sweep",
            )
            continue
        nodes = math.ceil(sweep.parallelism / fit)
        needs.append(f"sweep {sweep.name} needs {nodes} ({sweep.parallelism} pods, {fit} per node)")
        needed += nodes
    if explicit:
        if needed > max_nodes:
            # Pods past the ceiling would stay Pending for ever: refuse now, with the numbers.
            read.fail(
                "workerPoolMaxNodes",
                f"{max_nodes} {machine} nodes cannot hold everything that runs at once: {'; '.join(needs)}; "
                f"{needed} in all. Raise workerPoolMaxNodes to {needed} (or set 0 to derive it), "
                "or lower workers, spark.workers or a sweep's parallelism",
            )
        return max_nodes
    if needed > MAX_DERIVED_POOL_NODES:
        read.fail(
            "sweeps",
            f"workers and sweeps together need {needed} {machine} nodes, over the pool's {MAX_DERIVED_POOL_NODES}; "
            "lower parallelism or choose a larger workerMachineType",
        )
    return max(1, min(needed, MAX_DERIVED_POOL_NODES))


def machine_types(read: Reader, *, priced: bool = True) -> tuple[str, str]:
    """(system, worker) machine types, each one kubepar can size (and, for pools it creates, price).

    ``priced``: kubepar creates the pools (GKE), so each family's boot disk and
    price must be known too; an existing cluster's pools are only sized.
    """
    machines = (read.text("systemMachineType"), read.text("workerMachineType"))
    for key, machine in zip(("systemMachineType", "workerMachineType"), machines, strict=True):
        problem = machine_problem(machine)
        if problem is not None or quantities.machine_shape(machine) is None:
            read.fail(
                key,
                f"{machine!r} is not a machine type kubepar can size ({problem or 'no shape'}); choose one such "
                "as e2-standard-4, n2-highmem-8 or n2-custom-6-24576",
            )
            continue
        unpriced = cost.price_problem(machine) if priced else None
        if unpriced is not None:
            read.fail(key, f"{machine!r}: {unpriced}")
    return machines


def system_nodes(machine: str, pods: list[tuple[int, int]]) -> int:
    """System nodes that hold ``pods`` (CPU millis, memory bytes) at once, placed first-fit by size.

    The scheduler places each pod on a node with room; first-fit over pods
    sorted largest first is what it reaches in practice. A pod that fits on
    no node counts a node of its own (check_system_node_fits refuses it).
    """
    shape = quantities.machine_shape(machine)
    if shape is None:
        return 1
    cpu_left, memory_left = quantities.allocatable(shape)
    nodes: list[list[int]] = []
    for cpu, memory in sorted(pods, reverse=True):
        for node in nodes:
            if node[0] >= cpu and node[1] >= memory:
                node[0] -= cpu
                node[1] -= memory
                break
        else:
            nodes.append([cpu_left - cpu, memory_left - memory])
    return max(1, len(nodes))


def check_system_pool(read: Reader, machine: str, pods: dict[str, tuple[int, int]]) -> int:
    """System nodes the stack's system-pool pods need; refused past the pool's ceiling."""
    needed = system_nodes(machine, list(pods.values()))
    if needed > SYSTEM_POOL_MAX_NODES:
        listed = ", ".join(f"{name} ({cpu}m, {memory // 1024**2}Mi)" for name, (cpu, memory) in pods.items())
        read.fail(
            "systemMachineType",
            f"{listed} need {needed} {machine} nodes at once; the system pool has at most "
            f"{SYSTEM_POOL_MAX_NODES}. Choose a larger systemMachineType or lower schedulerCpu/schedulerMemory",
        )
    return needed


def check_existing_pools(
    read: Reader,
    workers: int,
    worker_cpu: str,
    worker_memory: str,
    sweeps: list[SweepSettings],
    cpu: str,
    memory: str,
    spark: SparkSettings | None = None,
) -> None:
    """platform existing with nodePools: the cluster's pools are fixed, so what runs must fit them now."""
    system_machine, worker_machine = machine_types(read, priced=False)
    if not read.failed("workerPoolMaxNodes") and read.text("workerPoolMaxNodes") in ("", "0"):
        read.fail(
            "workerPoolMaxNodes",
            "with nodePools on an existing cluster, set it to the number of worker nodes the cluster has; "
            "kubepar checks that workers and sweeps fit on them",
        )
        return
    worker_pool_size(read, worker_machine, workers, worker_cpu, worker_memory, sweeps, sidecar=False, spark=spark)
    check_system_node_fits(read, system_machine, cpu, memory, sidecar=False)


def check_system_node_fits(
    read: Reader,
    machine: str,
    cpu: str,
    memory: str,
    *,
    sidecar: bool,
    what: str = "the scheduler",
    keys: tuple[str, str] = ("schedulerCpu", "schedulerMemory"),
) -> None:
    """A system-pool pod (the scheduler or the Dask notebook; Spark's Connect server) must fit on one
    system node, or it stays Pending. ``keys`` set its CPU and memory.

    ``sidecar``: the pod mounts the results bucket (GKE), so the FUSE sidecar sits beside it.
    """
    shape = quantities.machine_shape(machine)
    if shape is None or read.failed(*keys):
        return
    cpu_needed, memory_needed = pod_size(cpu, memory, sidecar=sidecar)
    if quantities.workers_per_node(shape, cpu_needed, memory_needed) == 0:
        cpu_left, memory_left = quantities.allocatable(shape)
        beside = (
            f", and the storage sidecar's {GCSFUSE_SIDECAR_CPU_MILLIS}m, {GCSFUSE_SIDECAR_MEMORY_BYTES // 1024**2}Mi"
            if sidecar
            else ""
        )
        read.fail(
            keys[1] if memory_needed > memory_left else keys[0],
            f"{what} ({cpu} CPU, {memory}{beside}) does not fit on a {machine} system node, "
            f"which has {cpu_left}m CPU and {memory_left // 1024**2}Mi left after GKE's reservations; "
            f"its pod would stay Pending. Lower {keys[0]}/{keys[1]} or choose a larger systemMachineType",
        )
