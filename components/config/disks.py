"""Node disks: the boot disk each pool needs for the ephemeral storage of what runs on it.

Owns: the ``nodeDiskGb`` key, the pods of each pool as kinds (what one pod
asks of a node's CPU, memory and disk, and how many may run at once), the
boot disk a pool derives from them, and the refusals: a pod whose disk no
node could hold, or pools whose disk (set by hand, or an existing cluster's)
is too small. Does not: decide a pod's disk (engines/model.py: its volumes,
its writable layer and its logs) or price it (ground/cost.py).
Invariant: each kind of pod, as many as fit on a node by CPU and memory,
fits that node's disk too; the pods that run once each (the session, the
schedulers) fit one system node's disk all together.
"""

from __future__ import annotations

from dataclasses import dataclass

from components import engines
from components.engines import hub_users
from components.engines.model import PodRole, container_disks, pod_disk
from components.engines.sweeps import sweep_plan
from components.ground import quantities
from components.ground.disk import (
    EXISTING_NODE_DISK_GB,
    MAX_NODE_DISK_GB,
    NODE_DISK_GB,
    allocatable_bytes,
    disk_for,
    gib_text,
)
from components.ground.hub_sizes import profile_pods
from components.ground.pools import GCSFUSE_SIDECAR_EPHEMERAL, SYSTEM_POOL, WORKER_POOL, pod_size
from components.ground.reader import Reader
from components.ground.settings import WorkloadSettings

MIN_NODE_DISK_GB = 10
"""GKE's smallest boot disk."""


@dataclass(frozen=True, kw_only=True)
class PodKind:
    """Pods of one kind on a pool, as the node sees them."""

    what: str
    """For messages: ``the session``, ``sweep fit's tasks``."""
    key: str
    """The key that changes its disk (a sweep's ``disk``), or ``nodeDiskGb``."""
    cpu: int
    memory: int
    disk: int
    """Bytes of node disk one pod requests, the storage sidecar's included."""
    count: int
    """How many may run at once."""


def read_node_disk(read: Reader) -> int:
    """``nodeDiskGb``: 0 (derive, or an existing cluster's default) or a boot disk GKE can make."""
    value = read.integer(
        "nodeDiskGb", 0, MAX_NODE_DISK_GB, f"use 0 to derive it, or {MIN_NODE_DISK_GB}..{MAX_NODE_DISK_GB}"
    )
    if 0 < value < MIN_NODE_DISK_GB:
        read.fail("nodeDiskGb", f"{value} GB is under GKE's smallest boot disk; use 0 or {MIN_NODE_DISK_GB}..")
        return 0
    return value


def _kind(role: PodRole, what: str, count: int, *, sidecar: bool, key: str = "nodeDiskGb") -> PodKind:
    cpu, memory = pod_size(role.cpu, role.memory, sidecar=sidecar)
    extra = quantities.memory_bytes(GCSFUSE_SIDECAR_EPHEMERAL) if sidecar else 0
    return PodKind(what=what, key=key, cpu=cpu, memory=memory, disk=pod_disk(role) + extra, count=count)


def pool_kinds(workload: WorkloadSettings, *, sidecar: bool) -> dict[str, list[PodKind]]:
    """The pods of each pool, by kind. ``sidecar``: pods that read the results store carry GKE's FUSE sidecar."""
    kinds: dict[str, list[PodKind]] = {SYSTEM_POOL: [], WORKER_POOL: []}
    for role in engines.engine_for(workload).roles:
        mounts = sidecar and (role.session or role.storage.results)
        kinds[role.pool].append(_kind(role, f"the {role.component}", role.replicas, sidecar=mounts))
    for sweep in workload.sweeps:
        role = sweep_plan(workload, sweep).role
        what = f"sweep {sweep.name}'s tasks"
        kinds[role.pool].append(_kind(role, what, sweep.parallelism, sidecar=sidecar, key=f"sweeps[{sweep.name}].disk"))
    hub = workload.hub
    if hub is None:
        return kinds
    for profile in hub.profiles:
        (cpu, memory), _, _ = profile_pods(profile)
        # One pod, its containers side by side: the kubelet adds their disks up.
        parts = hub_users.session_roles(workload, profile, hub.idle_minutes)
        disk = sum(container_disks(role)["main"] for role in parts)
        what = f"profile {profile.name}'s sessions"
        kinds[SYSTEM_POOL].append(
            PodKind(what=what, key="nodeDiskGb", cpu=cpu, memory=memory, disk=disk, count=hub.max_sessions)
        )
        for role in hub_users.worker_roles(workload, profile):
            count = hub.max_sessions * role.replicas
            kinds[role.pool].append(_kind(role, f"profile {profile.name}'s {role.component}s", count, sidecar=False))
    return kinds


def needed_disk(machine: str, kinds: list[PodKind]) -> int:
    """Bytes of node disk a node of ``machine`` needs: the pods that run once, together, or the most
    pods of one kind that fit by CPU and memory, whichever is more."""
    shape = quantities.machine_shape(machine)
    single = sum(kind.disk for kind in kinds if kind.count == 1)
    most = 0
    for kind in kinds:
        fit = quantities.workers_per_node(shape, kind.cpu, kind.memory) if shape is not None else 1
        most = max(most, min(kind.count, max(fit, 1)) * kind.disk)
    return max(single, most)


def pool_disks(
    read: Reader, workload: WorkloadSettings, machines: tuple[str, str], *, fixed: int, sidecar: bool, derive: bool
) -> tuple[int, int]:
    """(system, worker) boot disks in GiB: derived from the pods (``derive``: kubepar makes the pools and
    ``fixed`` is 0), or ``fixed``, checked to hold them."""
    kinds = pool_kinds(workload, sidecar=sidecar)
    deriving = derive and not fixed
    disk_gb = fixed or (NODE_DISK_GB if derive else EXISTING_NODE_DISK_GB)
    largest_gb = MAX_NODE_DISK_GB if deriving else disk_gb
    largest = allocatable_bytes(largest_gb)
    disks = []
    for pool, machine in zip((SYSTEM_POOL, WORKER_POOL), machines, strict=True):
        too_big = [kind for kind in kinds[pool] if kind.disk > largest]
        for kind in too_big:
            fixes = ["lower its disk"] if kind.key != "nodeDiskGb" else []
            if not deriving:
                fixes.append("raise nodeDiskGb (the nodes' boot disk)")
            fixes.append("keep large data in the results store or a claim")
            read.fail(
                kind.key,
                f"one pod of {kind.what} asks {gib_text(kind.disk)} of node disk, more than a node's "
                f"{gib_text(largest)} (what GKE leaves pods of a {largest_gb} GB boot disk); {', or '.join(fixes)}",
            )
        needed = needed_disk(machine, kinds[pool])
        if too_big:
            disks.append(disk_gb)
        elif deriving:
            derived = disk_for(needed)
            if derived is None:
                read.fail(
                    "nodeDiskGb",
                    f"the {pool} pool's pods need {gib_text(needed)} of disk on a {machine} node, more than a "
                    f"{MAX_NODE_DISK_GB} GB boot disk leaves; choose a smaller {pool} machine type, or fewer "
                    "or smaller pods",
                )
            disks.append(derived or MAX_NODE_DISK_GB)
        else:
            if needed > allocatable_bytes(disk_gb):
                fix = (
                    f"raise it to {disk_for(needed) or MAX_NODE_DISK_GB}, or set 0 to derive it"
                    if derive
                    else "set it to your nodes' boot disk, or give the pool nodes with larger disks"
                )
                read.fail(
                    "nodeDiskGb",
                    f"a {machine} node of the {pool} pool needs {gib_text(needed)} of disk for its pods, more than "
                    f"the {gib_text(allocatable_bytes(disk_gb))} GKE leaves pods of a {disk_gb} GB boot disk; {fix}",
                )
            disks.append(disk_gb)
    return disks[0], disks[1]
