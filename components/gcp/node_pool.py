"""GKE node pool: one autoscaled pool with hardened nodes.

Owns: a NodePool and its node configuration. Does not: decide sizes (config
does) or which pods land on it (pods select the pool label and tolerate its
taint).
Invariant: every node runs COS with containerd, secure boot, GKE_METADATA
(Workload Identity) and the dedicated node service account.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from components.ground.disk import NODE_DISK_GB
from components.ground.machines import family_facts
from components.ground.pools import POOL_LABEL


@dataclass(frozen=True, kw_only=True)
class Taint:
    key: str
    value: str
    effect: str
    """GKE spelling: NO_SCHEDULE, PREFER_NO_SCHEDULE or NO_EXECUTE."""


@dataclass(frozen=True, kw_only=True)
class NodePoolArgs:
    project: str
    """GCP project id."""
    location: str
    """Location of the cluster."""
    cluster: pulumi.Input[str]
    """Cluster name."""
    role: str
    """Pool role, also the value of the ``kubepar.dev/pool`` node label."""
    machine_type: str
    """GCE machine type of every node."""
    service_account: pulumi.Input[str]
    """Email of the node service account."""
    min_nodes: int
    """Autoscaling floor for the whole pool."""
    max_nodes: int
    """Autoscaling ceiling for the whole pool."""
    spot: bool = False
    """Spot VMs: much cheaper, may be preempted at any time."""
    taints: tuple[Taint, ...] = field(default_factory=tuple)
    """Taints that keep other pods off this pool."""
    disk_size_gb: int = NODE_DISK_GB
    """Boot disk size (GiB): images, logs and every pod's emptyDir volumes live here (config derives it)."""
    stack: str = ""
    """Stack name, for resource labels."""


class NodePool(pulumi.ComponentResource):
    name: pulumi.Output[str]

    def __init__(self, name: str, args: NodePoolArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kubepar:gke:NodePool", name, None, opts)

        pool = gcp.container.NodePool(
            f"{name}-pool",
            project=args.project,
            location=args.location,
            cluster=args.cluster,
            initial_node_count=args.min_nodes,
            autoscaling={
                # Totals count the whole pool, whatever the number of zones.
                "total_min_node_count": args.min_nodes,
                "total_max_node_count": args.max_nodes,
                # ANY picks zones with capacity: fewer Spot preemptions.
                "location_policy": "ANY",
            },
            management={"auto_repair": True, "auto_upgrade": True},
            node_config={
                "machine_type": args.machine_type,
                # Image streaming (gcfs) needs COS with containerd; it starts
                # the multi-GB R images in seconds instead of minutes.
                "image_type": "COS_CONTAINERD",
                "gcfs_config": {"enabled": True},
                "spot": args.spot,
                "service_account": args.service_account,
                # Access is limited by the service account's IAM roles, not scopes.
                "oauth_scopes": ["https://www.googleapis.com/auth/cloud-platform"],
                "shielded_instance_config": {
                    "enable_secure_boot": True,
                    "enable_integrity_monitoring": True,
                },
                "workload_metadata_config": {"mode": "GKE_METADATA"},
                "metadata": {"disable-legacy-endpoints": "true"},
                "disk_size_gb": args.disk_size_gb,
                # The family's own boot disk: N4 and C4 boot only from Hyperdisk.
                "disk_type": family_facts(args.machine_type).boot_disk,
                "labels": {POOL_LABEL: args.role},
                "taints": [{"key": taint.key, "value": taint.value, "effect": taint.effect} for taint in args.taints],
                "resource_labels": {"app": "kubepar", "stack": args.stack, "pool": args.role},
            },
            opts=pulumi.ResourceOptions(
                parent=self,
                # The cluster autoscaler owns the node count after creation.
                ignore_changes=["initialNodeCount"],
            ),
        )
        self.name = pool.name
        self.register_outputs({"name": self.name})
