"""Kubernetes quantities and GCE machine shapes, as plain functions.

Owns: parsing CPU and memory quantities, the vCPU/memory of a machine type
name, and how many workers fit on one node after GKE's reservations. Does
not: look anything up in GCP (no API at config time), so unknown families
fall back to the name's own numbers.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

# fullmatch, ASCII digits, and at most 12 digits: a value that parses oddly
# (a trailing newline, Arabic-Indic digits, a thousand digits) is refused.
_MEMORY = re.compile(r"([0-9]{1,12}(?:\.[0-9]{1,6})?)(Ki|Mi|Gi|Ti|k|K|M|G|T)?")
_MEMORY_FACTORS = {
    None: 1,
    "k": 1000,
    "K": 1000,
    "M": 1000**2,
    "G": 1000**3,
    "T": 1000**4,
    "Ki": 1024,
    "Mi": 1024**2,
    "Gi": 1024**3,
    "Ti": 1024**4,
}
_CPU = re.compile(r"([0-9]{1,7}(?:\.[0-9]{1,3})?)(m)?")

# GiB of memory per vCPU by machine class; n1 is the older, smaller ratio.
_GIB_PER_VCPU = {"standard": 4.0, "highmem": 8.0, "highcpu": 1.0}
_N1_GIB_PER_VCPU = {"standard": 3.75, "highmem": 6.5, "highcpu": 0.9}
_SHARED_CORE = {"e2-micro": (2, 1.0), "e2-small": (2, 2.0), "e2-medium": (2, 4.0)}

# CPU and memory taken by GKE's own DaemonSets on every node (logging,
# metrics, Dataplane V2, metadata server, CSI driver), measured loosely on
# current GKE versions; generous so that a derived pool is never too small.
DAEMONSET_CPU_MILLIS = 400
DAEMONSET_MEMORY_BYTES = 600 * 1024**2


@dataclass(frozen=True)
class MachineShape:
    vcpus: int
    memory_bytes: int


def cpu_millis(value: str) -> int:
    """``"1"`` -> 1000, ``"500m"`` -> 500, ``"1.5"`` -> 1500."""
    match = _CPU.fullmatch(str(value))
    if not match:
        raise ValueError("expected a CPU quantity such as 1, 0.5 or 500m")
    number = float(match[1])
    return round(number) if match[2] else round(number * 1000)


def memory_bytes(value: str) -> int:
    """``"2Gi"`` -> 2147483648; decimal and binary suffixes as Kubernetes reads them."""
    match = _MEMORY.fullmatch(str(value))
    if not match:
        raise ValueError("expected a memory quantity such as 2Gi or 512Mi")
    return int(float(match[1]) * _MEMORY_FACTORS[match[2]])


def memory_mib(value: str) -> int:
    """``"2Gi"`` -> 2048: whole MiB, as JVM heap flags take them."""
    return memory_bytes(value) // 1024**2


def machine_shape(machine_type: str) -> MachineShape | None:
    """vCPUs and memory of a GCE machine type name, or None if the name has no shape."""
    if machine_type in _SHARED_CORE:
        vcpus, gib = _SHARED_CORE[machine_type]
        return MachineShape(vcpus, int(gib * 1024**3))
    custom = re.fullmatch(r"(?:[a-z0-9]+-)?custom-([0-9]{1,3})-([0-9]{1,8})(?:-ext)?", machine_type)
    if custom:
        return MachineShape(int(custom[1]), int(custom[2]) * 1024**2)
    named = re.fullmatch(r"([a-z][a-z0-9]*)-(standard|highmem|highcpu)-([0-9]{1,3})", machine_type)
    if not named:
        return None
    ratios = _N1_GIB_PER_VCPU if named[1] == "n1" else _GIB_PER_VCPU
    vcpus = int(named[3])
    return MachineShape(vcpus, int(vcpus * ratios[named[2]] * 1024**3))


def gke_reserved_cpu_millis(vcpus: int) -> int:
    """CPU GKE reserves for the kubelet and OS: 6% of the first core, 1% of
    the second, 0.5% of cores 3-4 and 0.25% of the rest."""
    millis = 60.0
    millis += 10 * min(max(vcpus - 1, 0), 1)
    millis += 5 * min(max(vcpus - 2, 0), 2)
    millis += 2.5 * max(vcpus - 4, 0)
    return math.ceil(millis)


def gke_reserved_memory_bytes(memory: int) -> int:
    """Memory GKE reserves: 25% of the first 4 GiB, 20% of the next 4, 10% of
    the next 8, 6% of the next 112, 2% above 128 GiB, plus 100 MiB eviction."""
    gib = 1024**3
    tiers = ((4 * gib, 0.25), (4 * gib, 0.20), (8 * gib, 0.10), (112 * gib, 0.06))
    reserved = 0.0
    left = memory
    for size, share in tiers:
        part = min(left, size)
        reserved += part * share
        left -= part
    reserved += max(left, 0) * 0.02
    return int(reserved) + 100 * 1024**2


def allocatable(shape: MachineShape) -> tuple[int, int]:
    """CPU millis and memory bytes left for our pods on one node, after reservations and DaemonSets."""
    cpu_left = shape.vcpus * 1000 - gke_reserved_cpu_millis(shape.vcpus) - DAEMONSET_CPU_MILLIS
    memory_left = shape.memory_bytes - gke_reserved_memory_bytes(shape.memory_bytes) - DAEMONSET_MEMORY_BYTES
    return cpu_left, memory_left


def workers_per_node(shape: MachineShape, worker_cpu_millis: int, worker_memory: int) -> int:
    """How many workers of this size fit on one node after reservations and DaemonSets."""
    cpu_left, memory_left = allocatable(shape)
    if cpu_left <= 0 or memory_left <= 0:
        return 0
    return min(cpu_left // worker_cpu_millis, memory_left // worker_memory)


def whole_cpus(cpu: str) -> str:
    """Whole CPUs of a limit, at least 1 (thread counts)."""
    return str(max(1, cpu_millis(cpu) // 1000))
