"""NetworkPolicies judged by what they let through: a small evaluator, for rendered and live policies.

A pod is isolated in a direction once any policy of that type selects it, and
then only the union of those policies' rules lets traffic through; a
connection needs both the source's egress and the destination's ingress.
Policies are in the API's spelling (camelCase), as the render and the API
server give them.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

NAMESPACE = "kubepar"


@dataclass(frozen=True)
class Pod:
    labels: dict[str, str]
    namespace: str = NAMESPACE


@dataclass(frozen=True)
class Address:
    ip: str


Peer = Pod | Address


def _selects(selector_: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in ((selector_ or {}).get("matchLabels") or {}).items())


def _peer_matches(peer: dict[str, Any], other: Peer, own_namespace: str) -> bool:
    if "ipBlock" in peer:
        if not isinstance(other, Address):
            return False
        ip = ipaddress.ip_address(other.ip)
        block = peer["ipBlock"]
        return ip in ipaddress.ip_network(block["cidr"]) and not any(
            ip in ipaddress.ip_network(e) for e in block.get("except") or []
        )
    if not isinstance(other, Pod):
        return False
    if "namespaceSelector" in peer:
        if not _selects(peer["namespaceSelector"], {"kubernetes.io/metadata.name": other.namespace}):
            return False
    elif other.namespace != own_namespace:
        return False
    return _selects(peer.get("podSelector"), other.labels)


def _port_matches(rule: dict[str, Any], port: int, protocol: str) -> bool:
    ports = rule.get("ports")
    return not ports or any(p.get("port") == port and p.get("protocol", "TCP") == protocol for p in ports)


def _allows(policies: list[dict[str, Any]], subject: Pod, other: Peer, port: int, protocol: str, way: str) -> bool:
    kind, peers_key = ("Ingress", "from") if way == "ingress" else ("Egress", "to")
    selecting = [
        p
        for p in policies
        if p["metadata"]["namespace"] == subject.namespace
        and _selects(p["spec"]["podSelector"], subject.labels)
        and kind in p["spec"]["policyTypes"]
    ]
    if not selecting:
        return True  # not isolated in this direction
    return any(
        _port_matches(rule, port, protocol)
        and (not rule.get(peers_key) or any(_peer_matches(peer, other, subject.namespace) for peer in rule[peers_key]))
        for p in selecting
        for rule in p["spec"].get(way) or []
    )


def connects(policies: list[dict[str, Any]], source: Peer, destination: Peer, port: int, protocol: str = "TCP") -> bool:
    """Whether ``source`` may open a connection to ``destination`` on ``port`` under ``policies``."""
    out = not isinstance(source, Pod) or _allows(policies, source, destination, port, protocol, "egress")
    into = not isinstance(destination, Pod) or _allows(policies, destination, source, port, protocol, "ingress")
    return out and into
