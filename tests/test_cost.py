"""The cost estimate, item by item and figure by figure, against a price table whose every price differs.

A table of round prices makes each item's arithmetic visible: a count off by one, a monthly price
divided instead of multiplied, Spot for on demand, a pool's disk at another pool's size, each changes
a figure written out below.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from components import config
from components.ground import cost

TABLE: dict[str, Any] = {
    "source": "test prices",
    "date": "2026-12",
    "machines": {"e2": {"vcpu": 1.0, "memory": 0.1, "spot_vcpu": 0.5, "spot_memory": 0.01}},
    "shared_core": {"e2-medium": {"on_demand": 0.7, "spot": 0.3}},
    "gke_cluster_fee": 0.1,
    "load_balancer_rule": 0.03,
    "nat_per_vm": 0.002,
    "disks_gib_month": {"pd-balanced": 0.073},
}


def estimate(**changes: Any) -> dict[str, Any]:
    pools = {
        "system": cost.Pool(machine_type="e2-standard-4", nodes=2, spot=False, disk_gb=50),
        "worker": cost.Pool(machine_type="e2-standard-4", nodes=3, spot=True, disk_gb=70),
    }
    pools.update(changes.pop("pools", {}))
    arguments: dict[str, Any] = {"pools": pools, "load_balancers": 2, "volume_gb": 20, "table": TABLE, **changes}
    found = cost.hourly(**arguments)
    assert found is not None
    return found


def test_each_item_of_the_estimate() -> None:
    found = estimate()
    assert found["items"] == {
        "cluster": 0.1,
        # 2 on-demand nodes of 4 vCPU at 1.0 and 16 GiB at 0.1: 2 x 5.6.
        "system nodes": 11.2,
        # 3 Spot nodes of 4 vCPU at 0.5 and 16 GiB at 0.01: 3 x 2.16.
        "worker nodes": 6.48,
        "load balancer": 0.06,
        # (20 GiB home + 2 x 50 + 3 x 70 boot) x 0.073 a month, over 730 hours.
        "disks": 0.033,
        # 5 nodes behind NAT.
        "nat": 0.01,
    }
    assert found["usdPerHour"] == 17.883
    # Monthly is hourly times 730: 13054.59, rounded.
    assert found["usdPerMonthIfLeftRunning"] == 13055
    assert found["nodes"] == {"system": 2, "worker": 3}
    assert found["prices"] == "test prices, list prices of 2026-12; an estimate, not a bill"
    assert found["leavesOut"] == [
        "network egress (internet, and between zones of a regional cluster)",
        "Cloud NAT's data processing (per GiB)",
        "VPC flow logs and Cloud Logging beyond the free allotment",
        "the results bucket's storage and operations",
        "sweeps while they run (their nodes come and go with the Jobs)",
        "discounts, other regions' prices and GKE's free tier",
    ]


def test_shared_core_machines_are_priced_per_machine() -> None:
    found = estimate(
        pools={
            "system": cost.Pool(machine_type="e2-medium", nodes=1, spot=False, disk_gb=50),
            "worker": cost.Pool(machine_type="e2-medium", nodes=2, spot=True, disk_gb=50),
        }
    )
    assert found["items"]["system nodes"] == 0.7
    assert found["items"]["worker nodes"] == 0.6


def test_a_machine_or_disk_the_table_lacks_has_no_estimate() -> None:
    unpriced = {"system": cost.Pool(machine_type="n2-standard-4", nodes=1, spot=False, disk_gb=50)}
    assert cost.hourly(pools=unpriced, load_balancers=0, volume_gb=0, table=TABLE) is None
    no_disk = {**TABLE, "disks_gib_month": {"pd-ssd": 0.17}}
    pools = {"system": cost.Pool(machine_type="e2-standard-4", nodes=1, spot=False, disk_gb=50)}
    assert cost.hourly(pools=pools, load_balancers=0, volume_gb=0, table=no_disk) is None


def test_why_a_machine_cannot_be_priced() -> None:
    assert cost.price_problem("e2-standard-4", TABLE) is None
    assert cost.price_problem("n2-standard-4", TABLE) == (
        "kubepar has no price for n2 machines (components/ground/prices.yaml), so estimatedCost could not count "
        "them; choose a priced family (e2) or add its list prices there"
    )
    no_disk = {**TABLE, "disks_gib_month": {"pd-ssd": 0.17}}
    assert cost.price_problem("e2-standard-4", no_disk) == (
        "e2 nodes boot from pd-balanced, which components/ground/prices.yaml does not price; add it there"
    )


@pytest.mark.parametrize(("machine", "spot", "price"), [("e2-standard-4", False, 5.6), ("e2-standard-4", True, 2.16)])
def test_a_node_is_its_vcpus_and_memory_at_their_prices(machine: str, spot: bool, price: float) -> None:
    assert cost.node_price(machine, spot, TABLE) == pytest.approx(price, abs=1e-9)


def test_the_shipped_table_prices_a_shared_core_machine_from_its_own_row() -> None:
    table = cost.prices()
    assert cost.node_price("e2-medium", False, table) == 0.033503
    assert cost.node_price("e2-medium", True, table) == 0.010051


@pytest.mark.parametrize(
    ("count", "per_node", "nodes"), [(0, 3, 0), (1, 3, 1), (3, 3, 1), (4, 3, 2), (7, 3, 3), (5, None, 1), (5, 0, 1)]
)
def test_nodes_are_whole_and_an_empty_pool_costs_nothing(count: int, per_node: int | None, nodes: int) -> None:
    assert cost.nodes_for(count, per_node) == nodes


def test_each_hub_session_adds_its_workers_nodes_with_their_disks_and_its_home() -> None:
    profiles = (
        '[{"name": "r", "session": "rstudio", "cpu": "1", "memory": "4Gi", "workers": 4, "workerCpu": "1",'
        ' "workerMemory": "2Gi"}, {"name": "py", "session": "jupyterlab", "cpu": "1", "memory": "4Gi",'
        ' "workers": 4, "workerCpu": "2", "workerMemory": "4Gi"}]'
    )
    settings = hub_stack(profiles, max_sessions=6)
    assert settings.gke is not None
    # Seven 1-CPU workers fit an e2-standard-8 (7510m), 6.06Gi of disk each: 42.4Gi, which 100 GB leaves (43Gi).
    assert settings.gke.disks_gb[1] == 100
    found = cost.hub_costs(settings.gke, settings.workload)
    assert found is not None
    # A Spot e2-standard-8 at the shipped prices (8 x 0.006543 + 32 x 0.000877 = 0.080408) and its 100 GB of
    # pd-balanced (0.0136986 an hour); the home's 10Gi, 0.0013699 an hour. Both sessions fit beside the hub.
    node = 0.080408 + 100 * 0.10 / 730
    home = 10 * 0.10 / 730
    assert found["usdPerHourPerSession"] == {"r": round(node + home, 3), "py": round(2 * node + home, 3)}
    assert found["usdPerHourPerSession"] == {"r": 0.095, "py": 0.19}
    assert found["note"] == (
        "on top of estimatedCost (the hub alone); each running session adds its profile's figure at most"
    )


def gke_stack(**raw: str) -> config.Settings:
    values = {"platform": "gke", "location": "europe-west1-b", "workers": "4", **raw}
    return config.parse(values, stack="t", gcp_project="kubepar-test")


def test_a_stacks_estimate_at_the_shipped_prices() -> None:
    settings = gke_stack()
    assert settings.gke is not None
    # The session's 15.1Gi of disk fits 50 GB (15.5Gi); three workers a node, 6.06Gi each, need 60 GB (21Gi).
    assert settings.gke.disks_gb == (50, 60)
    found = cost.for_stack(settings.gke, settings.workload)
    assert found is not None
    assert found["items"] == {
        "cluster": 0.1,
        # One on-demand e2-standard-4: 4 x 0.021811 + 16 x 0.002923.
        "system nodes": 0.134,
        # Four 1-CPU workers, three a node: two Spot nodes of 4 x 0.006543 + 16 x 0.000877.
        "worker nodes": 0.0804,
        # No allowedSourceRanges: no LoadBalancer.
        "load balancer": 0.0,
        # (20 GiB home + 50 + 2 x 60 boot) x 0.10 a month.
        "disks": 0.026,
        "nat": 0.0042,
    }
    assert (found["usdPerHour"], found["usdPerMonthIfLeftRunning"]) == (0.345, 252)
    assert found["nodes"] == {"system": 1, "worker": 2}
    assert "spark" not in found


def test_sparks_share_is_its_nodes_and_the_larger_disks_it_needs() -> None:
    settings = gke_stack(spark='{"workers": 2}')
    assert settings.gke is not None
    # System: the session (17.1Gi with its Python), the Connect server (15.1Gi) and the master (2.1Gi) on one
    # node: 34.2Gi, which 90 GB leaves (37.5Gi). Workers: two Spark workers a node, 25.1Gi each: 120 GB (54Gi).
    assert (settings.gke.disks_gb, settings.gke.disks_without_spark_gb) == ((90, 120), (50, 60))
    found = cost.for_stack(settings.gke, settings.workload)
    assert found is not None
    # The session (2250m with the sidecar), the Connect server (1250m) and the master (500m) need two system
    # nodes of 3520m; the Spark workers one worker node.
    assert found["nodes"] == {"system": 2, "worker": 3}
    # 2 x 0.134012 + 3 x 0.040204 + (20 + 2 x 90 + 3 x 120) x 0.10 / 730 + 5 x 0.0014 + 0.1 = 0.5723.
    assert found["usdPerHour"] == 0.572
    assert found["spark"]["nodes"] == {"system": 1, "worker": 1}
    # 0.572 with Spark, 0.345 without: its nodes, and the disks it grows.
    assert found["spark"] == {
        "usdPerHour": 0.227,
        "nodes": {"system": 1, "worker": 1},
        "note": "included in usdPerHour: the Spark workers' nodes, the system nodes its master and Connect server "
        "add, and the larger boot disks its pods need",
    }


def test_spark_workers_are_placed_with_the_storage_sidecar_beside_each() -> None:
    # 1250m a Spark worker with the sidecar: two a node, so three need two nodes (without it, three would fit one).
    settings = gke_stack(workers="0", spark='{"workers": 3}')
    assert settings.gke is not None
    found = cost.for_stack(settings.gke, settings.workload)
    assert found is not None and found["spark"]["nodes"]["worker"] == 2


def test_the_home_is_billed_in_whole_gib() -> None:
    settings = gke_stack(homeSize="1025Mi")
    assert settings.gke is not None
    found = cost.for_stack(settings.gke, settings.workload)
    assert found is not None
    # (2 GiB home, rounded up, + 50 + 2 x 60) x 0.10 / 730.
    assert found["items"]["disks"] == round(172 * 0.10 / 730, 4)


def hub_stack(profiles: str, home: str = "10Gi", max_sessions: int = 1) -> config.Settings:
    values = {
        "platform": "gke",
        "location": "europe-west1-b",
        "engine": "hub",
        "systemMachineType": "e2-standard-8",
        "workerMachineType": "e2-standard-8",
        "homeSize": home,
        "hubMaxSessions": str(max_sessions),
        "hubAdmins": '["teacher"]',
        "hubProfiles": profiles,
    }
    return config.parse(values, stack="t", gcp_project="kubepar-test")


# An e2-standard-8 leaves 7510m and 29803214275 bytes; the hub and proxy ask 700m and 1342177280 bytes,
# an RStudio session's front 250m and 536870912: a session of 6560m fills the rest exactly.
FULL_MEMORY = 29803214275 - 1342177280 - 536870912


@pytest.mark.parametrize(
    ("cpu", "memory", "beside"),
    [
        ("6560m", "1Gi", True),
        ("6561m", "1Gi", False),
        ("1", str(FULL_MEMORY), True),
        ("1", str(FULL_MEMORY + 1), False),
    ],
)
def test_a_session_beside_the_hub_costs_no_system_node(cpu: str, memory: str, beside: bool) -> None:
    profiles = f'[{{"name": "r", "session": "rstudio", "cpu": "{cpu}", "memory": "{memory}"}}]'
    settings = hub_stack(profiles, home="4000Gi")
    assert settings.gke is not None
    found = cost.hub_costs(settings.gke, settings.workload)
    assert found is not None
    # An on-demand e2-standard-8 (8 x 0.021811 + 32 x 0.002923) and its boot disk; the home's 4000 GiB.
    system = 8 * 0.021811 + 32 * 0.002923 + settings.gke.disks_gb[0] * 0.10 / 730
    home = 4000 * 0.10 / 730
    assert found["usdPerHourPerSession"] == {"r": round((0 if beside else system) + home, 3)}


def test_a_hub_estimate_counts_no_worker_nodes_until_a_session_starts() -> None:
    settings = hub_stack('[{"name": "r", "session": "rstudio", "workers": 4}]')
    assert settings.gke is not None
    found = cost.for_stack(settings.gke, settings.workload)
    assert found is not None and found["nodes"]["worker"] == 0


@pytest.mark.parametrize("pool", ["system_machine_type", "worker_machine_type"])
def test_no_session_prices_without_a_price_for_a_pools_machine(pool: str) -> None:
    settings = hub_stack('[{"name": "r", "session": "rstudio"}]')
    assert settings.gke is not None
    changes: dict[str, Any] = {pool: "n4-standard-8"}
    assert cost.hub_costs(dataclasses.replace(settings.gke, **changes), settings.workload) is None
    changes = {pool: "e2-custom"}
    assert cost.hub_costs(dataclasses.replace(settings.gke, **changes), settings.workload) is None
    assert cost.hub_costs(settings.gke, dataclasses.replace(settings.workload, hub=None)) is None


def test_a_pool_is_a_value_that_cannot_change() -> None:
    pool = cost.Pool(machine_type="e2-standard-4", nodes=1, spot=False, disk_gb=50)
    with pytest.raises(dataclasses.FrozenInstanceError):
        pool.nodes = 2  # type: ignore[misc]
