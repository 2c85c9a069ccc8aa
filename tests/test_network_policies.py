"""NetworkPolicies, judged by what they let through: a small evaluator of the rendered policies.

Each test asks whether one pod (or address) may open a connection to another
on a port, the way Kubernetes combines policies: a pod is isolated in a
direction once any policy of that type selects it, and then only the union
of those policies' rules lets traffic through; a connection needs both the
source's egress and the destination's ingress.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

import pytest

from components.k8s.labels import selector
from tests.conftest import OWN_RANGE, program
from tools.harness.network import Address, Peer, Pod, connects


def pod(stack: str, component: str) -> Pod:
    return Pod(selector(stack, component))


DNS = Pod({"k8s-app": "kube-dns"}, "kube-system")
OTHER_SYSTEM_POD = Pod({"k8s-app": "metrics-server"}, "kube-system")


def reachable(stack: str, source: Peer, destination: Peer, port: int, protocol: str = "TCP", **config: Any) -> bool:
    return connects(program(stack, **config).kubernetes("NetworkPolicy"), source, destination, port, protocol)


PUBLIC_HTTPS = Address("151.101.1.1")  # a public address, as a package mirror has
METADATA = Address("169.254.169.254")
API_SERVER = Address("192.0.2.10")  # the mocked cluster endpoint (tools/render.py)
NODE = Address("10.10.0.5")
USER = Address("81.2.69.5")  # inside OWN_RANGE, which these tests give as allowedSourceRanges
STRANGER = Address("198.51.100.200")
EXPOSED = {"allowedSourceRanges": json.dumps([OWN_RANGE]), "domain": "lab.example.org", "dnsZone": "lab-zone"}


@pytest.mark.parametrize(
    ("source", "destination", "port", "expected"),
    [
        ("worker", "scheduler", 11562, True),
        ("worker", "scheduler", 8787, False),
        ("worker", "worker", 11562, False),
        ("scheduler", "worker", 11562, False),
    ],
)
@pytest.mark.parametrize("stack", ["local", "dev"])
def test_r_pods_reach_each_other_only_through_the_worker_port(
    stack: str, source: str, destination: str, port: int, expected: bool
) -> None:
    assert reachable(stack, pod(stack, source), pod(stack, destination), port) is expected


def test_the_worker_port_follows_config() -> None:
    worker, scheduler = pod("dev", "worker"), pod("dev", "scheduler")
    assert reachable("dev", worker, scheduler, 12000, workerPort="12000")
    assert not reachable("dev", worker, scheduler, 11562, workerPort="12000")


@pytest.mark.parametrize(
    ("source", "destination", "port", "expected"),
    [
        ("notebook", "scheduler", 8786, True),
        # The JupyterLab Dask panel and client.dashboard_link, from the notebook pod.
        ("notebook", "scheduler", 8787, True),
        ("notebook", "worker", 40123, True),
        ("worker", "scheduler", 8786, True),
        ("worker", "worker", 40123, True),
        ("scheduler", "worker", 40123, True),
        # Workers have no business on the notebook, on any port.
        ("worker", "notebook", 8888, False),
        ("worker", "notebook", 40123, False),
        ("scheduler", "notebook", 8888, False),
        ("worker", "scheduler", 8787, False),
    ],
)
def test_dask_pods_reach_exactly_what_dask_needs(source: str, destination: str, port: int, expected: bool) -> None:
    assert reachable("dask-dev", pod("dask-dev", source), pod("dask-dev", destination), port) is expected


@pytest.mark.parametrize("stack", ["local", "dev", "dask-dev"])
def test_every_pod_resolves_names_and_reaches_nothing_else_in_kube_system(stack: str) -> None:
    for component in ("scheduler", "worker"):
        source = pod(stack, component)
        assert reachable(stack, source, DNS, 53, "UDP") and reachable(stack, source, DNS, 53, "TCP")
        assert not reachable(stack, source, DNS, 8080)
        assert not reachable(stack, source, OTHER_SYSTEM_POD, 443)


@pytest.mark.parametrize(("stack", "component"), [("dev", "worker"), ("dask-dev", "worker"), ("dask-dev", "scheduler")])
def test_workers_reach_package_repositories_over_https_only(stack: str, component: str) -> None:
    source = pod(stack, component)
    assert reachable(stack, source, PUBLIC_HTTPS, 443)
    assert not reachable(stack, source, PUBLIC_HTTPS, 80)
    assert not reachable(stack, source, PUBLIC_HTTPS, 22)


@pytest.mark.parametrize(("stack", "component"), [("dev", "scheduler"), ("dask-dev", "notebook")])
def test_the_users_session_reaches_the_internet_on_any_port(stack: str, component: str) -> None:
    assert reachable(stack, pod(stack, component), PUBLIC_HTTPS, 22)


ALL_COMPONENTS = [
    ("dev", "scheduler"),
    ("dev", "worker"),
    ("dev", "sweep"),
    ("local", "scheduler"),
    ("local", "sweep"),
    ("dask-dev", "notebook"),
    ("dask-dev", "scheduler"),
    ("dask-dev", "worker"),
]
# On GKE the user's session and the sweeps' task pods mount the results bucket:
# the injected Cloud Storage FUSE sidecar gets its Workload Identity token from
# the metadata server, or the pod never starts.
BUCKET_MOUNTERS = {("dev", "scheduler"), ("dev", "sweep"), ("dask-dev", "notebook")}
LEGACY_METADATA = Address("169.254.169.252")
OTHER_LINK_LOCAL = Address("169.254.1.1")


@pytest.mark.parametrize(("stack", "component"), [c for c in ALL_COMPONENTS if c[0] != "local"])
@pytest.mark.parametrize("target", [API_SERVER, NODE, OTHER_LINK_LOCAL, LEGACY_METADATA])
def test_no_pod_reaches_the_api_server_nodes_or_other_link_local_addresses(
    stack: str, component: str, target: Address
) -> None:
    for port in (80, 443, 988, 10250):
        assert not reachable(stack, pod(stack, component), target, port)


@pytest.mark.parametrize(("stack", "component"), ALL_COMPONENTS)
def test_exactly_the_bucket_mounting_pods_reach_the_metadata_server_on_port_80_only(stack: str, component: str) -> None:
    source = pod(stack, component)
    assert reachable(stack, source, METADATA, 80) is ((stack, component) in BUCKET_MOUNTERS)
    for port in (443, 988, 8080, 10250):
        assert not reachable(stack, source, METADATA, port)


def test_the_metadata_rule_follows_the_bucket_not_the_role() -> None:
    policies = program("dev").kubernetes("NetworkPolicy")
    opening = [
        p["metadata"]["name"]
        for p in policies
        for rule in p["spec"].get("egress") or []
        for peer in rule.get("to") or []
        if "ipBlock" in peer
        and ipaddress.ip_network(peer["ipBlock"]["cidr"]).overlaps(ipaddress.ip_network(METADATA.ip))
        and not any(
            ipaddress.ip_address(METADATA.ip) in ipaddress.ip_network(e) for e in peer["ipBlock"].get("except") or []
        )
    ]
    # One egress policy for the session, one per sweep: nothing else.
    assert len(opening) == 2, opening


@pytest.mark.parametrize(("stack", "component", "port"), [("dev", "scheduler", 8787), ("dask-dev", "notebook", 8888)])
def test_users_reach_the_session_only_through_the_https_front_from_the_allowed_ranges(
    stack: str, component: str, port: int
) -> None:
    ui, front = pod(stack, component), pod(stack, "https")
    assert reachable(stack, USER, front, 8443, **EXPOSED)
    assert not reachable(stack, STRANGER, front, 8443, **EXPOSED)
    # The session itself has no public door: the front reaches it, on its port only.
    assert not reachable(stack, USER, ui, port, **EXPOSED)
    assert reachable(stack, front, ui, port, **EXPOSED)
    assert not reachable(stack, front, ui, port + 1, **EXPOSED)
    # The shipped stacks set no ranges: no LoadBalancer, nobody from outside.
    assert not reachable(stack, USER, ui, port)


def test_the_dask_dashboard_has_no_public_door_of_its_own() -> None:
    scheduler = pod("dask-dev", "scheduler")
    for port in (8786, 8787):
        assert not reachable("dask-dev", USER, scheduler, port, **EXPOSED)
    assert reachable("dask-dev", pod("dask-dev", "notebook"), scheduler, 8787, **EXPOSED)


@pytest.mark.parametrize("stack", ["local", "dev", "dask-dev"])
def test_no_pod_gets_service_link_variables(stack: str) -> None:
    for deployment in program(stack).kubernetes("Deployment"):
        assert deployment["spec"]["template"]["spec"]["enableServiceLinks"] is False


@pytest.mark.parametrize(
    ("source", "destination", "port", "expected"),
    [
        ("worker", "queue", 6379, True),
        ("scheduler", "queue", 6379, True),
        ("worker", "queue", 6380, False),
        ("worker", "scheduler", 11562, False),
        ("queue", "worker", 6379, False),
        ("worker", "worker", 6379, False),
    ],
)
def test_with_the_redis_backend_only_scheduler_and_workers_reach_the_queue(
    source: str, destination: str, port: int, expected: bool
) -> None:
    assert reachable("dev", pod("dev", source), pod("dev", destination), port, rBackend="redis") is expected


def test_queue_workers_reach_the_ubuntu_archive_and_the_queue_reaches_nothing_outside() -> None:
    worker, queue = pod("dev", "worker"), pod("dev", "queue")
    assert reachable("dev", worker, PUBLIC_HTTPS, 80, rBackend="redis")
    assert not reachable("dev", worker, PUBLIC_HTTPS, 22, rBackend="redis")
    assert not reachable("dev", queue, PUBLIC_HTTPS, 443, rBackend="redis")
    assert not reachable("dev", worker, METADATA, 80, rBackend="redis")
