"""NetworkPolicies of one engine role: exactly the doors its engine's edges declare, in and out.

Owns: per role, one ingress policy per door (clients of its endpoint port,
in-cluster clients of other ports, users through the LoadBalancer, peers on
any port) and one egress policy (in-cluster destinations by component and
port, and the internet on the ports the role needs), both derived from the
engine's edges, so a connection is allowed at both ends or at neither. The namespace's default-deny and
DNS allowance live in namespace.py.

Invariant: no pod reaches link-local addresses (169.254.0.0/16), the
cluster's private ranges or the API server's public address, with one
exception: a pod that mounts the results bucket reaches the GKE metadata
server on exactly the address and port Workload Identity serves its token
on, because the injected Cloud Storage FUSE sidecar authenticates there.
Nothing in here opens any port to every pod of the cluster.
"""

from __future__ import annotations

from typing import Any, cast

import pulumi
import pulumi_kubernetes as k8s

from components.engines.model import Edge, PodRole
from components.ground.cidrs import PRIVATE_RANGES
from components.k8s.labels import object_meta, selector

# Never reached through the "internet" allowance: PRIVATE_RANGES (cluster
# nodes, pods, Services, the control plane's private endpoint, carrier-grade
# NAT space, and link-local space, where the node metadata server answers),
# and whatever else the platform excludes (the API server's public address).
HTTPS_PORT = 443
HTTP_PORT = 80
# The GKE metadata server as a pod sees it under Dataplane V2 (the stack's
# datapath): the FUSE sidecar of an ordinary pod gets its token only here
# (gcs-fuse-csi-driver pkg/sidecar_mounter). The legacy datapath's
# 169.254.169.252:988 is never opened: kubepar clusters do not run it.
METADATA_SERVER = ("169.254.169.254/32", 80)


def internet_rule(role: PodRole, api_server_cidrs: pulumi.Input[list[str]] | None) -> dict[str, Any] | None:
    """The egress rule to public addresses, or None when the role needs none."""
    return internet_egress(role.exposure.internet, api_server_cidrs)


def internet_egress(internet: str, api_server_cidrs: pulumi.Input[list[str]] | None) -> dict[str, Any] | None:
    """The egress rule to public addresses for an ``Exposure.internet`` level, or None for ``none``."""
    if internet == "none":
        return None
    excluded = pulumi.Output.from_input(api_server_cidrs or []).apply(lambda cidrs: [*PRIVATE_RANGES, *(cidrs or [])])
    rule: dict[str, Any] = {"to": [{"ip_block": {"cidr": "0.0.0.0/0", "except": excluded}}]}
    if internet == "https":
        # Package repositories and object stores: HTTPS only.
        rule["ports"] = [{"protocol": "TCP", "port": HTTPS_PORT}]
    elif internet == "web":
        # The Ubuntu archive is served over HTTP (apt verifies its signatures).
        rule["ports"] = [{"protocol": "TCP", "port": HTTP_PORT}, {"protocol": "TCP", "port": HTTPS_PORT}]
    return rule


def _to_components(stack: str, targets: tuple[tuple[str, int | None], ...]) -> list[dict[str, Any]]:
    rules = []
    for component, port in targets:
        rule: dict[str, Any] = {"to": [{"pod_selector": {"match_labels": selector(stack, component)}}]}
        if port is not None:
            rule["ports"] = [{"protocol": "TCP", "port": port}]
        rules.append(rule)
    return rules


def _from_components(stack: str, components: tuple[str, ...], port: int | None) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "from_": [{"pod_selector": {"match_labels": selector(stack, component)}} for component in components]
    }
    if port is not None:
        rule["ports"] = [{"protocol": "TCP", "port": port}]
    return rule


def ingress_doors(
    role: PodRole, edges: tuple[Edge, ...], stack: str, allowed_source_ranges: tuple[str, ...]
) -> dict[str, list[dict[str, Any]]]:
    """Ingress rules per door name; an empty dict means the role admits nothing.

    Doors from the edges into the role: ``from-clients`` (its endpoint port),
    ``from-cluster`` (one rule per other port), ``from-peers`` (any port).
    """
    incoming = [edge for edge in edges if edge.server == role.component]
    endpoint = role.exposure.endpoint_port
    clients = tuple(edge.client for edge in incoming if edge.port is not None and edge.port == endpoint)
    others = [edge for edge in incoming if edge.port is not None and edge.port != endpoint]
    peers = tuple(edge.client for edge in incoming if edge.port is None)
    doors: dict[str, list[dict[str, Any]]] = {}
    if clients:
        doors["from-clients"] = [_from_components(stack, clients, endpoint)]
    if others:
        doors["from-cluster"] = [_from_components(stack, (edge.client,), edge.port) for edge in others]
    user_port = role.exposure.user_port
    if user_port is not None and allowed_source_ranges:
        # Without allowed ranges there is no LoadBalancer: kubectl port-forward
        # enters the pod through the kubelet and needs no policy.
        doors["from-users"] = [
            {
                "from_": [{"ip_block": {"cidr": cidr}} for cidr in allowed_source_ranges],
                "ports": [{"protocol": "TCP", "port": user_port}],
            }
        ]
    if peers:
        doors["from-peers"] = [_from_components(stack, peers, None)]
    return doors


def metadata_server_rule() -> dict[str, Any]:
    cidr, port = METADATA_SERVER
    return {"to": [{"ip_block": {"cidr": cidr}}], "ports": [{"protocol": "TCP", "port": port}]}


def egress_rules(
    role: PodRole,
    edges: tuple[Edge, ...],
    stack: str,
    api_server_cidrs: pulumi.Input[list[str]] | None,
    metadata_server: bool = False,
    api_endpoints: pulumi.Input[list[str]] | None = None,
) -> list[dict[str, Any]]:
    """``metadata_server``: the pod mounts the results bucket on GKE (its FUSE sidecar needs a token).
    ``api_endpoints``: the API server's addresses, for a role with ``exposure.api_server``."""
    rules = _to_components(stack, tuple((edge.server, edge.port) for edge in edges if edge.client == role.component))
    internet = internet_rule(role, api_server_cidrs)
    if internet is not None:
        rules.append(internet)
    if metadata_server:
        rules.append(metadata_server_rule())
    if role.exposure.api_server:
        rules.append(api_server_rule(api_endpoints))
    return rules


# The API server's ports: 443 on GKE's endpoints, 6443 on most other clusters'.
API_SERVER_PORTS = (443, 6443)


def api_server_rule(api_endpoints: pulumi.Input[list[str]] | None) -> dict[str, Any]:
    """Egress to the Kubernetes API server: its addresses where the platform knows them (GKE's
    endpoints), else any address on the API server's ports (an existing cluster's)."""
    ports = [{"protocol": "TCP", "port": port} for port in API_SERVER_PORTS]
    if api_endpoints is None:
        return {"ports": ports}
    blocks = pulumi.Output.from_input(api_endpoints).apply(lambda cidrs: [{"ip_block": {"cidr": c}} for c in cidrs])
    return {"to": blocks, "ports": ports}


def create(
    name: str,
    role: PodRole,
    *,
    edges: tuple[Edge, ...],
    stack: str,
    namespace: pulumi.Input[str],
    meta_labels: dict[str, str],
    allowed_source_ranges: tuple[str, ...],
    api_server_cidrs: pulumi.Input[list[str]] | None,
    opts: pulumi.ResourceOptions,
    metadata_server: bool = False,
    api_endpoints: pulumi.Input[list[str]] | None = None,
) -> None:
    """Declare the role's policies: ``<name>-<door>`` for ingress, ``<name>-egress``."""
    own = {"match_labels": selector(stack, role.component)}

    def policy(suffix: str, spec: dict[str, Any]) -> None:
        k8s.networking.v1.NetworkPolicy(
            f"{name}-{suffix}",
            metadata=object_meta(namespace, meta_labels),
            spec=cast(k8s.networking.v1.NetworkPolicySpecArgsDict, {"pod_selector": own, **spec}),
            opts=opts,
        )

    doors = ingress_doors(role, edges, stack, allowed_source_ranges)
    for door, rules in doors.items():
        policy(door, {"policy_types": ["Ingress"], "ingress": rules})
    if not doors:
        # Selects the role and allows nothing in: these pods only dial out.
        policy("no-ingress", {"policy_types": ["Ingress"]})
    egress = egress_rules(role, edges, stack, api_server_cidrs, metadata_server, api_endpoints)
    policy("egress", {"policy_types": ["Egress"], "egress": egress})
