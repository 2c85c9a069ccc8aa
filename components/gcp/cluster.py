"""GKE cluster: a hardened, private-node cluster with no default node pool.

Owns: the node service account and its single role, the cluster, and the
Kubernetes provider built from the cluster's outputs. Does not: node pools
(see node_pool.py) or anything inside Kubernetes.
Invariant: nothing runs as the project's default compute service account,
and no credential is stored in state (the kubeconfig uses an exec plugin).
Access to the API goes through the DNS-based endpoint, authorised by IAM
rather than by source address, so `pulumi up` works the same from a laptop
and from a CI runner with no fixed address; the IP endpoint admits only
``masterAuthorizedNetworks`` (nobody from outside when that is empty).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from components.gcp.kubeconfig import gke_kubeconfig
from components.gcp.propagation import IamPropagation

# The only role GKE nodes need: write logs and metrics, read their own config.
NODE_ROLE = "roles/container.defaultNodeServiceAccount"
# A Saturday: recurring windows need a first occurrence; the RRULE picks the days.
MAINTENANCE_REFERENCE_DAY = "2025-01-04"
MAINTENANCE_REFERENCE_NEXT_DAY = "2025-01-05"
# Inputs of the Cluster that matter only when it is created (engine names).
CLUSTER_CREATION_ONLY = ["nodeConfig", "initialNodeCount"]


def _dns_endpoint(config: object) -> str:
    dns = getattr(config, "dns_endpoint_config", None)
    return str(getattr(dns, "endpoint", None) or "")


@dataclass(frozen=True, kw_only=True)
class ClusterArgs:
    project: str
    """GCP project id."""
    location: str
    """Zone (zonal cluster) or region (regional cluster)."""
    network_id: pulumi.Input[str]
    """VPC of the cluster."""
    subnetwork_id: pulumi.Input[str]
    """Subnet with the pod and Service secondary ranges."""
    pod_range_name: str
    """Secondary range name for pods."""
    service_range_name: str
    """Secondary range name for Services."""
    release_channel: str
    """RAPID, REGULAR or STABLE: GKE picks and upgrades the version."""
    master_authorized_networks: tuple[str, ...]
    """CIDRs allowed to reach the IP endpoint; empty: none from outside Google's network."""
    deletion_protection: bool
    """GKE refuses to delete the cluster while true, and Pulumi protects it."""
    maintenance_days: tuple[str, ...]
    """Weekdays (MO..SU) of the maintenance windows."""
    maintenance_start: str
    """Start of each window, HH:MM UTC."""
    maintenance_hours: int
    """Length of each window."""
    apis: tuple[pulumi.Resource, ...] = ()
    """Enabled project services every GCP resource here waits for."""
    stack: str
    """Stack name, for resource labels."""


class Cluster(pulumi.ComponentResource):
    name: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    """The IP endpoint (pods' egress excludes it)."""
    private_endpoint: pulumi.Output[str]
    """The control plane's private address, which the nodes use."""
    dns_endpoint: pulumi.Output[str]
    """The DNS-based endpoint every kubeconfig of the stack uses."""
    kubeconfig: pulumi.Output[str]
    node_service_account_email: pulumi.Output[str]
    provider: k8s.Provider

    def __init__(self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kubepar:gke:Cluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, depends_on=list(args.apis))

        node_account = gcp.serviceaccount.Account(
            f"{name}-nodes",
            project=args.project,
            # account_id is 6-30 characters and project-unique; the stack keeps stacks apart.
            account_id=f"kubepar-{args.stack}-nodes"[:30].rstrip("-"),
            display_name=f"kubepar {args.stack} GKE nodes",
            opts=child,
        )
        node_role = gcp.projects.IAMMember(
            f"{name}-nodes-role",
            project=args.project,
            role=NODE_ROLE,
            member=node_account.email.apply(lambda email: f"serviceAccount:{email}"),
            opts=child,
        )
        # GKE refuses a service account for a while after it is created and
        # granted: wait once here instead of failing the first `pulumi up`.
        node_role_ready = IamPropagation(f"{name}-nodes-ready", grant=node_role.id, opts=child)

        start = f"{MAINTENANCE_REFERENCE_DAY}T{args.maintenance_start}:00Z"
        end_hour = int(args.maintenance_start[:2]) + args.maintenance_hours
        end = (
            f"{MAINTENANCE_REFERENCE_DAY}T{end_hour:02d}:{args.maintenance_start[3:]}:00Z"
            if end_hour < 24
            else f"{MAINTENANCE_REFERENCE_NEXT_DAY}T{end_hour - 24:02d}:{args.maintenance_start[3:]}:00Z"
        )

        cluster = gcp.container.Cluster(
            f"{name}-gke",
            project=args.project,
            location=args.location,
            network=args.network_id,
            subnetwork=args.subnetwork_id,
            # The default pool cannot be changed without replacing the cluster:
            # remove it and manage pools separately.
            remove_default_node_pool=True,
            initial_node_count=1,
            # The short-lived default pool still runs as our account, not the default one.
            node_config={
                "service_account": node_account.email,
                "oauth_scopes": ["https://www.googleapis.com/auth/cloud-platform"],
                "shielded_instance_config": {
                    "enable_secure_boot": True,
                    "enable_integrity_monitoring": True,
                },
                "workload_metadata_config": {"mode": "GKE_METADATA"},
            },
            networking_mode="VPC_NATIVE",
            ip_allocation_policy={
                "cluster_secondary_range_name": args.pod_range_name,
                "services_secondary_range_name": args.service_range_name,
            },
            release_channel={"channel": args.release_channel},
            workload_identity_config={"workload_pool": f"{args.project}.svc.id.goog"},
            # Dataplane V2 enforces NetworkPolicy itself; a network_policy block
            # on top of it is rejected, so there is none.
            datapath_provider="ADVANCED_DATAPATH",
            enable_shielded_nodes=True,
            # Sweep results: pods mount the stack's bucket through the Cloud
            # Storage FUSE CSI driver (an addon; enabling it updates in place).
            addons_config={"gcs_fuse_csi_driver_config": {"enabled": True}},
            enable_legacy_abac=False,
            # Nodes get private addresses only; the API endpoint stays public
            # but answers only the authorized networks below.
            private_cluster_config={
                "enable_private_nodes": True,
                "enable_private_endpoint": False,
            },
            master_authorized_networks_config={
                # Not every address of Google Cloud's own (other customers' VMs).
                "gcp_public_cidrs_access_enabled": False,
                "cidr_blocks": [
                    {"cidr_block": cidr, "display_name": f"kubepar-{index}"}
                    for index, cidr in enumerate(args.master_authorized_networks)
                ],
            },
            # No client certificate: access goes through IAM only.
            master_auth={"client_certificate_config": {"issue_client_certificate": False}},
            # The way in for people and CI alike: the DNS endpoint checks the
            # caller's IAM permission (container.clusters.connect) on every
            # request, whatever its address, so runners without fixed
            # addresses need no hole in the authorized networks.
            control_plane_endpoints_config={
                "dns_endpoint_config": {"allow_external_traffic": True},
                "ip_endpoints_config": {"enabled": True},
            },
            # Upgrades (nodes restart, pods move) only inside these windows,
            # never in the middle of a working day.
            maintenance_policy={
                "recurring_window": {
                    "start_time": start,
                    "end_time": end,
                    "recurrence": f"FREQ=WEEKLY;BYDAY={','.join(args.maintenance_days)}",
                }
            },
            deletion_protection=args.deletion_protection,
            resource_labels={"app": "kubepar", "stack": args.stack},
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[node_role_ready, *args.apis],
                # With deletion protection, Pulumi refuses at preview to delete
                # or replace it: `pulumi destroy` stops before deleting anything.
                protect=args.deletion_protection,
                # node_config (and initial_node_count) describe only the
                # short-lived default pool and force a new cluster on change.
                # Once that pool is removed the API reports the first remaining
                # pool's config (Spot, taints) here instead, so a refresh would
                # plan a replacement of the whole cluster. The pools own node
                # config (node_pool.py); these inputs count at creation only.
                ignore_changes=CLUSTER_CREATION_ONLY,
            ),
        )

        dns_endpoint = cluster.control_plane_endpoints_config.apply(_dns_endpoint)
        kubeconfig = pulumi.Output.all(cluster.name, dns_endpoint).apply(
            lambda parts: gke_kubeconfig(str(parts[0]), str(parts[1]))
        )

        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=kubeconfig,
            # A stable identity: a changed kubeconfig (new CA, endpoint) must
            # not look like a new cluster and replace every object.
            cluster_identifier=cluster.id,
            upsert_existing_objects=False,
            # ConfigMaps not marked immutable update in place (the worker count); see engine_files.py.
            enable_config_map_mutable=True,
            opts=child,
        )

        self.name = cluster.name
        self.endpoint = cluster.endpoint
        # Private nodes reach the control plane at its private endpoint: the hub's API calls go there.
        self.private_endpoint = cluster.private_cluster_config.apply(
            lambda config: str(getattr(config, "private_endpoint", None) or "") if config else ""
        )
        self.dns_endpoint = dns_endpoint
        self.kubeconfig = pulumi.Output.secret(kubeconfig)
        self.node_service_account_email = node_account.email
        self.register_outputs(
            {
                "name": self.name,
                "endpoint": self.endpoint,
                "dns_endpoint": self.dns_endpoint,
                "kubeconfig": self.kubeconfig,
                "node_service_account_email": self.node_service_account_email,
            }
        )
