"""The local control plane answers on loopback only.

kwokctl binds etcd (plain HTTP, no authentication), the API server, the
controller manager, the scheduler and the kwok controller to every address
unless told otherwise: on a laptop on shared Wi-Fi anyone nearby could read
the stack's Secrets straight from etcd. Read from the kernel's socket tables
for the cluster's own processes, as `ss -ltnp` would.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Any

import pytest

from tests.engine.conftest import Cluster


def _cluster_pids(folder: Path) -> set[int]:
    """Processes whose command line names the cluster's folder (kwokctl's binary runtime passes its paths)."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(folder) in command:
            pids.add(int(entry.name))
    return pids


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def _address(hex_address: str, v6: bool) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    raw = bytes.fromhex(hex_address)
    if v6:
        # /proc/net/tcp6 writes the address as four little-endian 32-bit words.
        return ipaddress.IPv6Address(b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4)))
    return ipaddress.IPv4Address(raw[::-1])


def _listeners() -> dict[str, tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int]]:
    """Listening TCP sockets by inode: (address, port)."""
    found = {}
    for table, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state != "0A":  # LISTEN
                continue
            address, port = local.split(":")
            found[inode] = (_address(address, v6), int(port, 16))
    return found


def test_every_component_of_the_local_control_plane_listens_on_loopback_only(cluster: Cluster) -> None:
    pids = _cluster_pids(cluster.kubeconfig.parent)
    assert len(pids) >= 5, pids  # etcd, kube-apiserver, controller-manager, scheduler, kwok
    listeners = _listeners()
    bound = {listeners[inode] for pid in pids for inode in _socket_inodes(pid) if inode in listeners}
    assert len(bound) >= 5, bound
    public = sorted((str(address), port) for address, port in bound if not address.is_loopback)
    assert public == [], f"listening beyond loopback: {public}"
    # The kubeconfig the tests and `make up STACK=kwok` use points at loopback too.
    assert "https://127.0.0.1:" in cluster.kubeconfig.read_text()


def test_the_kwok_stack_goes_to_the_local_control_plane_whatever_kubeconfig_the_shell_exports(
    deploy: Any, cluster: Cluster, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The inline program's Kubernetes provider reads KUBECONFIG from the process it runs in:
    # one exported variable must not send the test stack to a real cluster.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: real\n"
        "clusters: [{name: real, cluster: {server: 'https://127.0.0.1:9'}}]\n"
        "contexts: [{name: real, context: {cluster: real, user: real}}]\nusers: [{name: real, user: {}}]\n"
    )
    monkeypatch.setenv("KUBECONFIG", str(elsewhere))
    deployed = deploy("kwkubeconfig")
    deployed.up()
    assert cluster.get("namespace", deployed.namespace)["metadata"]["name"] == deployed.namespace
