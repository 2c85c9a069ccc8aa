"""Exposure rules: source ranges in every spelling, private ports by number, name or Service, other doors."""

from __future__ import annotations

from typing import Any

import pytest

from tests.policies.helpers import SERVICE, check, container, pod_spec, policy_resource, stack_check, workload


def _service(kind: str = "LoadBalancer", *, annotations: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "s", "namespace": "kubepar"}
    if annotations:
        metadata["annotations"] = annotations
    return {"kind": "Service", "metadata": metadata, "spec": {"type": kind, **spec}}


@pytest.mark.parametrize(
    ("ranges", "message"),
    [
        (["0.0.0.0/0"], "0.0.0.0/0 (the whole internet)"),
        (["::/0"], "::/0 (the whole internet)"),
        (["0.0.0.0/1", "128.0.0.0/1"], "together they open 0.0.0.0/0"),
        (["::/1", "8000::/1"], "together they open ::/0"),
        (["203.0.113.0/24", "0.0.0.0/2", "64.0.0.0/2", "128.0.0.0/1"], "together they open 0.0.0.0/0"),
        (["10.0.0.0/8"], "10.0.0.0/8, wider than /16"),
        (["2001:db8::/32"], "wider than /48"),
        ([" 203.0.113.0/24"], "has padded entries"),
        (["203.0.113.0/24\n"], "has padded entries"),
        (["everyone"], "has entries that are not ranges"),
    ],
)
def test_source_ranges_that_open_too_much_are_refused_in_spec_and_annotation(ranges: list[str], message: str) -> None:
    in_spec = check("load-balancer-source-ranges", SERVICE, _service(loadBalancerSourceRanges=ranges))
    assert any(message in m for m in in_spec), in_spec
    annotation = {"service.beta.kubernetes.io/load-balancer-source-ranges": ",".join(ranges)}
    annotated = check("load-balancer-source-ranges", SERVICE, _service(annotations=annotation))
    assert any(message in m for m in annotated), annotated


@pytest.mark.parametrize("ranges", [["203.0.113.7/32"], ["198.51.100.0/24", "203.0.113.0/24"], ["2001:db8:1::/48"]])
def test_own_ranges_pass(ranges: list[str]) -> None:
    assert check("load-balancer-source-ranges", SERVICE, _service(loadBalancerSourceRanges=ranges)) == []
    annotation = {"service.beta.kubernetes.io/load-balancer-source-ranges": ",".join(ranges)}
    assert check("load-balancer-source-ranges", SERVICE, _service(annotations=annotation)) == []


def test_a_load_balancer_without_ranges_is_open_to_the_internet() -> None:
    found = check("load-balancer-source-ranges", SERVICE, _service())
    assert "is a LoadBalancer open to the internet" in found[0]
    assert check("load-balancer-source-ranges", SERVICE, _service("ClusterIP")) == []


def test_external_ips_are_refused_on_any_service() -> None:
    for kind in ("ClusterIP", "LoadBalancer", "NodePort"):
        found = check("no-external-ips", SERVICE, _service(kind, externalIPs=["198.51.100.9"]))
        assert "sets externalIPs" in found[0]
    assert check("no-external-ips", SERVICE, _service("ClusterIP")) == []


@pytest.mark.parametrize("kind", ["LoadBalancer", "NodePort"])
@pytest.mark.parametrize(
    "port",
    [
        {"port": 11562},
        {"port": 80, "targetPort": 11562},
        {"port": 8786},
        {"port": 80, "targetPort": 6379},
        {"port": 80, "targetPort": "r-workers"},
        {"port": 80, "targetPort": "tcp-comm"},
        {"name": "endpoint", "port": 80, "targetPort": 80},
    ],
)
def test_private_ports_are_never_exposed_by_number_or_name(kind: str, port: dict[str, Any]) -> None:
    found = check(
        "no-public-worker-port", SERVICE, _service(kind, loadBalancerSourceRanges=["203.0.113.0/24"], ports=[port])
    )
    assert any("outside the cluster" in m for m in found), found
    assert check("no-public-worker-port", SERVICE, _service("ClusterIP", ports=[port])) == []


def test_a_private_service_is_private_on_every_port() -> None:
    service = _service("NodePort", ports=[{"port": 443}])
    service["metadata"]["name"] = "kubepar-scheduler"
    assert check("no-public-worker-port", SERVICE, service)
    service["metadata"]["name"] = "web"
    assert check("no-public-worker-port", SERVICE, service) == []


def _stack(worker_port: int, exposed: dict[str, Any]) -> list[Any]:
    """A scheduler with a configured worker port, its ClusterIP endpoint, and one exposed Service."""
    resource_type, props = workload(
        "Deployment",
        pod_spec(container(ports=[{"name": "listen", "containerPort": worker_port}, {"containerPort": 8787}])),
        labels={"app.kubernetes.io/component": "scheduler"},
    )
    endpoint = _service("ClusterIP", ports=[{"port": worker_port, "targetPort": worker_port}])
    endpoint["metadata"]["name"] = "kubepar-scheduler"
    public = _service("LoadBalancer", loadBalancerSourceRanges=["203.0.113.0/24"], ports=[exposed])
    public["metadata"]["name"] = "ui"
    public["spec"]["selector"] = {"app.kubernetes.io/component": "scheduler"}
    return [
        policy_resource(resource_type, props, "scheduler"),
        policy_resource(SERVICE, endpoint, "endpoint"),
        policy_resource(SERVICE, public, "ui"),
    ]


@pytest.mark.parametrize(
    "exposed",
    [
        {"port": 12345},
        {"port": 80, "targetPort": 12345},
        # By the container port's name, which only the pod knows.
        {"port": 80, "targetPort": "listen"},
    ],
)
def test_a_configured_worker_port_is_private_whatever_the_pack_config_says(exposed: dict[str, Any]) -> None:
    found = stack_check(_stack(12345, exposed), only="no-public-private-port-in-stack")
    assert any("exposes the stack's private port 12345" in m for m in found), found


def test_the_ui_port_of_the_same_pod_may_be_exposed() -> None:
    assert stack_check(_stack(12345, {"port": 8787, "targetPort": 8787}), only="no-public-private-port-in-stack") == []


@pytest.mark.parametrize(
    ("resource_type", "kind"),
    [
        ("kubernetes:networking.k8s.io/v1:Ingress", "Ingress"),
        ("kubernetes:networking.k8s.io/v1beta1:Ingress", "Ingress"),
        ("kubernetes:gateway.networking.k8s.io/v1:Gateway", "Gateway"),
        ("kubernetes:gateway.networking.k8s.io/v1:HTTPRoute", "HTTPRoute"),
        ("kubernetes:core/v1:Service", "Service"),
        ("kubernetes:core/v1:ServicePatch", "ServicePatch"),
    ],
)
def test_other_doors_are_refused_unless_allow_listed(resource_type: str, kind: str) -> None:
    door: dict[str, Any] = {"kind": kind, "metadata": {"name": "web"}}
    if kind.startswith("Service"):
        door["spec"] = {"type": "NodePort", "ports": [{"port": 8787}]}
    assert "opens a door into the cluster" in check("no-unguarded-door", resource_type, door)[0]
    assert check("no-unguarded-door", resource_type, door, config={"allowedDoors": ["web"]}) == []


@pytest.mark.parametrize("service_type", ["ClusterIP", "LoadBalancer"])
def test_services_that_are_no_node_port_are_no_door(service_type: str) -> None:
    service = {"kind": "Service", "metadata": {"name": "web"}, "spec": {"type": service_type}}
    assert check("no-unguarded-door", "kubernetes:core/v1:Service", service) == []


@pytest.mark.parametrize(
    ("resource_type", "door"),
    [
        (
            "kubernetes:networking.k8s.io/v1:Ingress",
            {"rules": [{"http": {"paths": [{"backend": {"service": {"name": "kubepar-spark-connect"}}}]}}]},
        ),
        ("kubernetes:gateway.networking.k8s.io/v1:GRPCRoute", {"rules": [{"backendRefs": [{"port": 15002}]}]}),
        (
            "kubernetes:core/v1:Service",
            {"type": "NodePort", "selector": {"app.kubernetes.io/component": "spark-master"}, "ports": [{"port": 80}]},
        ),
        ("kubernetes:core/v1:Service", {"type": "NodePort", "ports": [{"port": 8000, "targetPort": 7077}]}),
    ],
)
def test_a_door_to_spark_is_refused_even_when_allow_listed(resource_type: str, door: dict[str, Any]) -> None:
    # Spark Connect has no authentication: whoever reaches it runs code.
    document = {"kind": resource_type.rsplit(":", 1)[-1], "metadata": {"name": "web"}, "spec": door}
    found = check("no-unguarded-door", resource_type, document, config={"allowedDoors": ["web"]})
    assert len(found) == 1 and "reaches Spark" in found[0], found


def test_a_door_to_another_port_is_no_spark_door() -> None:
    door = {"kind": "Ingress", "metadata": {"name": "web"}, "spec": {"rules": [{"host": "kubepar-spark-connect.org"}]}}
    found = check(
        "no-unguarded-door", "kubernetes:networking.k8s.io/v1:Ingress", door, config={"allowedDoors": ["web"]}
    )
    assert found == []


@pytest.mark.parametrize("port", [15002, 7077, 7081])
def test_a_load_balancer_on_a_spark_port_is_refused_by_default(port: int) -> None:
    service = _service(loadBalancerSourceRanges=["203.0.113.7/32"], ports=[{"port": 443, "targetPort": port}])
    assert "exposes port" in check("no-public-worker-port", SERVICE, service)[0]
    named = _service(loadBalancerSourceRanges=["203.0.113.7/32"], ports=[{"port": 443, "targetPort": "spark-connect"}])
    assert "exposes port spark-connect" in check("no-public-worker-port", SERVICE, named)[0]
    spec = {"type": "LoadBalancer", "ports": [{"port": 8443}]}
    private = {"kind": "Service", "metadata": {"name": "kubepar-spark-connect"}, "spec": spec}
    assert "private Service kubepar-spark-connect" in check("no-public-worker-port", SERVICE, private)[0]
