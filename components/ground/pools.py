"""The node-pool vocabulary that GCP pools, Kubernetes pods, the kwok nodes and the pack share.

Owns: the pool names, the node label that names a node's pool, the taint
that keeps everything but workers off the worker pool, and the node disk.
Invariant: a pod lands on a pool only through these names: a pool's label
value is its name, and only worker-pool pods tolerate the taint.
"""

from __future__ import annotations

from components.ground import quantities

SYSTEM_POOL = "system"
"""On demand: the user's session and the schedulers (never preempted)."""
WORKER_POOL = "workers"
"""Autoscaled from zero, Spot where the stack says so, tainted."""
POOLS = (SYSTEM_POOL, WORKER_POOL)
SYSTEM_POOL_MAX_NODES = 2
"""The system pool's autoscaling ceiling: what runs there at once must fit on this many nodes."""

POOL_LABEL = "kubepar.dev/pool"
"""Node label whose value is the node's pool."""
WORKER_TAINT_KEY = "kubepar.dev/workers"
WORKER_TAINT_VALUE = "true"
"""Worker nodes carry ``kubepar.dev/workers=true:NoSchedule``: only worker-pool pods tolerate it."""

# The Cloud Storage FUSE sidecar GKE injects into every pod that mounts the
# results bucket requests this much by default: it counts towards a node.
GCSFUSE_SIDECAR_CPU_MILLIS = 250
GCSFUSE_SIDECAR_MEMORY_BYTES = 256 * 1024**2
# Its node disk, where it stages a file until the file is closed (the default 5Gi, requested
# whole: pods on a node never share more disk than the node has).
GCSFUSE_SIDECAR_EPHEMERAL = "5Gi"


def pod_size(cpu: str, memory: str, *, sidecar: bool) -> tuple[int, int]:
    """(CPU millis, memory bytes) a pod asks of its node: its container's, and the FUSE sidecar's
    when it mounts the results bucket (``sidecar``)."""
    return (
        quantities.cpu_millis(cpu) + (GCSFUSE_SIDECAR_CPU_MILLIS if sidecar else 0),
        quantities.memory_bytes(memory) + (GCSFUSE_SIDECAR_MEMORY_BYTES if sidecar else 0),
    )
