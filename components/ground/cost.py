"""What a GKE stack costs an hour while it runs, from the price table beside this file.

Owns: the arithmetic of the ``estimatedCost`` output (nodes at their machine
types and counts, Spot or on demand, the cluster fee, the load balancer,
disks, Cloud NAT). Does not: know live prices, discounts, network egress or
the bucket's storage (cents a month for results), or create anything.

Invariant: every number comes from ``prices.yaml``, whose source and date
travel with the estimate; a machine family missing from the table gives no
estimate (None) rather than a wrong one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from components.ground import quantities
from components.ground.pools import NODE_DISK_GB
from components.ground.settings import GkeSettings, WorkloadSettings

PRICES_FILE = Path(__file__).resolve().parent / "prices.yaml"
HOURS_PER_MONTH = 730
# Zones a regional cluster spreads each pool over: every node count triples.
REGIONAL_ZONES = 3


def prices() -> dict[str, Any]:
    return dict(yaml.safe_load(PRICES_FILE.read_text()))


@dataclass(frozen=True, kw_only=True)
class Pool:
    machine_type: str
    nodes: int
    """Nodes per zone while the stack's pods run."""
    spot: bool
    disk_gb: int


def node_price(machine_type: str, spot: bool, table: dict[str, Any]) -> float | None:
    """USD per hour of one node, or None when the table has no price for its family."""
    shared = table["shared_core"].get(machine_type)
    if shared is not None:
        return float(shared["spot" if spot else "on_demand"])
    shape = quantities.machine_shape(machine_type)
    family = table["machines"].get(machine_type.split("-", 1)[0])
    if shape is None or family is None:
        return None
    gib = shape.memory_bytes / 1024**3
    vcpu, memory = (family["spot_vcpu"], family["spot_memory"]) if spot else (family["vcpu"], family["memory"])
    return float(shape.vcpus * vcpu + gib * memory)


def hourly(
    *, pools: dict[str, Pool], regional: bool, load_balancers: int, volume_gb: int, table: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """The estimate: total and per item, USD per hour, with its source; None if a machine has no price."""
    table = table or prices()
    zones = REGIONAL_ZONES if regional else 1
    items: dict[str, float] = {"cluster": float(table["gke_cluster_fee"])}
    disk_gib_hour = float(table["pd_balanced_gib_month"]) / HOURS_PER_MONTH
    nodes_total = 0
    disks_gb = volume_gb
    for name, pool in pools.items():
        price = node_price(pool.machine_type, pool.spot, table)
        if price is None:
            return None
        count = pool.nodes * zones
        nodes_total += count
        disks_gb += count * pool.disk_gb
        items[f"{name} nodes"] = count * price
    items["load balancer"] = load_balancers * float(table["load_balancer_rule"])
    items["disks"] = disks_gb * disk_gib_hour
    items["nat"] = nodes_total * float(table["nat_per_vm"])
    return {
        "usdPerHour": round(sum(items.values()), 3),
        "usdPerMonthIfLeftRunning": round(sum(items.values()) * HOURS_PER_MONTH),
        "items": {key: round(value, 4) for key, value in items.items()},
        "prices": f"{table['source']}, list prices of {table['date']}; an estimate, not a bill",
    }


def nodes_for(count: int, per_node: int | None) -> int:
    """Nodes that hold ``count`` pods at ``per_node`` a node (0 pods: the pool scales to zero)."""
    if count == 0:
        return 0
    return math.ceil(count / per_node) if per_node else 1


def for_stack(gke: GkeSettings, workload: WorkloadSettings) -> dict[str, Any] | None:
    """The estimate for a validated GKE stack: one system node, the workers' nodes, no sweep running."""
    shape = quantities.machine_shape(gke.worker_machine_type)
    per_node = (
        quantities.workers_per_node(
            shape, quantities.cpu_millis(workload.worker_cpu), quantities.memory_bytes(workload.worker_memory)
        )
        if shape is not None
        else None
    )
    return hourly(
        pools={
            "system": Pool(machine_type=gke.system_machine_type, nodes=1, spot=False, disk_gb=NODE_DISK_GB),
            "worker": Pool(
                machine_type=gke.worker_machine_type,
                nodes=nodes_for(workload.workers, per_node),
                spot=gke.spot,
                disk_gb=NODE_DISK_GB,
            ),
        },
        regional=gke.regional,
        load_balancers=1 if workload.allowed_source_ranges else 0,
        volume_gb=math.ceil(quantities.memory_bytes(workload.home_size) / 1024**3),
    )
