"""Node disks: what GKE leaves pods of a boot disk, the boot disk each pool derives, and the refusals."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components import config
from components.config.disks import needed_disk, pool_kinds
from components.ground import disk
from components.ground.disk import GIB, allocatable_bytes, disk_for
from components.ground.reader import ConfigError
from tests.conftest import program
from tools import kwok_cluster

# GKE's own example (plan-node-sizes, "Check allocatable resources on a node"): a 100 GB boot disk
# shows ephemeral-storage capacity 98831908Ki and allocatable 47060071478 bytes.
GKE_EXAMPLE_ALLOCATABLE = 47060071478


def test_what_a_100_gb_disk_leaves_is_just_under_gkes_published_figure() -> None:
    left = allocatable_bytes(100)
    # 100 - 10 (eviction) - 41 (6 + 35) - 6 (the OS's partitions) = 43 GiB.
    assert left == 43 * GIB
    assert left <= GKE_EXAMPLE_ALLOCATABLE < left + GIB


@pytest.mark.parametrize(
    ("disk_gb", "left_gib"),
    [
        # Under 40 GiB half the disk is the smaller reservation: 30 - 3 - 15 - 6.
        (30, 6.0),
        # At 40 GiB the two meet (20 = 6 + 14): 40 - 4 - 20 - 6.
        (40, 10.0),
        # Above it, 6 GiB + 35%: 50 - 5 - 23.5 - 6.
        (50, 15.5),
        (200, 200 - 20 - 76 - 6),
        # Past 268 GiB the reservation stops at 100 GiB: 300 - 30 - 100 - 6.
        (300, 164.0),
        # Nothing left is nothing, not a negative size.
        (10, 0.0),
    ],
)
def test_each_step_of_gkes_reservation(disk_gb: int, left_gib: float) -> None:
    assert allocatable_bytes(disk_gb) == pytest.approx(left_gib * GIB, abs=1)


def test_a_derived_disk_is_the_smallest_step_that_leaves_enough() -> None:
    assert disk_for(0) == disk_for(int(15.5 * GIB)) == 50
    # One byte more than 50 GB leaves takes the next step: 60 GB leaves 21 GiB.
    assert disk_for(int(15.5 * GIB) + 1) == 60
    assert allocatable_bytes(60) == 21 * GIB
    # The largest disk kubepar derives is 2000 GB.
    assert disk_for(allocatable_bytes(2000)) == 2000
    assert disk_for(allocatable_bytes(2000) + 1) is None


def parse(**raw: Any) -> config.Settings:
    values = {"platform": "gke", "location": "europe-west1-b", **raw}
    return config.parse({key: str(value) for key, value in values.items()}, stack="t", gcp_project="kubepar-test")


def problems(**raw: Any) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse(**raw)
    return caught.value.problems


SWEEP = {"name": "big", "script": "examples/sweeps/sim.R", "tasks": 8, "parallelism": 8}


def test_a_pools_disk_grows_with_what_runs_on_its_nodes() -> None:
    small = parse(workers=2)
    assert small.gke is not None and small.gke.disks_gb == (50, 50)
    # Eight 20Gi tasks a node (n2-standard-16: 8 of 1 CPU and the sidecar's 250m fit 14 by CPU;
    # 8 run at once), each with the sidecar's 5Gi, logs, 4Gi of packages: 8 x 29.06Gi.
    grown = parse(
        workerMachineType="n2-standard-16", sweeps=json.dumps([{**SWEEP, "disk": "20Gi"}]), packages='["ranger"]'
    )
    assert grown.gke is not None
    needed = 8 * (20 * GIB + 4 * GIB + 5 * GIB + disk.LOG_BYTES)
    assert allocatable_bytes(grown.gke.disks_gb[1] - 10) < needed <= allocatable_bytes(grown.gke.disks_gb[1])
    assert grown.gke.disks_gb[0] == 50


def test_the_estimate_prices_the_derived_disks() -> None:
    plain = program("dev").outputs["estimatedCost"]["items"]["disks"]
    sweeps = json.dumps([{**SWEEP, "disk": "40Gi"}])
    grown = program("dev", sweeps=sweeps).outputs["estimatedCost"]["items"]["disks"]
    assert grown > plain


def test_a_sweep_disk_no_node_could_hold_is_refused_by_its_key() -> None:
    found = problems(sweeps=json.dumps([{**SWEEP, "disk": "2000Gi"}]))
    assert any(p.startswith("kubepar:sweeps[big].disk: one pod of sweep big's tasks asks") for p in found), found


@pytest.mark.parametrize("value", ["0.5Gi", "lots", "-1Gi"])
def test_a_sweep_disk_that_is_no_size_is_refused_by_its_key(value: str) -> None:
    found = problems(sweeps=json.dumps([{**SWEEP, "disk": value}]))
    assert any(p.startswith("kubepar:sweeps[big].disk:") for p in found), found


def test_a_node_disk_set_by_hand_must_hold_the_pods() -> None:
    # Two tasks a node (1 CPU and the sidecar's 250m each, of 3520m): 2 x 14.1Gi (5Gi /tmp, 4Gi packages,
    # the sidecar's 5Gi, logs) = 28.1Gi, over the 15.5Gi of 50 GB; 80 GB leaves 32Gi (70 GB, 26.5Gi).
    found = problems(nodeDiskGb=50, sweeps=json.dumps([{**SWEEP, "disk": "5Gi", "parallelism": 2}]))
    assert any(
        p.startswith("kubepar:nodeDiskGb: a e2-standard-4 node of the workers pool needs 28.2Gi")
        and "raise it to 80, or set 0" in p
        for p in found
    ), found
    # One task larger than the disk set by hand: named by its own key, with both fixes.
    found = problems(nodeDiskGb=50, sweeps=json.dumps([{**SWEEP, "disk": "10Gi"}]))
    assert any(
        p.startswith("kubepar:sweeps[big].disk: one pod") and "lower its disk, or raise nodeDiskGb" in p for p in found
    ), found
    held = parse(nodeDiskGb=120)
    assert held.gke is not None and held.gke.disks_gb == (120, 120)


@pytest.mark.parametrize("value", [5, 2001])
def test_a_node_disk_gke_cannot_make_is_refused(value: int) -> None:
    assert any(p.startswith("kubepar:nodeDiskGb:") for p in problems(nodeDiskGb=value))


def test_an_existing_clusters_nodes_must_hold_the_pods_on_their_disks() -> None:
    raw = {"platform": "existing", "nodePools": "true", "workerPoolMaxNodes": "2"}
    raw["sweeps"] = json.dumps([{**SWEEP, "disk": "30Gi", "parallelism": 2}])
    with pytest.raises(ConfigError) as caught:
        config.parse(raw, stack="t", gcp_project=None)
    # GKE's default 100 GB leaves 43Gi; two tasks of 34.1Gi each (30Gi, packages, logs) need more.
    assert any("set it to your nodes' boot disk" in p for p in caught.value.problems), caught.value.problems
    raw["nodeDiskGb"] = "300"
    config.parse(raw, stack="t", gcp_project=None)


def test_pods_that_run_once_share_one_nodes_disk_and_the_others_fill_theirs() -> None:
    settings = parse(rBackend="redis")
    kinds = pool_kinds(settings.workload, sidecar=True)
    system = {kind.what: kind for kind in kinds["system"]}
    # The session, with the sidecar, and the queue: each once.
    assert set(system) == {"the scheduler", "the queue"}
    assert needed_disk("e2-standard-4", kinds["system"]) == system["the scheduler"].disk + system["the queue"].disk
    (workers,) = kinds["workers"]
    # Two workers run (of 3 that fit a node by CPU): two workers' disks.
    assert needed_disk("e2-standard-4", kinds["workers"]) == 2 * workers.disk


def test_the_local_nodes_offer_the_disk_config_checks_against() -> None:
    node = kwok_cluster.node("n", "workers", "e2-standard-4", spot=True, disk_gb=120)
    assert node["status"]["capacity"]["ephemeral-storage"] == "120Gi"
    assert node["status"]["allocatable"]["ephemeral-storage"] == str(allocatable_bytes(120))
