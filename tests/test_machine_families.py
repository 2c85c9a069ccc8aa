"""Every machine the config accepts is one a GKE pool can run: its boot disk, architecture and price are known.

Walks every family kubepar has sizes for (and the Arm series it refuses by
name): a family is either accepted, with everything a pool and the estimate
need, or refused naming the key and the reason, before anything is created.
"""

from __future__ import annotations

import pytest

from components import config
from components.ground import cost, quantities
from components.ground.machines import ARM_SERIES, CUSTOM_VCPUS, FAMILIES, PREDEFINED, family_facts
from tests.conftest import program
from tests.test_config import parse, problems

# A machine of each family: its first class, its smallest size of at least 4 vCPUs.
SAMPLES = {
    family: f"{family}-{kind}-{next((n for n in sizes if n >= 4), sizes[-1])}"
    for family, classes in PREDEFINED.items()
    for kind, sizes in list(classes.items())[:1]
}
CUSTOM_SAMPLES = {family or "n1": f"{family + '-' if family else ''}custom-4-16384" for family in CUSTOM_VCPUS}


def _worker_problems(machine: str) -> list[str]:
    """Problems config reports for ``machine`` as the worker pool's type ([] when accepted)."""
    try:
        parse(workerMachineType=machine)
    except config.ConfigError as error:
        return [p for p in error.problems if p.startswith("kubepar:workerMachineType:")]
    return []


def test_every_family_kubepar_sizes_has_a_boot_disk_and_an_architecture() -> None:
    assert set(PREDEFINED) <= set(FAMILIES)
    assert {family or "n1" for family in CUSTOM_VCPUS} <= set(FAMILIES)


@pytest.mark.parametrize("machine", [*SAMPLES.values(), *CUSTOM_SAMPLES.values(), "e2-medium"])
def test_an_accepted_machine_has_everything_its_pool_and_the_estimate_need(machine: str) -> None:
    refused = _worker_problems(machine)
    if refused:
        # Refused: the message names the machine and the table it lacks a price in.
        assert refused[0].startswith(f"kubepar:workerMachineType: '{machine}'"), refused
        assert "prices.yaml" in refused[0], refused
        return
    facts = family_facts(machine)
    assert facts.arch == "amd64"
    table = cost.prices()
    assert cost.node_price(machine, False, table) is not None
    assert cost.node_price(machine, True, table) is not None
    assert facts.boot_disk in table["disks_gib_month"]
    assert quantities.machine_shape(machine) is not None


@pytest.mark.parametrize("family", ["e2", "n2", "n2d", "c3"])
def test_the_pool_boots_from_its_familys_disk(family: str) -> None:
    machine = SAMPLES[family]
    capture = program("dev", workerMachineType=machine, systemMachineType=machine)
    pools = {r.name: r.inputs for r in capture.of_type("gcp:container/nodePool:NodePool")}
    assert {inputs["nodeConfig"]["diskType"] for inputs in pools.values()} == {FAMILIES[family].boot_disk}


def test_n4_and_c4_boot_only_from_hyperdisk() -> None:
    # GCE machine families pages: N4 and C4 support Hyperdisk only.
    assert family_facts("n4-standard-4").boot_disk == "hyperdisk-balanced"
    assert family_facts("c4-standard-4").boot_disk == "hyperdisk-balanced"
    assert family_facts("n4-custom-4-16384").boot_disk == "hyperdisk-balanced"
    assert family_facts("c3-standard-4").boot_disk == "pd-balanced"


@pytest.mark.parametrize("family", ["n4", "c4"])
def test_a_hyperdisk_family_is_refused_until_its_machine_and_disk_are_priced(family: str) -> None:
    machine = SAMPLES[family]
    (problem,) = [p for p in problems(workerMachineType=machine) if "workerMachineType" in p]
    assert problem.startswith(f"kubepar:workerMachineType: '{machine}'")
    assert "no price" in problem
    # With both prices in the table, nothing else stands in the way.
    table = cost.prices()
    table["machines"] = {**table["machines"], family: table["machines"]["n2"]}
    assert cost.price_problem(machine, table) is not None  # the Hyperdisk price is still missing
    table["disks_gib_month"] = {**table["disks_gib_month"], "hyperdisk-balanced": 0.08}
    assert cost.price_problem(machine, table) is None


@pytest.mark.parametrize("family", ARM_SERIES)
@pytest.mark.parametrize("key", ["workerMachineType", "systemMachineType"])
def test_arm_series_are_refused_naming_the_taint(family: str, key: str) -> None:
    machine = f"{family}-standard-4"
    found = [p for p in problems(**{key: machine}) if p.startswith(f"kubepar:{key}:")]
    assert found, machine
    assert "arm64" in found[0] and "kubernetes.io/arch=arm64:NoSchedule" in found[0]


def test_a_priced_family_is_accepted() -> None:
    # Guards the walk above against refusing everything.
    for machine in ("e2-standard-4", "n2-standard-8", "n2d-highmem-4", "n1-standard-4", "c3-standard-4", "e2-medium"):
        assert _worker_problems(machine) == [], machine
