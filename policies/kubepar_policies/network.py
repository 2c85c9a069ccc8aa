"""Network rules: every workload is fenced in both directions by a NetworkPolicy that means something.

Owns: the stack-wide check that each workload's pods are selected by a
policy that restricts ingress and by one that restricts egress, and that no
policy selecting them opens ingress to everyone (no peers, the whole
cluster, or an address range wider than the shared floor) or egress to
everything on every port. A workload without a namespace is reported, not
skipped: it lands wherever the provider's default points.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from pulumi_policy import PolicyResource, ReportViolation, StackValidationArgs, StackValidationPolicy

from .common import cidrs, is_kind, is_workload, pod_template, range_problem, selects, stack_rule

NETWORK_POLICY_GROUP = "networking.k8s.io"


def _types(spec: Mapping[str, Any]) -> set[str]:
    """policyTypes as Kubernetes defaults them: Ingress always, Egress when egress rules exist."""
    declared = spec.get("policyTypes")
    if declared:
        return set(declared)
    return {"Ingress", "Egress"} if spec.get("egress") else {"Ingress"}


# Labels every namespace has: Exists on them selects every namespace.
ALWAYS_PRESENT_NAMESPACE_LABELS = ("kubernetes.io/metadata.name",)
# Ranges a pod must never reach on every port: the cluster's own (private) and
# link-local, where the node's metadata server answers. An egress rule whose
# exceptions keep these out is internet access; one that lets them in is everything.
SENSITIVE_RANGES = tuple(
    ipaddress.ip_network(cidr)
    for cidr in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "fc00::/7", "fe80::/10")
)
ALL_PORTS = 65535


def matches_all(selector: Mapping[str, Any] | None, always_present: tuple[str, ...] = ()) -> bool:
    """Whether a label selector selects (nearly) every object: empty, or only exclusions.

    NotIn and DoesNotExist exclude some objects and admit every other; Exists on a
    label every object has admits all. Only matchLabels, In, and Exists on another
    label narrow a selector.
    """
    selector = selector or {}
    if selector.get("matchLabels"):
        return False
    for expression in selector.get("matchExpressions") or []:
        operator = expression.get("operator")
        if operator == "In":
            return False
        if operator == "Exists" and expression.get("key") not in always_present:
            return False
    return True


def _subtract(network: Any, holes: list[Any]) -> list[Any]:
    """``network`` without ``holes`` (ranges of the same family), as disjoint ranges."""
    pieces = [network]
    for hole in holes:
        if hole.version != network.version:
            continue
        rest: list[Any] = []
        for piece in pieces:
            if piece.subnet_of(hole):
                continue
            rest.extend(piece.address_exclude(hole) if hole.subnet_of(piece) else [piece])
        pieces = rest
    return pieces


def _opens_everything(blocks: list[Mapping[str, Any]]) -> bool:
    """Whether ipBlocks, with their exceptions, reach half an address family and the sensitive ranges."""
    allowed = [
        piece
        for block in blocks
        # cidrs.parse: the valid ranges, IPv4-mapped IPv6 read as IPv4 (as Kubernetes does).
        for network in cidrs.parse([block.get("cidr")])[0]
        for piece in _subtract(network, cidrs.parse(block.get("except") or [])[0])
    ]
    for version, bits in ((4, 32), (6, 128)):
        family = [network for network in allowed if network.version == version]
        size = sum(network.num_addresses for network in ipaddress.collapse_addresses(family))
        inside = any(n.overlaps(r) for n in family for r in SENSITIVE_RANGES if r.version == version)
        if size >= 2 ** (bits - 1) and inside:
            return True
    return False


def _peer_is_everyone(peer: Mapping[str, Any], direction: str) -> bool:
    block = peer.get("ipBlock")
    if block is not None:
        if direction == "egress":
            # The internet on the way out is normal; all of it, the cluster and the metadata server included, is not.
            return _opens_everything([block])
        return range_problem([block.get("cidr")]) is not None
    namespaces = peer.get("namespaceSelector")
    pods = peer.get("podSelector")
    # Every namespace (an empty selector, or one that only excludes), with every pod of them.
    return (
        namespaces is not None
        and matches_all(namespaces, ALWAYS_PRESENT_NAMESPACE_LABELS)
        and (pods is None or matches_all(pods))
    )


def _all_ports(entry: Mapping[str, Any]) -> bool:
    """No ports, a port entry without a number (every port of its protocol), or a range over nearly all."""
    ports = entry.get("ports") or []
    if not ports:
        return True
    for port in ports:
        number = port.get("port")
        if number is None:
            return True
        end = port.get("endPort")
        if isinstance(number, int) and isinstance(end, int) and end - number >= ALL_PORTS - 1024:
            return True
    return False


def _rule_is_open(entry: Mapping[str, Any], direction: str) -> bool:
    peers = entry.get("from" if direction == "ingress" else "to") or []
    if direction == "egress":
        # Blocks add up across peers: two halves are the whole.
        blocks = [peer["ipBlock"] for peer in peers if peer.get("ipBlock") is not None]
        selectors = [peer for peer in peers if peer.get("ipBlock") is None]
        everyone = not peers or _opens_everything(blocks) or any(_peer_is_everyone(p, direction) for p in selectors)
        return everyone and _all_ports(entry)
    # Ingress from everyone is open whatever the ports.
    return not peers or any(_peer_is_everyone(peer, direction) for peer in peers)


def _policies(resources: list[PolicyResource]) -> list[Mapping[str, Any]]:
    return [
        r.props or {}
        for r in resources
        if is_kind(r.resource_type, "NetworkPolicy", group=NETWORK_POLICY_GROUP)
        and not r.resource_type.endswith("Patch")
    ]


def _check_workload(resource: PolicyResource, policies: list[Mapping[str, Any]], report: ReportViolation) -> None:
    props = resource.props or {}
    kind = props.get("kind") or resource.resource_type.rsplit(":", 1)[-1]
    name = (props.get("metadata") or {}).get("name") or resource.name
    where = f"{kind} '{name}'"
    namespace = (props.get("metadata") or {}).get("namespace")
    if not namespace:
        report(
            f"{where} has no namespace: it lands in the provider's default namespace, outside the stack's "
            "NetworkPolicies. Set metadata.namespace.",
            resource.urn,
        )
        return
    meta, _ = pod_template(props, resource.resource_type)
    labels = meta.get("labels") or {}
    selecting = [
        p
        for p in policies
        if (p.get("metadata") or {}).get("namespace") == namespace
        and selects((p.get("spec") or {}).get("podSelector"), labels)
    ]
    for direction, policy_type in (("ingress", "Ingress"), ("egress", "Egress")):
        fencing = [p for p in selecting if policy_type in _types(p.get("spec") or {})]
        if not fencing:
            report(
                f"{where} in namespace '{namespace}' has no NetworkPolicy that restricts its {direction}: "
                f"its pods {'accept traffic from' if direction == 'ingress' else 'reach'} anything. "
                "Add a default-deny policy and allow only what it needs.",
                resource.urn,
            )
            continue
        for policy in fencing:
            rules = (policy.get("spec") or {}).get(direction) or []
            if any(_rule_is_open(entry, direction) for entry in rules):
                policy_name = (policy.get("metadata") or {}).get("name") or "(generated)"
                report(
                    f"{where}: NetworkPolicy '{policy_name}' allows {direction} "
                    f"{'from' if direction == 'ingress' else 'to'} everyone, which undoes every other policy "
                    "(policies add up). Name the peers and ports it needs.",
                    resource.urn,
                )


def _patches(args: StackValidationArgs, report: ReportViolation) -> None:
    """A NetworkPolicyPatch changes a policy the pack may not see whole: it may not open or loosen one."""
    for resource in args.resources:
        if not (
            is_kind(resource.resource_type, "NetworkPolicy", group=NETWORK_POLICY_GROUP)
            and resource.resource_type.endswith("Patch")
        ):
            continue
        props = resource.props or {}
        spec = props.get("spec") or {}
        name = (props.get("metadata") or {}).get("name") or resource.name
        problems = []
        if "podSelector" in spec:
            problems.append("moves the policy to other pods (podSelector), leaving its pods unfenced")
        if "policyTypes" in spec and not {"Ingress", "Egress"} <= set(spec.get("policyTypes") or []):
            problems.append("drops a direction from policyTypes, which opens it")
        for direction in ("ingress", "egress"):
            if any(_rule_is_open(entry, direction) for entry in spec.get(direction) or []):
                problems.append(f"allows {direction} {'from' if direction == 'ingress' else 'to'} everyone")
        for problem in problems:
            report(
                f"NetworkPolicyPatch '{name}' {problem}. Declare the policy whole (a NetworkPolicy the stack owns) "
                "and name the peers and ports it needs.",
                resource.urn,
            )


def _workloads_are_fenced(args: StackValidationArgs, report: ReportViolation) -> None:
    resources = list(args.resources)
    policies = _policies(resources)
    for resource in resources:
        if is_workload(resource.resource_type) and not resource.resource_type.endswith("Patch"):
            _check_workload(resource, policies, report)


STACK_POLICIES: list[StackValidationPolicy] = [
    stack_rule(
        "namespace-network-policy",
        "Every workload has a namespace and is selected by NetworkPolicies that restrict its ingress "
        "and egress; no policy selecting it allows everyone in, or everything out on every port.",
        _workloads_are_fenced,
    ),
    stack_rule(
        "no-opening-network-policy-patch",
        "No NetworkPolicyPatch moves a policy off its pods, drops a direction, or allows everyone.",
        _patches,
    ),
]
