"""Exposure rules: what may be reached from outside the cluster, and from where.

Owns: Services (LoadBalancer source ranges, in the spec or the legacy
annotation, padded, split or IPv6; externalIPs; private ports by number or
by the container port's name) and the other doors into a cluster (Ingress,
Gateway, NodePort). The private ports run code for whoever connects (the R worker
port, the Dask scheduler port, a queue's port): they are private wherever
the stack puts them, so the stack rule also learns them from the stack's own
endpoint Services and named container ports, not only from the pack config.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pulumi_policy import (
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from components.ground import spark

from .common import (
    containers,
    describe,
    is_kind,
    is_workload,
    pod_template,
    range_problem,
    rule,
    selects,
    stack_rule,
    string_list,
)

EXPOSED_TYPES = ("LoadBalancer", "NodePort")
RANGES_ANNOTATION = "service.beta.kubernetes.io/load-balancer-source-ranges"
# R workers dial 11562 by default (kubepar:workerPort); Dask workers dial 8786.
# Spark's Connect, master, worker, driver and block-manager ports too (no authentication on any).
PRIVATE_PORTS_DEFAULT = [11562, 8786, 6379, *spark.PRIVATE_PORTS]
# Container and Service port names kubepar gives its private ports.
PRIVATE_PORT_NAMES_DEFAULT = [
    "r-workers",
    "tcp-comm",
    "endpoint",
    "redis",
    *("spark-connect", "spark-master", "worker", "driver", "driver-blocks", "block-manager"),
]
# Services that only pods of the stack dial: every port on them is private.
PRIVATE_SERVICES_DEFAULT = ["kubepar-scheduler", "kubepar-queue", *spark.SERVICES]
DOOR_KINDS = ("Ingress", "Gateway", "HTTPRoute", "TCPRoute", "TLSRoute", "GRPCRoute", "UDPRoute")


def _service_spec(args_props: Mapping[str, Any]) -> Mapping[str, Any]:
    return args_props.get("spec") or {}


def _load_balancer_ranges(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not is_kind(args.resource_type, "Service", group="core"):
        return
    spec = _service_spec(args.props)
    if spec.get("type") != "LoadBalancer":
        return
    ranges = list(spec.get("loadBalancerSourceRanges") or [])
    annotation = ((args.props.get("metadata") or {}).get("annotations") or {}).get(RANGES_ANNOTATION)
    # The cloud provider reads the annotation when the spec field is empty: check both.
    annotated = [part for part in str(annotation).split(",")] if annotation is not None else []
    if not ranges and not annotated:
        report(
            f"{describe(args)} is a LoadBalancer open to the internet. Set loadBalancerSourceRanges "
            "(kubepar:allowedSourceRanges) to your own addresses, or use ClusterIP and port-forward.",
            None,
        )
    for where, values in (("loadBalancerSourceRanges", ranges), (RANGES_ANNOTATION, annotated)):
        problem = range_problem(values) if values else None
        if problem:
            report(f"{describe(args)} {where} {problem}. List only your own addresses.", None)


def _external_ips(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if is_kind(args.resource_type, "Service", group="core") and _service_spec(args.props).get("externalIPs"):
        report(
            f"{describe(args)} sets externalIPs {_service_spec(args.props)['externalIPs']}: every node then "
            "accepts its traffic on those addresses, with no source ranges. Remove externalIPs.",
            None,
        )


def _exposed_ports(spec: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    if spec.get("type") in EXPOSED_TYPES:
        yield from spec.get("ports") or []


def _private_ports(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not is_kind(args.resource_type, "Service", group="core"):
        return
    config = args.get_config()
    numbers = {int(p) for p in config.get("privatePorts") or []}
    names = set(config.get("privatePortNames") or [])
    name = (args.props.get("metadata") or {}).get("name")
    for port in _exposed_ports(_service_spec(args.props)):
        values = {port.get("port"), port.get("targetPort")}
        hit = sorted(str(v) for v in values if v in numbers or v in names)
        if port.get("name") in names:
            hit.append(str(port["name"]))
        if name in set(config.get("privateServices") or []):
            hit.append(f"{port.get('port')} of the private Service {name}")
        if hit:
            report(
                f"{describe(args)} exposes port {hit[0]} outside the cluster. The R worker, Dask scheduler and "
                "queue ports run code for whoever connects: keep them on a ClusterIP Service.",
                None,
            )


def _is_door(args: ResourceValidationArgs) -> bool:
    if any(is_kind(args.resource_type, kind) for kind in DOOR_KINDS):
        return True
    # A NodePort opens its port on every node's address, with no source ranges to hold it.
    return is_kind(args.resource_type, "Service", group="core") and _service_spec(args.props).get("type") == "NodePort"


def _doors(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not _is_door(args):
        return
    allowed = args.get_config().get("allowedDoors") or []
    name = (args.props.get("metadata") or {}).get("name") or args.name
    reached = _spark_reached(args.props.get("spec") or {})
    if reached:
        # Spark Connect has no authentication: whoever reaches it runs code. No allow-list admits it.
        report(
            f"{describe(args)} reaches Spark ({reached}), which has no authentication: only the session may dial "
            "it, inside the cluster. Remove the door (allowedDoors cannot admit it); use port-forward.",
            None,
        )
    elif name not in allowed:
        report(
            f"{describe(args)} opens a door into the cluster that loadBalancerSourceRanges do not guard. "
            "Use kubepar's LoadBalancer (kubepar:allowedSourceRanges), or add it to allowedDoors after review.",
            None,
        )


def _spark_reached(value: Any) -> str | None:
    """What of Spark a door's spec names: one of its Services, ports or pods, or None."""
    if isinstance(value, Mapping):
        component = value.get("app.kubernetes.io/component")
        if isinstance(component, str) and component in spark.COMPONENTS:
            return f"the {component} pods"
        for key, item in value.items():
            if key in ("port", "number", "targetPort") and isinstance(item, int) and item in spark.PRIVATE_PORTS:
                return f"port {item}"
            found = _spark_reached(item)
            if found:
                return found
    elif isinstance(value, list):
        for item in value:
            found = _spark_reached(item)
            if found:
                return found
    elif isinstance(value, str) and value in spark.SERVICES:
        return f"the Service {value}"
    return None


def _named_container_ports(resource: PolicyResource) -> Iterator[tuple[Mapping[str, Any], str, int]]:
    """(pod labels, port name, port number) of every named container port of a workload."""
    if not is_workload(resource.resource_type):
        return
    meta, spec = pod_template(resource.props or {}, resource.resource_type)
    for container in containers(spec):
        for port in container.get("ports") or []:
            if port.get("name") and port.get("containerPort") is not None:
                yield meta.get("labels") or {}, str(port["name"]), int(port["containerPort"])


def _learned_private_ports(resources: Iterable[PolicyResource], names: set[str], services: set[str]) -> set[int]:
    """Port numbers the stack itself marks private: endpoint Services' ports and named container ports."""
    found: set[int] = set()
    for resource in resources:
        props = resource.props or {}
        if is_kind(resource.resource_type, "Service", group="core"):
            if (props.get("metadata") or {}).get("name") in services:
                for port in (props.get("spec") or {}).get("ports") or []:
                    found |= {int(v) for v in (port.get("port"), port.get("targetPort")) if isinstance(v, int | float)}
        else:
            found |= {number for _, name, number in _named_container_ports(resource) if name in names}
    return found


def _target_numbers(resources: list[PolicyResource], service: Mapping[str, Any], target: Any) -> set[int]:
    """The container ports a named targetPort resolves to, in the pods the Service selects."""
    selector = {"matchLabels": (service.get("spec") or {}).get("selector") or {}}
    namespace = (service.get("metadata") or {}).get("namespace")
    if not selector["matchLabels"]:
        return set()
    return {
        number
        for resource in resources
        if ((resource.props or {}).get("metadata") or {}).get("namespace") == namespace
        for labels, name, number in _named_container_ports(resource)
        if name == target and selects(selector, labels)
    }


def _stack_private_ports(args: StackValidationArgs, report: ReportViolation) -> None:
    resources = list(args.resources)
    config = args.get_config()
    names = set(config.get("privatePortNames") or [])
    services = set(config.get("privateServices") or [])
    private = _learned_private_ports(resources, names, services) | {int(p) for p in config.get("privatePorts") or []}
    for resource in resources:
        if not is_kind(resource.resource_type, "Service", group="core"):
            continue
        props = resource.props or {}
        for port in _exposed_ports(props.get("spec") or {}):
            target = port.get("targetPort")
            numbers = {int(v) for v in (port.get("port"), target) if isinstance(v, int | float)}
            if isinstance(target, str):
                numbers |= _target_numbers(resources, props, target)
            exposed = sorted(numbers & private)
            if exposed:
                name = (props.get("metadata") or {}).get("name") or resource.name
                report(
                    f"Service '{name}' exposes the stack's private port {exposed[0]} outside the cluster "
                    f"(port {port.get('port')}, targetPort {target}). Keep it on a ClusterIP Service.",
                    resource.urn,
                )


PORTS_CONFIG = {
    "privatePorts": {"type": "array", "items": {"type": "integer"}, "default": PRIVATE_PORTS_DEFAULT},
    "privatePortNames": string_list(PRIVATE_PORT_NAMES_DEFAULT),
    "privateServices": string_list(PRIVATE_SERVICES_DEFAULT),
}

POLICIES: list[ResourceValidationPolicy] = [
    rule(
        "load-balancer-source-ranges",
        "LoadBalancer Services set source ranges (spec or annotation) that are clean, own-sized ranges: "
        "never the whole internet, alone or together, in IPv4 or IPv6.",
        _load_balancer_ranges,
    ),
    rule("no-external-ips", "No Service sets externalIPs.", _external_ips),
    rule(
        "no-public-worker-port",
        "The private ports (R workers, Dask scheduler, queue; by number, name or private Service) are never "
        "on a LoadBalancer or NodePort.",
        _private_ports,
        config=PORTS_CONFIG,
    ),
    rule(
        "no-unguarded-door",
        "No Ingress, Gateway API route or NodePort Service unless allow-listed: they bypass the "
        "LoadBalancer's source ranges.",
        _doors,
        config={"allowedDoors": string_list([])},
    ),
]

STACK_POLICIES: list[StackValidationPolicy] = [
    stack_rule(
        "no-public-private-port-in-stack",
        "No LoadBalancer or NodePort Service reaches a port the stack itself marks private "
        "(its endpoint Services' ports, named container ports), by number or by targetPort name.",
        _stack_private_ports,
        config=PORTS_CONFIG,
    ),
]
