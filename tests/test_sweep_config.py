"""Sweep config: every sweep key validated and named, before anything is created."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.test_config import parse, problems

SIM = {"name": "sim", "script": "examples/sweeps/sim.R", "tasks": 100, "parallelism": 10}


def sweep_problems(*entries: Any, **raw: Any) -> list[str]:
    return [p for p in problems(sweeps=json.dumps(list(entries)), **raw) if p.startswith("kubepar:sweeps")]


def test_a_valid_sweep_gets_its_defaults() -> None:
    sweep = parse(sweeps=json.dumps([SIM]), workerCpu="2", workerMemory="4Gi").workload.sweeps[0]
    assert (sweep.name, sweep.language, sweep.tasks, sweep.parallelism) == ("sim", "r", 100, 10)
    assert (sweep.cpu, sweep.memory, sweep.retries, sweep.seed, sweep.max_failed) == ("2", "4Gi", 3, 1, 10)
    assert "kubepar_task()" in sweep.script_text


def test_python_scripts_are_python_sweeps() -> None:
    sweep = parse(sweeps=json.dumps([{**SIM, "script": "examples/sweeps/sim.py"}])).workload.sweeps[0]
    assert sweep.language == "python"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"name": "Sim"}, "kubepar:sweeps[0].name: 'Sim' is not a name of 1-40 lowercase letters"),
        ({"name": "a" * 41}, "kubepar:sweeps[0].name:"),
        ({"name": "sim\n"}, "kubepar:sweeps[0].name:"),
        ({"name": None}, "kubepar:sweeps[0].name: None is not a name"),
        ({"script": "sweeps/missing.R"}, "kubepar:sweeps[sim].script: 'sweeps/missing.R' does not exist"),
        ({"script": "../outside.R"}, "kubepar:sweeps[sim].script: '../outside.R' lies outside the project"),
        ({"script": "/etc/passwd.R"}, "kubepar:sweeps[sim].script: '/etc/passwd.R' lies outside the project"),
        ({"script": "README.md"}, "kubepar:sweeps[sim].script: 'README.md' is neither an R (.R) nor a Python"),
        ({"script": 42}, "kubepar:sweeps[sim].script: 42 is not a file path"),
        ({"tasks": 0}, "kubepar:sweeps[sim].tasks: 0 is outside 1..100000"),
        ({"tasks": 100001}, "kubepar:sweeps[sim].tasks: 100001 is outside 1..100000"),
        ({"tasks": "1" * 3000}, "(3000 characters)' is not a whole number in 1..100000"),
        ({"tasks": 2.5}, "kubepar:sweeps[sim].tasks: 2.5 is not a whole number"),
        ({"tasks": True}, "kubepar:sweeps[sim].tasks: True is not a whole number"),
        ({"tasks": "\u0665"}, "is not a whole number in 1..100000"),
        ({"parallelism": 0}, "kubepar:sweeps[sim].parallelism: 0 is outside 1..1000"),
        ({"parallelism": 1001}, "kubepar:sweeps[sim].parallelism: 1001 is outside 1..1000"),
        ({"tasks": 5, "parallelism": 10}, "kubepar:sweeps[sim].parallelism: 10 pods for 5 tasks"),
        ({"cpu": "lots"}, "kubepar:sweeps[sim].cpu: 'lots' is not valid"),
        ({"cpu": "0"}, "kubepar:sweeps[sim].cpu: '0' is not valid (must be more than 0)"),
        ({"memory": "99999Ti"}, "kubepar:sweeps[sim].memory: '99999Ti' is not valid"),
        ({"memory": "2Gi\n"}, "kubepar:sweeps[sim].memory: '2Gi\\n' is not valid"),
        ({"retries": -1}, "kubepar:sweeps[sim].retries: -1 is outside 0..20"),
        ({"seed": "abc"}, "kubepar:sweeps[sim].seed: 'abc' is not a whole number"),
        ({"maxFailed": 0}, "kubepar:sweeps[sim].maxFailed: 0 is outside 1..100"),
        ({"paralelism": 5}, "kubepar:sweeps[sim].paralelism: not a sweep setting, so it would do nothing; "
         "did you mean parallelism?"),
    ],
)  # fmt: skip
def test_every_bad_sweep_value_is_named_with_its_key(change: dict[str, Any], expected: str) -> None:
    found = sweep_problems({**SIM, **change})
    assert any(expected in p for p in found), found


def test_a_sweep_must_be_a_mapping_and_names_must_be_unique() -> None:
    assert any("sweeps[0]: 'sim' is not a mapping" in p for p in sweep_problems("sim"))
    assert any("the name 'sim' is used twice" in p for p in sweep_problems(SIM, SIM))
    assert any(
        'kubepar:sweeps: \'{"name": "sim"}\' is not a list; set it in the stack file as a YAML list of mappings' in p
        for p in problems(sweeps='{"name": "sim"}')
    )


def test_parallelism_beyond_a_fixed_worker_pool_is_refused_with_the_numbers() -> None:
    found = problems(sweeps=json.dumps([{**SIM, "parallelism": 50}]), workerPoolMaxNodes="4")
    assert (
        "kubepar:workerPoolMaxNodes: 4 e2-standard-4 nodes cannot hold everything that runs at once: "
        "2 workers need 1 (3 per node); sweep sim needs 25 (50 pods, 2 per node); 26 in all. "
        "Raise workerPoolMaxNodes to 26" in " ".join(found)
    ), found


def test_workers_beyond_a_fixed_worker_pool_are_refused_with_the_numbers() -> None:
    found = problems(workers="10", workerPoolMaxNodes="3")
    assert any(
        p.startswith(
            "kubepar:workerPoolMaxNodes: 3 e2-standard-4 nodes cannot hold everything that runs at once: "
            "10 workers need 4 (3 per node); 4 in all."
        )
        for p in found
    ), found


def test_workers_and_sweeps_must_fit_together_not_each_alone() -> None:
    # Workers alone need 2 nodes and the sweep alone 2: each fits in 3, together they need 4.
    together = {"workers": "6", "sweeps": json.dumps([{**SIM, "parallelism": 4}])}
    assert any("4 in all" in p for p in problems(workerPoolMaxNodes="3", **together))
    assert parse(workerPoolMaxNodes="4", **together).gke is not None


def test_a_task_pod_that_fits_no_worker_node_is_refused() -> None:
    found = sweep_problems({**SIM, "memory": "64Gi"})
    assert any(
        "kubepar:sweeps[sim].cpu: a task pod (1 CPU, 64Gi and the storage sidecar) does not fit" in p for p in found
    )


def test_sweeps_together_beyond_the_pool_limit_are_refused() -> None:
    many = [{**SIM, "name": f"s{i}", "tasks": 1000, "parallelism": 1000} for i in range(3)]
    assert any("workers and sweeps together need" in p for p in problems(sweeps=json.dumps(many)))


def test_sweeps_are_sorted_by_name_so_reordering_renames_nothing() -> None:
    first = parse(sweeps=json.dumps([{**SIM, "name": "b"}, {**SIM, "name": "a"}])).workload.sweeps
    assert [s.name for s in first] == ["a", "b"]
