"""The ``spark`` key read directly: each field at its edge, each refusal word for word, nothing half made."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.config.spark import check_spark_fits, parse_spark
from components.ground.reader import Reader
from components.ground.settings import SparkSettings


def read_spark(
    value: Any, engine: str = "r", r_version: str = "4.6.1", packages: list[str] | None = None
) -> tuple[SparkSettings | None, list[str]]:
    read = Reader({"spark": json.dumps(value)} if value is not None else {})
    found = parse_spark(read, engine, r_version, packages or [])
    return found, read.problems


@pytest.mark.parametrize("value", [None, {}, {"workers": 0}, {"workers": 0, "workerMemory": "1Mi"}])
def test_absent_empty_or_no_workers_is_no_spark_and_no_problem(value: Any) -> None:
    assert read_spark(value) == (None, [])


def test_the_defaults_are_a_one_core_four_gib_worker_and_a_two_gib_driver() -> None:
    found, problems = read_spark({"workers": 1})
    assert problems == []
    assert found == SparkSettings(
        workers=1, worker_cpu="1", worker_memory="4Gi", driver_cpu="1", driver_memory="2Gi", version="4.1.2"
    )
    assert read_spark({"workers": 1}, engine="dask")[0] == found


@pytest.mark.parametrize(("workers", "problem"), [(200, None), (201, "201 is outside 0..200; use 0..200")])
def test_at_most_two_hundred_workers(workers: int, problem: str | None) -> None:
    found, problems = read_spark({"workers": workers})
    assert problems == ([f"kubepar:spark.workers: {problem}"] if problem else [])
    assert (found is None) == (problem is not None)


def test_an_unknown_field_is_named() -> None:
    _, problems = read_spark({"workers": 1, "workerMemroy": "4Gi"})
    assert problems == [
        "kubepar:spark.workerMemroy: not a spark setting, so it would do nothing; did you mean workerMemory?"
    ]


def test_only_engines_r_and_dask_start_spark() -> None:
    assert read_spark({"workers": 1}, engine="hub") == (
        None,
        [
            "kubepar:spark: engine hub does not start Spark (the hub's profiles do not yet); use engine r or dask, "
            "or remove spark"
        ],
    )


@pytest.mark.parametrize(
    ("cpu", "problem"),
    [
        ("2", None),
        ("2000m", None),
        ("1500m", "'1500m': a worker's executor runs whole cores; use 1, 2 or more"),
        ("500m", "'500m': a worker's executor runs whole cores; use 1, 2 or more"),
    ],
)
def test_a_worker_has_whole_cores(cpu: str, problem: str | None) -> None:
    found, problems = read_spark({"workers": 1, "workerCpu": cpu})
    assert problems == ([f"kubepar:spark.workerCpu: {problem}"] if problem else [])
    assert (found is None) == (problem is not None)


def test_a_worker_needs_1536_mib_and_is_told_what_its_executor_would_get() -> None:
    assert read_spark({"workers": 1, "workerMemory": "1536Mi"})[1] == []
    # 1535 - 256 (daemon) - 384 (overhead) = 895, less its own 384 overhead: 511.
    assert read_spark({"workers": 1, "workerMemory": "1535Mi"}) == (
        None,
        [
            "kubepar:spark.workerMemory: '1535Mi' leaves the executor 511 MiB beside the worker daemon and the "
            "JVMs' overhead; Spark needs at least 1536Mi (4Gi is a good start)"
        ],
    )
    # Nothing left at all is 0, not a negative heap.
    assert "leaves the executor 0 MiB" in read_spark({"workers": 1, "workerMemory": "512Mi"})[1][0]


def test_a_driver_needs_one_gib() -> None:
    assert read_spark({"workers": 1, "driverMemory": "1Gi"})[1] == []
    assert read_spark({"workers": 1, "driverMemory": "1023Mi"}) == (
        None,
        [
            "kubepar:spark.driverMemory: '1023Mi' is below the 1024Mi a Connect server needs (2Gi is a good start; "
            "results you collect pass through it)"
        ],
    )


CPU_ERROR = "expected a CPU quantity such as 1, 0.5 or 500m"
MEMORY_ERROR = "expected a memory quantity such as 2Gi or 512Mi"


@pytest.mark.parametrize(
    ("key", "error", "example"),
    [
        ("workerCpu", CPU_ERROR, "1 or 2"),
        ("driverCpu", CPU_ERROR, "1 or 500m"),
        ("workerMemory", MEMORY_ERROR, "4Gi"),
        ("driverMemory", MEMORY_ERROR, "2Gi"),
    ],
)
def test_a_size_that_is_no_quantity_is_named(key: str, error: str, example: str) -> None:
    assert read_spark({"workers": 1, key: "lots"}) == (
        None,
        [f"kubepar:spark.{key}: 'lots' is not a quantity ({error}); use one such as {example}"],
    )


@pytest.mark.parametrize(("value", "shown"), [([1], "'[1]'"), ("x", """'"x"'""")])
def test_spark_that_is_no_mapping_says_how_to_write_it(value: object, shown: str) -> None:
    assert read_spark(value) == (
        None,
        [f"kubepar:spark: {shown} is not a mapping; set it in the stack file as {{workers: 2, workerMemory: 4Gi}}"],
    )


def test_only_versions_with_a_published_image() -> None:
    assert read_spark({"workers": 1, "version": "4.0.0"})[0] is not None
    assert read_spark({"workers": 1, "version": "3.5.1"})[1] == [
        "kubepar:spark.version: '3.5.1' has no published apache/spark image with Java 17 and a Connect client; "
        "use one of 4.0.0, 4.0.1, 4.0.2, 4.0.3, 4.1.0, 4.1.1, 4.1.2"
    ]


def test_rstudio_sessions_need_an_r_on_noble() -> None:
    assert read_spark({"workers": 1}, r_version="4.4.2")[1] == []
    assert read_spark({"workers": 1}, r_version="4.4.1") == (
        None,
        [
            "kubepar:spark: rVersion 4.4.1 runs on Ubuntu jammy, older than the Python the RStudio pod gets for "
            "sparklyr (built on Debian bookworm); use rVersion 4.4.2 or newer with Spark"
        ],
    )
    # A Dask session brings its own Python: the R version does not matter.
    assert read_spark({"workers": 1}, engine="dask", r_version="4.4.1")[1] == []


@pytest.mark.parametrize("client", ["pyspark==4.1.2", "pyspark-client==4.0.0", "pyspark-connect==4.1.2"])
def test_a_spark_client_in_dask_packages_is_refused(client: str) -> None:
    found, problems = read_spark({"workers": 1}, engine="dask", packages=[client, "xarray==2025.1.2"])
    assert found is None
    assert problems == [
        f"kubepar:packages: {client!r}: kubepar installs pyspark-client==4.1.2, the server's own version (a client "
        "of another minor version breaks createDataFrame); remove it, or change spark.version"
    ]
    # R packages are not Python clients.
    assert read_spark({"workers": 1}, engine="r", packages=[client])[1] == []


@pytest.mark.parametrize(
    ("cpu", "sidecar", "problem"),
    [("3520m", False, False), ("3521m", False, True), ("3270m", True, False), ("3271m", True, True)],
)
def test_the_connect_server_fits_one_system_node(cpu: str, sidecar: bool, problem: bool) -> None:
    config = SparkSettings(
        workers=1, worker_cpu="1", worker_memory="4Gi", driver_cpu=cpu, driver_memory="2Gi", version="4.1.2"
    )
    read = Reader({})
    check_spark_fits(read, config, "e2-standard-4", sidecar=sidecar)
    assert bool(read.problems) == problem
    if problem:
        assert read.problems[0].startswith(f"kubepar:spark.driverCpu: the Connect server ({cpu} CPU, 2Gi")
    read = Reader({})
    check_spark_fits(read, None, "e2-standard-4", sidecar=sidecar)
    assert read.problems == []


def test_no_fit_check_on_a_machine_already_refused() -> None:
    config = SparkSettings(
        workers=1, worker_cpu="1", worker_memory="4Gi", driver_cpu="64", driver_memory="2Gi", version="4.1.2"
    )
    read = Reader({})
    read.fail("systemMachineType", "refused")
    check_spark_fits(read, config, "e2-standard-4", sidecar=True)
    assert read.problems == ["kubepar:systemMachineType: refused"]
