"""What a GKE stack costs an hour while it runs, from the price table beside this file.

Owns: the arithmetic of the ``estimatedCost`` output (nodes at their machine
types and counts, Spot or on demand, the cluster fee, the load balancer,
disks of each node's boot disk type, Cloud NAT), and whether the table can
price a machine at all. Does not: know live prices, discounts, or count
nodes itself: the counts come from sizing.py's placement arithmetic, the
same the pools are sized with. Pools autoscale on whole-pool totals, so a
regional cluster has the nodes its pods need, not three times as many.

Invariant: every number comes from ``prices.yaml``, whose source and date
travel with the estimate, and the estimate names what it leaves out; a
machine the table cannot price is refused by config (sizing.py), so a
validated stack always has an estimate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from components.ground import quantities
from components.ground.hub_sizes import HUB_PODS, profile_pods
from components.ground.machines import family_facts, family_of
from components.ground.pools import pod_size
from components.ground.settings import GkeSettings, WorkloadSettings

PRICES_FILE = Path(__file__).resolve().parent / "prices.yaml"
HOURS_PER_MONTH = 730
# The home volume: a claim on GKE's default StorageClass (standard-rwo).
HOME_DISK_TYPE = "pd-balanced"
LEAVES_OUT = (
    "network egress (internet, and between zones of a regional cluster)",
    "Cloud NAT's data processing (per GiB)",
    "VPC flow logs and Cloud Logging beyond the free allotment",
    "the results bucket's storage and operations",
    "sweeps while they run (their nodes come and go with the Jobs)",
    "discounts, other regions' prices and GKE's free tier",
)


def prices() -> dict[str, Any]:
    return dict(yaml.safe_load(PRICES_FILE.read_text()))


@dataclass(frozen=True, kw_only=True)
class Pool:
    machine_type: str
    nodes: int
    """Nodes (whole pool) while the stack's pods run."""
    spot: bool
    disk_gb: int


def node_price(machine_type: str, spot: bool, table: dict[str, Any]) -> float | None:
    """USD per hour of one node, or None when the table has no price for its family."""
    shared = table["shared_core"].get(machine_type)
    if shared is not None:
        return float(shared["spot" if spot else "on_demand"])
    shape = quantities.machine_shape(machine_type)
    family = table["machines"].get(family_of(machine_type))
    if shape is None or family is None:
        return None
    gib = shape.memory_bytes / 1024**3
    vcpu, memory = (family["spot_vcpu"], family["spot_memory"]) if spot else (family["vcpu"], family["memory"])
    return float(shape.vcpus * vcpu + gib * memory)


def price_problem(machine_type: str, table: dict[str, Any] | None = None) -> str | None:
    """Why the table cannot price a node of ``machine_type`` (its machine or its boot disk), or None."""
    table = table or prices()
    family = family_of(machine_type)
    if node_price(machine_type, False, table) is None:
        return (
            f"kubepar has no price for {family} machines (components/ground/prices.yaml), so estimatedCost "
            f"could not count them; choose a priced family ({', '.join(sorted(table['machines']))}) "
            "or add its list prices there"
        )
    disk = family_facts(machine_type).boot_disk
    if disk not in table["disks_gib_month"]:
        return f"{family} nodes boot from {disk}, which components/ground/prices.yaml does not price; add it there"
    return None


def hourly(
    *, pools: dict[str, Pool], load_balancers: int, volume_gb: int, table: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """The estimate: total and per item, USD per hour, with its source; None if a machine has no price."""
    table = table or prices()
    disk_prices = table["disks_gib_month"]
    items: dict[str, float] = {"cluster": float(table["gke_cluster_fee"])}
    if HOME_DISK_TYPE not in disk_prices:
        return None
    disks = volume_gb * float(disk_prices[HOME_DISK_TYPE])
    nodes_total = 0
    for name, pool in pools.items():
        price = node_price(pool.machine_type, pool.spot, table)
        disk_price = disk_prices.get(family_facts(pool.machine_type).boot_disk)
        if price is None or disk_price is None:
            return None
        nodes_total += pool.nodes
        disks += pool.nodes * pool.disk_gb * float(disk_price)
        items[f"{name} nodes"] = pool.nodes * price
    items["load balancer"] = load_balancers * float(table["load_balancer_rule"])
    items["disks"] = disks / HOURS_PER_MONTH
    items["nat"] = nodes_total * float(table["nat_per_vm"])
    return {
        "usdPerHour": round(sum(items.values()), 3),
        "usdPerMonthIfLeftRunning": round(sum(items.values()) * HOURS_PER_MONTH),
        "items": {key: round(value, 4) for key, value in items.items()},
        "nodes": {name: pool.nodes for name, pool in pools.items()},
        "prices": f"{table['source']}, list prices of {table['date']}; an estimate, not a bill",
        "leavesOut": list(LEAVES_OUT),
    }


def nodes_for(count: int, per_node: int | None) -> int:
    """Nodes that hold ``count`` pods at ``per_node`` a node (0 pods: the pool scales to zero)."""
    if count == 0:
        return 0
    return math.ceil(count / per_node) if per_node else 1


def for_stack(gke: GkeSettings, workload: WorkloadSettings) -> dict[str, Any] | None:
    """The estimate for a validated GKE stack: the system nodes its pods need, the workers' nodes, no sweep."""
    shape = quantities.machine_shape(gke.worker_machine_type)
    per_node = (
        quantities.workers_per_node(
            shape, quantities.cpu_millis(workload.worker_cpu), quantities.memory_bytes(workload.worker_memory)
        )
        if shape is not None
        else None
    )
    spark = workload.spark
    spark_nodes = 0
    if spark is not None and shape is not None:
        # Each Spark worker carries the results bucket's FUSE sidecar (as the pool is sized).
        spark_per_node = quantities.workers_per_node(
            shape, *pod_size(spark.worker_cpu, spark.worker_memory, sidecar=True)
        )
        spark_nodes = nodes_for(spark.workers, spark_per_node)
    # engine hub: no session runs until someone starts one (hub_costs prices them).
    worker_nodes = nodes_for(0 if workload.hub is not None else workload.workers, per_node) + spark_nodes
    volume_gb = math.ceil(quantities.memory_bytes(workload.home_size) / 1024**3)
    load_balancers = gke.doors if workload.allowed_source_ranges else 0
    estimate = _pools_estimate(gke, (gke.system_nodes, worker_nodes), gke.disks_gb, load_balancers, volume_gb)
    if estimate is not None and spark is not None:
        nodes = (gke.system_nodes - gke.spark_system_nodes, worker_nodes - spark_nodes)
        without = _pools_estimate(gke, nodes, gke.disks_without_spark_gb, load_balancers, volume_gb)
        assert without is not None, "the same machines are priced"
        estimate["spark"] = {
            "usdPerHour": round(estimate["usdPerHour"] - without["usdPerHour"], 3),
            "nodes": {"system": gke.spark_system_nodes, "worker": spark_nodes},
            "note": "included in usdPerHour: the Spark workers' nodes, the system nodes its master and Connect "
            "server add, and the larger boot disks its pods need",
        }
    return estimate


def _pools_estimate(
    gke: GkeSettings, nodes: tuple[int, int], disks: tuple[int, int], load_balancers: int, volume_gb: int
) -> dict[str, Any] | None:
    """The estimate of kubepar's two pools at ``nodes`` (system, worker) with boot disks ``disks`` (GiB)."""
    return hourly(
        pools={
            "system": Pool(machine_type=gke.system_machine_type, nodes=nodes[0], spot=False, disk_gb=disks[0]),
            "worker": Pool(machine_type=gke.worker_machine_type, nodes=nodes[1], spot=gke.spot, disk_gb=disks[1]),
        },
        load_balancers=load_balancers,
        volume_gb=volume_gb,
    )


def _boot_disk_hourly(machine_type: str, disk_gb: int, table: dict[str, Any]) -> float:
    """USD per hour of one node's boot disk, of its family's disk type."""
    return disk_gb * float(table["disks_gib_month"][family_facts(machine_type).boot_disk]) / HOURS_PER_MONTH


def hub_costs(gke: GkeSettings, workload: WorkloadSettings) -> dict[str, Any] | None:
    """engine hub: USD per hour that one running session of each profile adds to the idle hub.

    Its workers' nodes (whole nodes: the pool scales by node, each with its boot disk), a system node
    of its own when the session does not fit beside the hub, and its home volume. Sessions of several users share
    nodes, so this is each profile's ceiling, not a share.
    """
    hub = workload.hub
    if hub is None:
        return None
    table = prices()
    system_price = node_price(gke.system_machine_type, False, table)
    worker_price = node_price(gke.worker_machine_type, gke.spot, table)
    system_shape = quantities.machine_shape(gke.system_machine_type)
    worker_shape = quantities.machine_shape(gke.worker_machine_type)
    if system_price is None or worker_price is None or system_shape is None or worker_shape is None:
        return None
    # Each node with its boot disk.
    system_price += _boot_disk_hourly(gke.system_machine_type, gke.disks_gb[0], table)
    worker_price += _boot_disk_hourly(gke.worker_machine_type, gke.disks_gb[1], table)
    home = quantities.memory_bytes(workload.home_size) / 1024**3 * float(table["disks_gib_month"][HOME_DISK_TYPE])
    profiles: dict[str, float] = {}
    system_cpu, system_memory = quantities.allocatable(system_shape)
    hub_cpu, hub_memory = (sum(size) for size in zip(*HUB_PODS.values(), strict=True))
    for profile in hub.profiles:
        (cpu, memory), (worker_cpu, worker_memory), workers = profile_pods(profile)
        # The hub and proxy share the first system node.
        beside_hub = cpu + hub_cpu <= system_cpu and memory + hub_memory <= system_memory
        per_node = quantities.workers_per_node(worker_shape, worker_cpu, worker_memory)
        worker_nodes = nodes_for(workers, per_node) * worker_price
        profiles[profile.name] = round((0 if beside_hub else system_price) + worker_nodes + home / HOURS_PER_MONTH, 3)
    return {
        "usdPerHourPerSession": profiles,
        "note": "on top of estimatedCost (the hub alone); each running session adds its profile's figure at most",
    }
