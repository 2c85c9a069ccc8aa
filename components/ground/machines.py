"""The GCE machine types kubepar can place pools on: known families, and the sizes each offers.

Owns: whether a machine type name names a machine that exists (predefined
families with their classes and vCPU counts, the shared-core E2 types, and
custom types within their families' limits), and the problem to report when
it does not; and what a GKE pool of each family needs: its boot disk type
and its CPU architecture. Does not: size nodes (quantities.py) or price them
(cost.py; sizing.py refuses a family the price table lacks).
Invariant: a name that passes here is one GCE accepts; a new family or size
is added here (from the GCE machine families pages) before a stack can use it,
with its boot disk and architecture.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Family:
    """What a node pool of one machine family needs beyond its name."""

    boot_disk: str
    """The boot disk type its nodes take: N4 and C4 boot only from Hyperdisk, and
    a pool that asks them for pd-balanced fails minutes into its creation."""
    arch: str = "amd64"
    """CPU architecture of its nodes (the Arm series are refused by name: ARM_SERIES)."""


# GCE machine families pages, "Supported disk types" of each series.
FAMILIES: dict[str, Family] = {
    "e2": Family("pd-balanced"),
    "n1": Family("pd-balanced"),
    "n2": Family("pd-balanced"),
    "n2d": Family("pd-balanced"),
    "t2d": Family("pd-balanced"),
    "c2": Family("pd-balanced"),
    "c2d": Family("pd-balanced"),
    "c3": Family("pd-balanced"),
    "c3d": Family("pd-balanced"),
    "n4": Family("hyperdisk-balanced"),
    "c4": Family("hyperdisk-balanced"),
}
# Arm series GCE offers that kubepar has no sizes for: named so that the refusal says why.
ARM_SERIES = ("t2a", "c4a", "n4a")


def _even_up_to(top: int) -> tuple[int, ...]:
    return tuple(range(2, top + 1, 2))


# Predefined machine types by family and class: the vCPU counts GCE offers
# (GCE machine families pages: general-purpose and compute-optimized).
PREDEFINED: dict[str, dict[str, tuple[int, ...]]] = {
    "e2": {"standard": (2, 4, 8, 16, 32), "highmem": (2, 4, 8, 16), "highcpu": (2, 4, 8, 16, 32)},
    "n1": {
        "standard": (1, 2, 4, 8, 16, 32, 64, 96),
        "highmem": (2, 4, 8, 16, 32, 64, 96),
        "highcpu": (2, 4, 8, 16, 32, 64, 96),
    },
    "n2": {
        "standard": (2, 4, 8, 16, 32, 48, 64, 80, 96, 128),
        "highmem": (2, 4, 8, 16, 32, 48, 64, 80, 96, 128),
        "highcpu": (2, 4, 8, 16, 32, 48, 64, 80, 96),
    },
    "n2d": {
        "standard": (2, 4, 8, 16, 32, 48, 64, 80, 96, 128, 224),
        "highmem": (2, 4, 8, 16, 32, 48, 64, 80, 96),
        "highcpu": (2, 4, 8, 16, 32, 48, 64, 80, 96, 128, 224),
    },
    "n4": {
        "standard": (2, 4, 8, 16, 32, 48, 64, 80),
        "highmem": (2, 4, 8, 16, 32, 48, 64, 80),
        "highcpu": (2, 4, 8, 16, 32, 48, 64, 80),
    },
    "t2d": {"standard": (1, 2, 4, 8, 16, 32, 48, 60)},
    "c2": {"standard": (4, 8, 16, 30, 60)},
    "c2d": {
        "standard": (2, 4, 8, 16, 32, 56, 112),
        "highmem": (2, 4, 8, 16, 32, 56, 112),
        "highcpu": (2, 4, 8, 16, 32, 56, 112),
    },
    "c3": {
        "standard": (4, 8, 22, 44, 88, 176),
        "highmem": (4, 8, 22, 44, 88, 176),
        "highcpu": (4, 8, 22, 44, 88, 176),
    },
    "c3d": {
        "standard": (4, 8, 16, 30, 60, 90, 180, 360),
        "highmem": (4, 8, 16, 30, 60, 90, 180, 360),
        "highcpu": (4, 8, 16, 30, 60, 90, 180, 360),
    },
    "c4": {
        "standard": (2, 4, 8, 16, 24, 32, 48, 96, 192),
        "highmem": (2, 4, 8, 16, 24, 32, 48, 96, 192),
        "highcpu": (2, 4, 8, 16, 24, 32, 48, 96, 192),
    },
}
SHARED_CORE = ("e2-micro", "e2-small", "e2-medium")
# Custom machine types: family prefix ("" is N1) -> allowed vCPU counts.
CUSTOM_VCPUS: dict[str, tuple[int, ...]] = {
    "": (1, *_even_up_to(96)),
    "n2": _even_up_to(80),
    "n2d": (2, 4, 8, 16, 32, 48, 64, 80, 96),
    "e2": _even_up_to(32),
    "n4": _even_up_to(80),
}
# Memory of a custom type: a multiple of 256 MiB, 0.5 to 8 GiB per vCPU (more with -ext).
CUSTOM_MEMORY_STEP_MB = 256
CUSTOM_GIB_PER_VCPU = (0.5, 8.0)

# Numbers in GCE's names never have leading zeros: e2-standard-04 names no machine.
_NUMBER = r"([1-9][0-9]{0,%d})"
_PREDEFINED = re.compile(r"([a-z][a-z0-9]*)-([a-z]+)-" + _NUMBER % 2)
_CUSTOM = re.compile(r"(?:([a-z][a-z0-9]*)-)?custom-" + _NUMBER % 2 + "-" + _NUMBER % 7 + "(-ext)?")


def machine_problem(machine_type: str) -> str | None:
    """Why ``machine_type`` names no GCE machine kubepar can use, or None when it does."""
    if machine_type in SHARED_CORE:
        return None
    custom = _CUSTOM.fullmatch(machine_type)
    if custom:
        family, vcpus, memory_mb, extended = custom[1] or "", int(custom[2]), int(custom[3]), bool(custom[4])
        if family not in CUSTOM_VCPUS:
            return f"custom machines come in the {', '.join(f or 'n1' for f in CUSTOM_VCPUS)} families, not {family}"
        if vcpus not in CUSTOM_VCPUS[family]:
            return f"a custom {family or 'n1'} machine cannot have {vcpus} vCPUs"
        if memory_mb % CUSTOM_MEMORY_STEP_MB:
            return f"custom memory comes in steps of {CUSTOM_MEMORY_STEP_MB} MB"
        low, high = CUSTOM_GIB_PER_VCPU
        per_vcpu = memory_mb / 1024 / vcpus
        if per_vcpu < low or (per_vcpu > high and not extended):
            return f"custom memory must be {low}-{high} GiB per vCPU (more only with -ext)"
        return None
    named = _PREDEFINED.fullmatch(machine_type)
    if not named:
        return "is not a machine type name (FAMILY-CLASS-VCPUS, e2-medium, or FAMILY-custom-VCPUS-MB)"
    family, kind, vcpus = named[1], named[2], int(named[3])
    if family in ARM_SERIES:
        return arm_problem(family)
    if family not in PREDEFINED:
        return f"{family} is not a machine family kubepar knows ({', '.join(sorted(PREDEFINED))})"
    sizes = PREDEFINED[family].get(kind)
    if sizes is None:
        return f"{family} has no {kind} machines ({', '.join(sorted(PREDEFINED[family]))})"
    if vcpus not in sizes:
        return f"{family}-{kind} comes with {', '.join(map(str, sizes))} vCPUs, not {vcpus}"
    return None


def family_of(machine_type: str) -> str:
    """The family (series) of a machine type name: ``e2-medium`` -> e2, ``custom-4-8192`` -> n1."""
    if machine_type in SHARED_CORE:
        return "e2"
    custom = _CUSTOM.fullmatch(machine_type)
    if custom:
        return custom[1] or "n1"
    return machine_type.split("-", 1)[0]


def family_facts(machine_type: str) -> Family:
    """The boot disk and architecture of a machine ``machine_problem`` accepted."""
    return FAMILIES[family_of(machine_type)]


def arm_problem(family: str) -> str:
    return (
        f"{family} is an Arm (arm64) series: GKE taints its nodes kubernetes.io/arch=arm64:NoSchedule, and "
        "kubepar's R packages come as amd64 binaries only (they would compile at every pod start); "
        "choose an x86 family"
    )
