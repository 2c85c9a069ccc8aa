"""Pool sizing at its edges: a count exactly at a limit and one past it, on both sides, with the numbers.

An e2-standard-4 node (4 vCPU, 16 GiB) leaves kubepar's pods 3520m of CPU (4000m less GKE's 80m
reservation and 400m of its DaemonSets) and 13654137242 bytes of memory (16 GiB less GKE's
2896586342: 25% of 4 GiB, 20% of 4, 10% of 8, and 100 MiB; less 600 MiB of DaemonSets).
"""

from __future__ import annotations

from typing import Any

import pytest

from components.ground import sizing
from components.ground.reader import Reader
from components.ground.settings import SparkSettings, SweepSettings

CPU_LEFT = 3520
MEMORY_LEFT = 13654137242
GIB = 1024**3


def reader(**raw: Any) -> Reader:
    return Reader({key: str(value) for key, value in raw.items()})


def sweep(name: str = "s", parallelism: int = 1, cpu: str = "1", memory: str = "2Gi") -> SweepSettings:
    return SweepSettings(
        name=name,
        script="s.R",
        script_text="1",
        language="r",
        tasks=parallelism,
        parallelism=parallelism,
        cpu=cpu,
        memory=memory,
        retries=0,
        seed=1,
        max_failed=1,
    )


def pool(read: Reader, workers: int, cpu: str = "1", memory: str = "2Gi", **options: Any) -> int:
    return sizing.worker_pool_size(read, "e2-standard-4", workers, cpu, memory, options.pop("sweeps", []), **options)


@pytest.mark.parametrize(("workers", "nodes"), [(0, 1), (1, 1), (3, 1), (4, 2), (6, 2), (7, 3)])
def test_derived_ceiling_is_whole_nodes_of_three_one_cpu_workers(workers: int, nodes: int) -> None:
    # 3520m // 1000m = 3 a node (memory would hold 6); an empty pool still has a ceiling of 1.
    read = reader()
    assert pool(read, workers) == nodes
    assert read.problems == []


def test_memory_binds_when_it_is_the_smaller_share() -> None:
    # 13654137242 // 4 GiB = 3; // 5 GiB = 2 (5 CPU-wise would be 3): 5 workers need 3 nodes.
    assert pool(reader(), 5, cpu="500m", memory="5Gi") == 3
    assert pool(reader(), 6, cpu="500m", memory="4Gi") == 2


def test_a_ceiling_set_by_hand_must_hold_what_runs_exactly_at_the_edge() -> None:
    assert pool(reader(workerPoolMaxNodes=3), 7) == 3
    read = reader(workerPoolMaxNodes=2)
    assert pool(read, 7) == 2
    assert read.problems == [
        "kubepar:workerPoolMaxNodes: 2 e2-standard-4 nodes cannot hold everything that runs at once: "
        "7 workers need 3 (3 per node); 3 in all. Raise workerPoolMaxNodes to 3 (or set 0 to derive it), "
        "or lower workers, spark.workers or a sweep's parallelism"
    ]


def test_the_derived_ceiling_stops_at_a_thousand_nodes() -> None:
    read = reader()
    assert pool(read, 3000) == 1000 and read.problems == []
    read = reader()
    assert pool(read, 3001) == 1000
    assert read.problems == [
        "kubepar:sweeps: workers and sweeps together need 1001 e2-standard-4 nodes, over the pool's 1000; "
        "lower parallelism or choose a larger workerMachineType"
    ]


def test_sweep_tasks_count_the_storage_sidecar_beside_them() -> None:
    # 1250m a task with the sidecar's 250m: 2 a node, so 5 tasks need 3 nodes; without it 3 a node.
    read = reader()
    assert pool(read, 0, sweeps=[sweep(parallelism=5)]) == 3
    assert pool(reader(), 0, sweeps=[sweep(parallelism=5)], sidecar=False) == 2
    # Workers and each sweep add their own nodes: 2 + 3 + 1.
    assert pool(reader(), 6, sweeps=[sweep("a", 5), sweep("b", 1)]) == 6


def test_a_task_that_fits_no_node_names_its_sweep() -> None:
    read = reader()
    pool(read, 0, sweeps=[sweep("big", cpu="3400m")])
    assert read.problems == [
        "kubepar:sweeps[big].cpu: a task pod (3400m CPU, 2Gi and the storage sidecar) does not fit on "
        "e2-standard-4; choose a larger workerMachineType or a smaller cpu/memory for the sweep"
    ]
    assert pool(reader(), 0, sweeps=[sweep("big", cpu="3270m")]) == 1


def test_spark_workers_take_nodes_of_their_own() -> None:
    spark = SparkSettings(
        workers=4, worker_cpu="1", worker_memory="4Gi", driver_cpu="1", driver_memory="2Gi", version="4.1.1"
    )
    # 1250m and 4.25 GiB with the sidecar: min(2, 2) a node: 2 nodes, beside 1 for 3 workers.
    assert pool(reader(), 3, spark=spark) == 3


def test_a_worker_larger_than_a_node_is_refused_by_machine() -> None:
    read = reader()
    assert pool(read, 2, cpu="3521m") == 1
    assert read.problems == [
        "kubepar:workerMachineType: a worker (3521m CPU, 2Gi) does not fit on e2-standard-4 after GKE's "
        "reservations; choose a larger machine or smaller workerCpu/workerMemory"
    ]
    assert pool(reader(), 2, cpu="3520m") == 2


@pytest.mark.parametrize(
    ("pods", "nodes"),
    [
        ([], 1),
        ([(CPU_LEFT, MEMORY_LEFT)], 1),
        ([(CPU_LEFT, MEMORY_LEFT), (1, 1)], 2),
        ([(1760, GIB), (1760, GIB)], 1),
        ([(1761, GIB), (1760, GIB)], 2),
        ([(100, MEMORY_LEFT // 2), (100, MEMORY_LEFT // 2 + 1)], 2),
        # Largest first: 3000 + 500 share one node, the other 3000 takes a second.
        ([(500, GIB), (3000, GIB), (3000, GIB)], 2),
    ],
)
def test_system_pods_are_placed_first_fit_largest_first(pods: list[tuple[int, int]], nodes: int) -> None:
    assert sizing.system_nodes("e2-standard-4", pods) == nodes


def test_the_system_pool_holds_at_most_two_nodes_of_pods() -> None:
    two = {"a": (3000, GIB), "b": (3000, GIB)}
    read = reader()
    assert sizing.check_system_pool(read, "e2-standard-4", two) == 2 and read.problems == []
    read = reader()
    assert sizing.check_system_pool(read, "e2-standard-4", {**two, "c": (3000, GIB)}) == 3
    assert read.problems == [
        "kubepar:systemMachineType: a (3000m, 1024Mi), b (3000m, 1024Mi), c (3000m, 1024Mi) need 3 e2-standard-4 "
        "nodes at once; the system pool has at most 2. Choose a larger systemMachineType or lower "
        "schedulerCpu/schedulerMemory"
    ]


@pytest.mark.parametrize(
    ("cpu", "memory", "sidecar", "key"),
    [
        ("3520m", "2Gi", False, None),
        ("3521m", "2Gi", False, "schedulerCpu"),
        ("1", str(MEMORY_LEFT), False, None),
        ("1", str(MEMORY_LEFT + 1), False, "schedulerMemory"),
        ("3270m", "2Gi", True, None),
        ("3271m", "2Gi", True, "schedulerCpu"),
        ("1", str(MEMORY_LEFT - 256 * 1024**2), True, None),
        ("1", str(MEMORY_LEFT - 256 * 1024**2 + 1), True, "schedulerMemory"),
    ],
)
def test_the_session_fits_one_system_node_or_names_the_key(
    cpu: str, memory: str, sidecar: bool, key: str | None
) -> None:
    read = reader()
    sizing.check_system_node_fits(read, "e2-standard-4", cpu, memory, sidecar=sidecar)
    if key is None:
        assert read.problems == []
        return
    (problem,) = read.problems
    beside = ", and the storage sidecar's 250m, 256Mi" if sidecar else ""
    assert problem == (
        f"kubepar:{key}: the scheduler ({cpu} CPU, {memory}{beside}) does not fit on a e2-standard-4 system node, "
        f"which has 3520m CPU and 13021Mi left after GKE's reservations; its pod would stay Pending. "
        "Lower schedulerCpu/schedulerMemory or choose a larger systemMachineType"
    )


@pytest.mark.parametrize(
    ("machine", "priced", "words"),
    [
        ("e2-standard-4", True, None),
        ("n2-custom-6-24576", True, None),
        ("n4-standard-4", False, None),
        ("n4-standard-4", True, "kubepar has no price for n4 machines"),
        ("t2a-standard-4", True, "not a machine type kubepar can size"),
        ("e2-standard-3", True, "not a machine type kubepar can size"),
    ],
)
def test_machine_types_are_ones_kubepar_can_size_and_price(machine: str, priced: bool, words: str | None) -> None:
    read = reader(systemMachineType=machine, workerMachineType="e2-standard-4")
    assert sizing.machine_types(read, priced=priced) == (machine, "e2-standard-4")
    if words is None:
        assert read.problems == []
    else:
        assert len(read.problems) == 1 and read.problems[0].startswith("kubepar:systemMachineType:")
        assert words in read.problems[0]


def test_existing_pools_need_their_worker_node_count() -> None:
    read = reader(systemMachineType="e2-standard-4", workerMachineType="e2-standard-4", workerPoolMaxNodes=0)
    sizing.check_existing_pools(read, 2, "1", "2Gi", [], "1", "2Gi")
    assert read.problems == [
        "kubepar:workerPoolMaxNodes: with nodePools on an existing cluster, set it to the number of worker nodes "
        "the cluster has; kubepar checks that workers and sweeps fit on them"
    ]
    read = reader(systemMachineType="e2-standard-4", workerMachineType="e2-standard-4", workerPoolMaxNodes=1)
    sizing.check_existing_pools(read, 4, "1", "2Gi", [], "1", "2Gi")
    assert len(read.problems) == 1 and "4 workers need 2 (3 per node)" in read.problems[0]


def test_a_ceiling_outside_its_bounds_is_named_with_its_fix() -> None:
    read = reader(workerPoolMaxNodes=1001)
    pool(read, 1)
    assert read.problems == ["kubepar:workerPoolMaxNodes: 1001 is outside 0..1000; use 1..1000, or 0 to derive it"]


@pytest.mark.parametrize("key", ["workerCpu", "workerMemory", "workerMachineType", "workerPoolMaxNodes"])
def test_no_sizing_on_keys_already_refused(key: str) -> None:
    read = reader(workerPoolMaxNodes=7)
    read.fail(key, "refused")
    assert pool(read, 100) == 7
    assert read.problems == [f"kubepar:{key}: refused"]
    read = reader()
    read.fail(key, "refused")
    assert pool(read, 100) == 1


def test_no_sizing_on_a_machine_without_a_shape() -> None:
    read = reader(workerPoolMaxNodes=4)
    assert sizing.worker_pool_size(read, "a3-megagpu-8g", 100, "1", "2Gi", []) == 4
    assert sizing.worker_pool_size(reader(), "a3-megagpu-8g", 100, "1", "2Gi", []) == 1
    assert sizing.system_nodes("a3-megagpu-8g", [(1, 1)] * 50) == 1


def test_a_spark_worker_that_fills_a_node_fits_and_one_larger_is_named() -> None:
    def spark(cpu: str, memory: str) -> SparkSettings:
        return SparkSettings(
            workers=2, worker_cpu=cpu, worker_memory=memory, driver_cpu="1", driver_memory="2Gi", version="4.1.1"
        )

    # With the sidecar's 250m: 3270m is one a node, two workers two nodes.
    read = reader()
    assert pool(read, 0, spark=spark("3270m", "4Gi")) == 2 and read.problems == []
    read = reader()
    pool(read, 0, spark=spark("3271m", "4Gi"))
    assert read.problems == [
        "kubepar:spark.workerMemory: a Spark worker (3271m CPU, 4Gi) does not fit on e2-standard-4 after GKE's "
        "reservations; choose a larger workerMachineType or a smaller spark.workerCpu/workerMemory"
    ]


def test_without_the_sidecar_a_task_too_large_is_named_without_it() -> None:
    read = reader()
    pool(read, 0, sweeps=[sweep("big", cpu="3521m")], sidecar=False)
    assert read.problems == [
        "kubepar:sweeps[big].cpu: a task pod (3521m CPU, 2Gi) does not fit on e2-standard-4; choose a larger "
        "workerMachineType or a smaller cpu/memory for the sweep"
    ]


def test_machine_types_are_priced_unless_told_otherwise() -> None:
    read = reader(systemMachineType="n4-standard-4", workerMachineType="e2-standard-4")
    sizing.machine_types(read)
    assert len(read.problems) == 1 and "kubepar has no price for n4 machines" in read.problems[0]


@pytest.mark.parametrize(
    ("pods", "nodes"),
    [
        # Largest first packs 1800 + 1700 twice; smallest first would leave the two 1800s apart (3 nodes).
        ([(1700, 1), (1700, 1), (1800, 1), (1800, 1)], 2),
        # A node filled exactly has nothing left for the next pod.
        ([(1760, 1), (1760, 1), (1, 1)], 2),
        ([(1, MEMORY_LEFT // 2), (1, MEMORY_LEFT - MEMORY_LEFT // 2)], 1),
        ([(1, MEMORY_LEFT // 2), (1, MEMORY_LEFT // 2), (1, MEMORY_LEFT // 2)], 2),
    ],
)
def test_first_fit_counts_what_each_node_has_left(pods: list[tuple[int, int]], nodes: int) -> None:
    assert sizing.system_nodes("e2-standard-4", pods) == nodes


def test_existing_pools_are_sized_unpriced_without_the_sidecar() -> None:
    raw = {"systemMachineType": "n4-standard-4", "workerMachineType": "n4-standard-4", "workerPoolMaxNodes": 1}
    read = reader(**raw)
    # An n4-standard-4 leaves 3520m: the scheduler of exactly that fits when no sidecar sits beside it.
    sizing.check_existing_pools(read, 3, "1", "2Gi", [], "3520m", "2Gi")
    assert read.problems == []
    for ceiling in ("", "0"):
        read = Reader({**{k: str(v) for k, v in raw.items()}, "workerPoolMaxNodes": ceiling})
        sizing.check_existing_pools(read, 3, "1", "2Gi", [], "1", "2Gi")
        assert len(read.problems) == 1 and read.problems[0].startswith("kubepar:workerPoolMaxNodes: with nodePools")
    read = Reader({**{k: str(v) for k, v in raw.items()}, "workerPoolMaxNodes": "0"})
    read.fail("workerPoolMaxNodes", "refused")
    sizing.check_existing_pools(read, 3, "1", "2Gi", [], "1", "2Gi")
    assert read.problems == ["kubepar:workerPoolMaxNodes: refused"]
    # No storage sidecar on an existing cluster: three 1-CPU tasks share its one worker node.
    read = reader(**raw)
    sizing.check_existing_pools(read, 0, "1", "2Gi", [sweep(parallelism=3)], "1", "2Gi")
    assert read.problems == []


def test_no_fit_check_on_keys_already_refused_or_an_unknown_machine() -> None:
    read = reader()
    read.fail("schedulerMemory", "refused")
    sizing.check_system_node_fits(read, "e2-standard-4", "64", "2Gi", sidecar=False)
    assert read.problems == ["kubepar:schedulerMemory: refused"]
    read = reader()
    sizing.check_system_node_fits(read, "a3-megagpu-8g", "640", "2Gi", sidecar=False)
    assert read.problems == []


def test_with_memory_exactly_full_the_cpu_is_what_is_named() -> None:
    read = reader()
    sizing.check_system_node_fits(read, "e2-standard-4", "3521m", str(MEMORY_LEFT), sidecar=False)
    assert len(read.problems) == 1 and read.problems[0].startswith("kubepar:schedulerCpu:")
