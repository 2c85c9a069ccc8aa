"""Stack config into settings: every key checked, every problem collected, then one answer.

Owns: :func:`parse`, which reads the keys every engine shares, hands the
engine's own keys, limits and packages to its plug-in, the GKE keys to
gke.py and the sweeps to sweeps.py, and builds :class:`Settings`. Does not:
call ``pulumi.Config`` (config/__init__.py does, once).
Invariant: :func:`parse` returns complete settings or raises one
:class:`ConfigError` with every problem.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping

from components import engines
from components.config.disks import pool_disks, read_node_disk
from components.config.door import parse_door
from components.config.gke import check_not_cluster_ranges, parse_gke
from components.config.hub import hub_worker_demand, parse_hub, users_quota
from components.config.spark import check_spark_fits, parse_spark
from components.config.sweeps import parse_sweeps
from components.engines.model import EnginePlugin, PodRole
from components.engines.python_language import parse_dask_version
from components.engines.r_language import cran_repository, parse_r_version
from components.ground.parsers import (
    check_stack_name,
    parse_cpu,
    parse_disk,
    parse_memory,
    parse_namespace,
    parse_snapshot,
)
from components.ground.pools import SYSTEM_POOL, SYSTEM_POOL_MAX_NODES, pod_size
from components.ground.project import DEFAULTS
from components.ground.reader import ConfigError, Reader
from components.ground.settings import GkeSettings, HubSettings, Settings, WorkloadSettings
from components.ground.sizing import (
    check_existing_pools,
    check_system_node_fits,
    check_system_pool,
)

PLATFORMS = ("gke", "existing")


def _engine_keys(read: Reader, chosen: EnginePlugin) -> tuple[tuple[str, str], ...]:
    """The selected engine's own keys; another engine's keys at a non-default value are refused."""
    for plugin in engines.plugins().values():
        if plugin is chosen:
            continue
        for key in plugin.own_keys:
            if read.text(key) != DEFAULTS.get(key, "") and not read.failed("engine"):
                read.fail(
                    key,
                    f"{read.text(key)!r} applies to engine {plugin.name} only; engine {chosen.name} "
                    "does not read it (remove it)",
                )
    chosen.check(read)
    return tuple(sorted(chosen.options(read).items()))


def parse(
    raw: Mapping[str, str | None], *, stack: str, gcp_project: str | None, backend_in_use: str | None = None
) -> Settings:
    """Validate raw config values (strings, lists as JSON) into :class:`Settings`.

    ``backend_in_use``: the backend this run keeps state in (PULUMI_BACKEND_URL), when known.
    Raises :class:`ConfigError` with every problem at once.
    """
    read = Reader(raw)
    check_state_backend(read, backend_in_use, stack)
    platform = read.choice("platform", PLATFORMS)
    namespace = read.parsed("namespace", parse_namespace, "for example kubepar", "kubepar")
    engine = read.choice("engine", tuple(engines.plugins()))
    plugin = engines.plugins()[engine]
    workers = read.integer("workers", 0, plugin.max_workers, plugin.workers_fix)
    r_version = read.parsed("rVersion", parse_r_version, "use a rocker image tag such as 4.6.1", "4.6.1")
    cpu_fix = "use a Kubernetes CPU quantity such as 1 or 500m"
    memory_fix = "use a Kubernetes memory quantity such as 2Gi or 512Mi"
    worker_cpu = read.parsed("workerCpu", parse_cpu, cpu_fix, "1")
    worker_memory = read.parsed("workerMemory", parse_memory, memory_fix, "2Gi")
    scheduler_cpu = read.parsed("schedulerCpu", parse_cpu, cpu_fix, "1")
    scheduler_memory = read.parsed("schedulerMemory", parse_memory, memory_fix, "2Gi")
    home_size = read.parsed("homeSize", parse_disk, "use a size such as 20Gi", "20Gi")
    worker_port = read.integer("workerPort", 1024, 65535, "use an unprivileged port such as 11562")
    setup_timeout = read.integer("workerSetupTimeout", 1, 60, "a few seconds keeps idle workers quick to join")
    # Package snapshot (R) and Dask release: R and Python sweeps use them whatever the engine.
    cran_snapshot = read.parsed("cranSnapshot", parse_snapshot, "use the date of a package snapshot", "2026-06-30")
    check_stack_name(read, stack)
    dask_version = read.parsed("daskVersion", parse_dask_version, "use a Dask release such as 2026.7.1", "2026.7.1")
    packages = plugin.packages(read, read.string_list("packages"))
    options = _engine_keys(read, plugin)
    spark = parse_spark(read, engine, r_version, packages)

    allowed = read.cidrs("allowedSourceRanges", "RStudio")
    kube_context = read.text("kubeContext") or None
    sweeps = parse_sweeps(read, worker_cpu, worker_memory) if not read.failed("workerCpu", "workerMemory") else []
    door = parse_door(read, engine, platform, allowed, gcp_project)
    hub: HubSettings | None = None
    # What the worker pool is sized for: the workers, or engine hub's sessions' workers.
    pool_workers, pool_cpu, pool_memory = workers, worker_cpu, worker_memory
    if engine == "hub":
        sizes = {
            "cpu": scheduler_cpu,
            "memory": scheduler_memory,
            "worker_cpu": worker_cpu,
            "worker_memory": worker_memory,
        }
        hub = parse_hub(read, sizes)
        # The pools hold hubMaxSessions sessions of the profile whose workers ask most.
        pool_workers, pool_cpu, pool_memory = hub_worker_demand(hub, workers, worker_cpu, worker_memory)

    gke: GkeSettings | None = None
    if platform == "gke":
        gke = parse_gke(read, gcp_project, pool_workers, pool_cpu, pool_memory, sweeps, spark)
        check_system_node_fits(read, gke.system_machine_type, scheduler_cpu, scheduler_memory, sidecar=True)
        check_spark_fits(read, spark, gke.system_machine_type, sidecar=True)
        check_not_cluster_ranges(read, allowed, gke)
    elif read.string_list("masterAuthorizedNetworks"):
        read.fail("masterAuthorizedNetworks", "only applies to platform gke; remove it")
    node_pools = platform == "gke" or read.boolean("nodePools")
    if platform == "existing" and node_pools and not read.failed("workerCpu", "workerMemory"):
        # A fixed pool: the hub's quota keeps sessions within it; each profile is checked below.
        if hub is not None:
            check_existing_pools(read, 0, worker_cpu, worker_memory, sweeps, scheduler_cpu, scheduler_memory)
        else:
            check_existing_pools(
                read, pool_workers, pool_cpu, pool_memory, sweeps, scheduler_cpu, scheduler_memory, spark
            )
            check_spark_fits(read, spark, read.text("systemMachineType"), sidecar=False)
    if hub is not None:
        hub = dataclasses.replace(hub, quota=users_quota(read, hub, _pools(read, node_pools, gke)))

    node_disk = read_node_disk(read)
    deletion_protection = read.boolean("deletionProtection")
    replace_home = read.boolean("replaceHome")
    if read.problems:
        raise ConfigError(read.problems)

    workload = WorkloadSettings(
        stack=stack,
        engine=engine,
        options=options,
        dask_version=dask_version,
        namespace=namespace,
        r_version=r_version,
        workers=workers,
        worker_cpu=worker_cpu,
        worker_memory=worker_memory,
        scheduler_cpu=scheduler_cpu,
        scheduler_memory=scheduler_memory,
        home_size=home_size,
        packages=tuple(sorted(packages)),
        allowed_source_ranges=allowed,
        worker_port=worker_port,
        worker_setup_timeout=setup_timeout,
        node_pools=node_pools,
        deletion_protection=deletion_protection,
        replace_home=replace_home,
        cran_snapshot=cran_snapshot,
        cran_repository=cran_repository(r_version, cran_snapshot),
        sweeps=tuple(sweeps),
        hub=hub,
        door=door,
        spark=spark,
    )
    # Each pool's boot disk holds its pods' disk: derived for GKE's pools, checked on an existing cluster's.
    disks = _pool_disks(read, workload, node_disk, gke) if node_pools else None
    if gke is not None:
        assert disks is not None, "GKE's pools are kubepar's"
        without = dataclasses.replace(workload, spark=None)
        disks_without_spark = disks if spark is None or read.problems else _pool_disks(read, without, node_disk, gke)
        built = engines.engine_for(workload)
        system = _system_nodes(read, gke, built.roles)
        without_spark = tuple(role for role in built.roles if not role.component.startswith("spark-"))
        gke = dataclasses.replace(
            gke,
            system_nodes=system,
            spark_system_nodes=system - _system_nodes(read, gke, without_spark) if spark is not None else 0,
            doors=sum(not door.forward_only for door in built.access),
            disks_gb=disks,
            disks_without_spark_gb=disks_without_spark,
        )
    if read.problems:
        raise ConfigError(read.problems)
    return Settings(
        stack=stack,
        platform=platform,
        kube_context=kube_context,
        gke=gke,
        workload=workload,
        password=None,
        warnings=tuple(read.warnings),
    )


_BACKEND_URL = re.compile(r"(gs|s3|azblob)://[a-z0-9][-_.a-z0-9]{1,220}(/[^\s]*)?|https://[^\s]+|file://[^\s]+")


def check_state_backend(read: Reader, backend_in_use: str | None, stack: str) -> None:
    """A stack that names its backend is deployed from that backend only.

    Two backends holding one stack name are two deployments of the same GCP
    resources: the second creates a duplicate network, then fails on the
    node service account's fixed id. Refused before anything is created.
    """
    declared = read.text("stateBackend").rstrip("/")
    if not declared:
        return
    if not _BACKEND_URL.fullmatch(declared):
        read.fail(
            "stateBackend",
            f"{declared!r} is not a Pulumi backend URL; use gs://<bucket>/<prefix> (a bucket you created for "
            "state), https://api.pulumi.com, or leave it empty for this clone's .pulumi-state folder",
        )
    elif declared.startswith("file://") and "metadata=skip" not in declared:
        # tools/stack.py file_backend: without it the blob library rewrites a
        # sidecar file in place, and the stack's read of its own last outputs
        # can catch it empty ("failed to load checkpoint: EOF").
        read.fail(
            "stateBackend",
            f"a folder backend needs its sidecar files off, or an up can fail reading its own state: "
            f"use {declared}?metadata=skip",
        )
    elif backend_in_use is not None and backend_in_use.rstrip("/") != declared:
        read.fail(
            "stateBackend",
            f"this stack's state lives in {declared}, but this run keeps state in {backend_in_use}: it would "
            "deploy the stack a second time beside the first (a duplicate network, then a clash on the node "
            f"service account). Run it through make (make up STACK={stack} uses {declared}), or export "
            f"PULUMI_BACKEND_URL={declared}",
        )


def _pools(read: Reader, node_pools: bool, gke: GkeSettings | None) -> tuple[str, int, str, int] | None:
    """(system machine, its node ceiling, worker machine, its node ceiling) of kubepar's pools, checked,
    or None when pods are not placed on pools (or the machine keys were refused)."""
    if not node_pools or read.failed("systemMachineType", "workerMachineType", "workerPoolMaxNodes"):
        return None
    ceiling = gke.worker_pool_max_nodes if gke is not None else int(read.text("workerPoolMaxNodes") or 0)
    return read.text("systemMachineType"), SYSTEM_POOL_MAX_NODES, read.text("workerMachineType"), ceiling


def _pool_disks(read: Reader, workload: WorkloadSettings, node_disk: int, gke: GkeSettings | None) -> tuple[int, int]:
    """Each pool's boot disk, holding its pods' ephemeral storage: derived for GKE's pools, checked otherwise."""
    machines = (read.text("systemMachineType"), read.text("workerMachineType"))
    return pool_disks(read, workload, machines, fixed=node_disk, sidecar=gke is not None, derive=gke is not None)


def _system_nodes(read: Reader, gke: GkeSettings, roles: tuple[PodRole, ...]) -> int:
    """System nodes the engine's system-pool pods need at once (the estimate counts these)."""
    pods: dict[str, tuple[int, int]] = {}
    for role in roles:
        if role.pool != SYSTEM_POOL:
            continue
        # The session (and Spark) mount the results bucket on GKE: the FUSE sidecar sits beside it.
        size = pod_size(role.cpu, role.memory, sidecar=role.session or role.storage.results)
        for replica in range(role.replicas):
            pods[role.component if role.replicas == 1 else f"{role.component}-{replica}"] = size
    return check_system_pool(read, gke.system_machine_type, pods)
