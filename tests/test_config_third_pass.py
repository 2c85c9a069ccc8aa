"""Config, third pass: cluster ranges GKE takes, machines that exist, sweep paths that are files."""

from __future__ import annotations

import ipaddress
import json
import os
import socket
from pathlib import Path

import pytest

from components import config
from components.ground.cidrs import not_excluded
from tests.conftest import ROOT, program
from tests.test_config import parse, problems


@pytest.mark.parametrize(
    "cidr",
    [
        "169.254.0.0/20",  # link-local: the metadata server's space
        "198.18.0.0/20",  # benchmarking
        "192.0.0.0/24",  # IETF protocol assignments
        "240.0.0.0/20",  # reserved (class E)
        "127.0.0.0/20",  # loopback
        "0.0.0.0/20",  # "this network"
        "8.8.8.0/24",  # public
        "fd00::/64",  # IPv6
    ],
)
@pytest.mark.parametrize("key", ["nodeCidr", "podCidr", "serviceCidr"])
def test_cluster_ranges_outside_the_private_ranges_are_refused(key: str, cidr: str) -> None:
    found = [p for p in problems(**{key: cidr}) if p.startswith(f"kubepar:{key}:")]
    assert len(found) == 1 and ("must be private" in found[0] or "IPv4" in found[0]), found


@pytest.mark.parametrize("cidr", ["10.30.0.0/20", "172.20.0.0/20", "192.168.64.0/20", "100.64.0.0/20"])
def test_private_and_shared_cluster_ranges_pass(cidr: str) -> None:
    gke = parse(nodeCidr=cidr).gke
    assert gke is not None and gke.node_cidr == cidr


def test_every_pods_egress_excludes_the_stacks_own_ranges() -> None:
    capture = program("dev", nodeCidr="100.64.0.0/20", podCidr="172.20.0.0/14", serviceCidr="192.168.0.0/20")
    egress = [p for p in capture.kubernetes("NetworkPolicy") if "Egress" in p["spec"]["policyTypes"]]
    excepts = [
        block["ipBlock"]["except"]
        for policy in egress
        for rule in policy["spec"].get("egress", [])
        for block in rule.get("to", [])
        if "ipBlock" in block and block["ipBlock"]["cidr"] == "0.0.0.0/0"
    ]
    assert excepts
    for found in excepts:
        networks = [ipaddress.ip_network(entry) for entry in found]
        # Each of the stack's own ranges, and the metadata server, lies in an excluded block.
        for cidr in ("100.64.0.0/20", "172.20.0.0/14", "192.168.0.0/20", "169.254.169.254/32"):
            assert any(ipaddress.ip_network(cidr).subnet_of(network) for network in networks), (cidr, found)  # type: ignore[arg-type]
        # And the API server's public address (the mock cluster's endpoint), as its own /32.
        assert "192.0.2.10/32" in found, found
    # The derivation itself: a range outside the private ones is added, one inside is not.
    assert not_excluded(["10.1.0.0/16", "203.0.113.0/24"]) == ["203.0.113.0/24"]


@pytest.mark.parametrize(
    ("machine", "problem"),
    [
        ("zz9-standard-4", "not a machine family kubepar knows"),
        ("e2-standard-3", "comes with 2, 4, 8, 16, 32 vCPUs, not 3"),
        ("e2-standard-64", "not 64"),
        ("n2-ultramem-4", "has no ultramem machines"),
        ("t2d-highmem-4", "has no highmem machines"),
        ("c3-standard-2", "not 2"),
        ("e2-large", "not a machine type name"),
        ("n2-custom-3-12288", "cannot have 3 vCPUs"),
        ("n2-custom-4-1000", "steps of 256 MB"),
        ("n2-custom-4-65536", "GiB per vCPU"),
        ("m9-custom-4-16384", "custom machines come in"),
        # GCE's names carry no leading zeros.
        ("e2-standard-04", "not a machine type name"),
        ("n2-custom-4-016384", "not a machine type name"),
    ],
)
@pytest.mark.parametrize("key", ["systemMachineType", "workerMachineType"])
def test_machine_types_that_do_not_exist_are_refused_naming_the_key(key: str, machine: str, problem: str) -> None:
    found = [p for p in problems(**{key: machine}) if p.startswith(f"kubepar:{key}:")]
    assert len(found) == 1 and problem in found[0], found


@pytest.mark.parametrize(
    "machine",
    ["e2-standard-4", "n1-standard-4", "n2-highmem-8", "c3-standard-22", "n2-custom-6-24576"],
)
def test_machine_types_that_exist_and_are_priced_pass(machine: str) -> None:
    gke = parse(workerMachineType=machine).gke
    assert gke is not None and gke.worker_machine_type == machine


def _sweep(script: str) -> str:
    return json.dumps([{"name": "s", "script": script, "tasks": 2}])


def _sweep_problems(script: str) -> list[str]:
    with pytest.raises(config.ConfigError) as caught:
        config.parse({"platform": "existing", "sweeps": _sweep(script)}, stack="t", gcp_project=None)
    return [p for p in caught.value.problems if p.startswith("kubepar:sweeps[s].script:")]


@pytest.mark.parametrize(
    ("script", "problem"),
    [
        ("examples/sweeps/sim\x00.R", "NUL"),
        ("examples/sweeps/sim\n.R", "control character"),
        ("a" * 300 + ".R", "longer than a file path"),
        ("/".join(["a"] * 3000) + ".R", "longer than a file path"),
        ("examples/sweeps", "neither an R"),
    ],
)
def test_sweep_paths_that_are_no_file_name_are_refused(script: str, problem: str) -> None:
    found = _sweep_problems(script)
    assert len(found) == 1 and problem in found[0], found


def test_sweep_paths_of_other_file_types_are_refused(tmp_path: Path) -> None:
    folder = ROOT / "build" / "test-sweep-paths"
    folder.mkdir(parents=True, exist_ok=True)
    try:
        (folder / "dir.R").mkdir(exist_ok=True)
        fifo = folder / "pipe.R"
        if not fifo.exists():
            os.mkfifo(fifo)
        sock_path = folder / "sock.R"
        sock = socket.socket(socket.AF_UNIX)
        if sock_path.exists():
            sock_path.unlink()
        sock.bind(str(sock_path))
        loop = folder / "loop.R"
        if not loop.is_symlink():
            loop.symlink_to(loop)
        relative = folder.relative_to(ROOT)
        assert "a folder" in _sweep_problems(f"{relative}/dir.R")[0]
        # Reading a named pipe would wait for ever: it is refused without being opened.
        assert "a named pipe" in _sweep_problems(f"{relative}/pipe.R")[0]
        assert "a socket" in _sweep_problems(f"{relative}/sock.R")[0]
        assert "cannot be read" in _sweep_problems(f"{relative}/loop.R")[0]
        sock.close()
    finally:
        for path in folder.iterdir():
            path.rmdir() if path.is_dir() and not path.is_symlink() else path.unlink()
        folder.rmdir()
