"""Network: a dedicated VPC and subnet for the cluster, and NAT for private nodes.

Owns: the VPC (no auto subnets), one subnet with secondary ranges for pods and
Services, a Cloud Router and Cloud NAT. Does not: firewall rules (GKE creates
the ones it needs; LoadBalancer source ranges become GCP firewall rules).
Invariant: nodes have no public addresses, so NAT is their only way out to
image registries and package mirrors.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

POD_RANGE = "pods"
SERVICE_RANGE = "services"


@dataclass(frozen=True, kw_only=True)
class NetworkArgs:
    project: str
    """GCP project id."""
    region: str
    """Region of the subnet, router and NAT."""
    node_cidr: str
    """Primary subnet range: node addresses."""
    pod_cidr: str
    """Secondary range ``pods``."""
    service_cidr: str
    """Secondary range ``services``."""
    apis: tuple[pulumi.Resource, ...] = ()
    """Enabled project services (Compute) the network waits for."""


class Network(pulumi.ComponentResource):
    network_id: pulumi.Output[str]
    subnetwork_id: pulumi.Output[str]
    pod_range_name: str
    service_range_name: str

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kubepar:gcp:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, depends_on=list(args.apis))

        vpc = gcp.compute.Network(
            f"{name}-vpc",
            project=args.project,
            # Subnets are declared below, one per region we use, not one per region GCP has.
            auto_create_subnetworks=False,
            routing_mode="REGIONAL",
            opts=child,
        )
        subnet = gcp.compute.Subnetwork(
            f"{name}-subnet",
            project=args.project,
            region=args.region,
            network=vpc.id,
            ip_cidr_range=args.node_cidr,
            secondary_ip_ranges=[
                {"range_name": POD_RANGE, "ip_cidr_range": args.pod_cidr},
                {"range_name": SERVICE_RANGE, "ip_cidr_range": args.service_cidr},
            ],
            # Private nodes reach Google APIs (Artifact Registry, logging) without NAT.
            private_ip_google_access=True,
            log_config={"aggregation_interval": "INTERVAL_10_MIN", "flow_sampling": 0.5},
            opts=child,
        )
        router = gcp.compute.Router(
            f"{name}-router",
            project=args.project,
            region=args.region,
            network=vpc.id,
            opts=child,
        )
        gcp.compute.RouterNat(
            f"{name}-nat",
            project=args.project,
            region=args.region,
            router=router.name,
            nat_ip_allocate_option="AUTO_ONLY",
            source_subnetwork_ip_ranges_to_nat="LIST_OF_SUBNETWORKS",
            subnetworks=[
                {"name": subnet.id, "source_ip_ranges_to_nats": ["ALL_IP_RANGES"]},
            ],
            log_config={"enable": True, "filter": "ERRORS_ONLY"},
            opts=child,
        )

        self.network_id = vpc.id
        self.subnetwork_id = subnet.id
        self.pod_range_name = POD_RANGE
        self.service_range_name = SERVICE_RANGE
        self.register_outputs({"network_id": self.network_id, "subnetwork_id": self.subnetwork_id})
