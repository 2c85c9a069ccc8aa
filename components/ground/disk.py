"""Node disk: what GKE leaves pods of a boot disk, and the boot disk a pool needs for what it holds.

Owns: GKE's local ephemeral storage reservation (the boot disk is the
node's only local storage: container layers, logs and emptyDir volumes
share it), the smallest boot disk that leaves pods a given amount, and the
log allowance every container counts. Does not: know which pods run where
(config/disks.py adds them up) or create pools.
Invariant: a pool's boot disk leaves at least the ephemeral storage its
pods request; a pod never asks for more than the largest disk kubepar makes
would leave.
"""

from __future__ import annotations

import math

GIB = 1024**3
NODE_DISK_GB = 50
"""The smallest boot disk kubepar gives a node (GCE sizes disks in GiB; GKE's own default is 100)."""
MAX_NODE_DISK_GB = 2000
"""The largest boot disk kubepar derives: past it, a pod's disk is better on a claim than on every node."""
DISK_STEP_GB = 10
"""Derived boot disks grow in steps of this, so that a small change of pods does not resize the pool."""
EXISTING_NODE_DISK_GB = 100
"""An existing cluster's boot disk when ``nodeDiskGb`` does not say: GKE's default for a new pool."""
# COS keeps two read-only root partitions and its own state beside the stateful partition the
# kubelet sees: GKE's published example (100 GB disk) shows 98831908Ki of capacity and
# 47060071478 bytes allocatable, 5.2 GiB under the reservation formula alone.
OS_PARTITIONS_BYTES = 6 * GIB
LOG_BYTES = 64 * 1024**2
"""Each container's logs, as the node keeps them: GKE rotates at 10Mi and keeps 5 files."""


def allocatable_bytes(disk_gb: int) -> int:
    """Ephemeral storage GKE leaves pods on a boot disk of ``disk_gb`` GiB.

    GKE's reservation (plan-node-sizes, "Local ephemeral storage reservation"):
    an eviction threshold of 10% of the disk, and a system reservation of
    min(50% of the disk, 6 GiB + 35% of the disk, 100 GiB); less the OS's own
    partitions, measured from GKE's example.
    """
    disk = disk_gb * GIB
    eviction = disk // 10
    system = min(disk // 2, 6 * GIB + disk * 35 // 100, 100 * GIB)
    return max(0, disk - eviction - system - OS_PARTITIONS_BYTES)


def disk_for(needed: int) -> int | None:
    """The smallest boot disk (GiB, a step of DISK_STEP_GB, at least NODE_DISK_GB) that leaves ``needed``
    bytes to pods; None past MAX_NODE_DISK_GB."""
    disk = NODE_DISK_GB
    while allocatable_bytes(disk) < needed:
        disk += DISK_STEP_GB
        if disk > MAX_NODE_DISK_GB:
            return None
    return disk


def gib_text(size: int) -> str:
    """Bytes as GiB for messages, rounded up to a tenth."""
    return f"{math.ceil(size * 10 / GIB) / 10:g}Gi"
