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

from .common import MANDATORY, is_kind, is_workload, pod_template, range_problem, selects

NETWORK_POLICY_GROUP = "networking.k8s.io"


def _types(spec: Mapping[str, Any]) -> set[str]:
    """policyTypes as Kubernetes defaults them: Ingress always, Egress when egress rules exist."""
    declared = spec.get("policyTypes")
    if declared:
        return set(declared)
    return {"Ingress", "Egress"} if spec.get("egress") else {"Ingress"}


def _peer_is_everyone(peer: Mapping[str, Any], direction: str) -> bool:
    block = peer.get("ipBlock")
    if block is not None:
        if direction == "egress":
            # The internet on the way out is normal; all of it with no exception is not restricted.
            return ipaddress.ip_network(str(block.get("cidr")), strict=False).prefixlen == 0 and not block.get("except")
        return range_problem([block.get("cidr")]) is not None
    namespaces = peer.get("namespaceSelector")
    pods = peer.get("podSelector")
    # An empty namespaceSelector is every namespace; with no podSelector (or an empty one), every pod.
    return namespaces is not None and not namespaces and not pods


def _rule_is_open(entry: Mapping[str, Any], direction: str) -> bool:
    peers = entry.get("from" if direction == "ingress" else "to") or []
    if not peers or any(_peer_is_everyone(peer, direction) for peer in peers):
        # Ingress from everyone is open whatever the ports; egress only when all ports are.
        return direction == "ingress" or not entry.get("ports")
    return False


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


def _workloads_are_fenced(args: StackValidationArgs, report: ReportViolation) -> None:
    resources = list(args.resources)
    policies = _policies(resources)
    for resource in resources:
        if is_workload(resource.resource_type) and not resource.resource_type.endswith("Patch"):
            _check_workload(resource, policies, report)


STACK_POLICIES: list[StackValidationPolicy] = [
    StackValidationPolicy(
        name="namespace-network-policy",
        description="Every workload has a namespace and is selected by NetworkPolicies that restrict its ingress "
        "and egress; no policy selecting it allows everyone in, or everything out on every port.",
        validate=_workloads_are_fenced,
        enforcement_level=MANDATORY,
    ),
]
