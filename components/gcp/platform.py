"""The GKE platform: project APIs, network, cluster and node pools, as one plain function.

Owns: building the GCP side in dependency order and handing the Kubernetes
side what it needs (the provider, options that wait for the pools, the API
server's address to keep pods from), the GCP stack outputs, and the results
bucket with its keyless grants. Does not: create Kubernetes objects, or
re-parent anything (a plain function, not a component, so every URN stays
as it was).
Invariant: no Kubernetes object is created before the pools exist, so no pod
sits Pending on a pool-less cluster.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi

from components.engines import https_front
from components.gcp.apis import ProjectApis, ProjectApisArgs
from components.gcp.cluster import Cluster, ClusterArgs
from components.gcp.https_door import HttpsDoor, HttpsDoorArgs
from components.gcp.network import Network, NetworkArgs
from components.gcp.node_pool import NodePool, NodePoolArgs, Taint
from components.gcp.results import Principal, ResultsBucket, ResultsBucketArgs
from components.ground import cost
from components.ground.cidrs import not_excluded
from components.ground.pools import (
    SYSTEM_POOL,
    SYSTEM_POOL_MAX_NODES,
    WORKER_POOL,
    WORKER_TAINT_KEY,
    WORKER_TAINT_VALUE,
)
from components.ground.settings import MAINTENANCE_HOURS, GkeSettings, Settings


@dataclass(frozen=True, kw_only=True)
class GkePlatform:
    gke: GkeSettings
    provider: pulumi.ProviderResource
    opts: pulumi.ResourceOptions
    """Options of every Kubernetes object: the cluster's provider, and waiting for the pools."""
    api_server_cidrs: pulumi.Input[list[str]] | None
    """The API server's public address as a /32: no pod reaches it."""
    apis: tuple[pulumi.Resource, ...]
    api_endpoints: pulumi.Input[list[str]] | None = None
    """The API server's addresses (public and private) as /32s: the hub, alone, reaches them."""
    static_address: pulumi.Input[str] | None = None
    """With a domain: the reserved address of the HTTPS door, which the domain's A record names."""
    outputs: dict[str, Any] = field(default_factory=dict)
    kube_context: pulumi.Input[str] | None = None
    """The kubectl context ``kubectlSetup`` writes for this cluster (gcloud's naming)."""


def _pool(name: str, gke: GkeSettings, cluster: Cluster, settings: Settings, **sizing: Any) -> NodePool:
    return NodePool(
        name,
        NodePoolArgs(
            project=gke.project,
            location=gke.location,
            cluster=cluster.name,
            role=name,
            service_account=cluster.node_service_account_email,
            stack=settings.stack,
            **sizing,
        ),
    )


def gke_platform(settings: Settings) -> GkePlatform:
    gke = settings.gke
    assert gke is not None, "platform gke has GKE settings"
    apis = ProjectApis("kubepar-apis", ProjectApisArgs(project=gke.project))
    services = tuple(apis.services)
    network = Network(
        "kubepar",
        NetworkArgs(
            project=gke.project,
            region=gke.region,
            node_cidr=gke.node_cidr,
            pod_cidr=gke.pod_cidr,
            service_cidr=gke.service_cidr,
            apis=services,
        ),
    )
    cluster = Cluster(
        "kubepar",
        ClusterArgs(
            project=gke.project,
            location=gke.location,
            network_id=network.network_id,
            subnetwork_id=network.subnetwork_id,
            pod_range_name=network.pod_range_name,
            service_range_name=network.service_range_name,
            release_channel=gke.release_channel,
            master_authorized_networks=gke.master_authorized_networks,
            deletion_protection=settings.workload.deletion_protection,
            maintenance_days=gke.maintenance_days,
            maintenance_start=gke.maintenance_start,
            maintenance_hours=MAINTENANCE_HOURS,
            apis=services,
            stack=settings.stack,
        ),
    )
    pools = [
        # On-demand: RStudio holds the user's session and must not be preempted.
        _pool(
            SYSTEM_POOL,
            gke,
            cluster,
            settings,
            machine_type=gke.system_machine_type,
            disk_size_gb=gke.disks_gb[0],
            min_nodes=1,
            max_nodes=SYSTEM_POOL_MAX_NODES,
        ),
        # Scales to zero: no workers, no worker nodes, no cost.
        _pool(
            WORKER_POOL,
            gke,
            cluster,
            settings,
            machine_type=gke.worker_machine_type,
            disk_size_gb=gke.disks_gb[1],
            min_nodes=0,
            max_nodes=gke.worker_pool_max_nodes,
            spot=gke.spot,
            taints=(Taint(key=WORKER_TAINT_KEY, value=WORKER_TAINT_VALUE, effect="NO_SCHEDULE"),),
        ),
    ]
    outputs = {
        "cluster": cluster.name,
        "kubeconfig": cluster.kubeconfig,
        "workerPoolMaxNodes": gke.worker_pool_max_nodes,
        # Points kubectl at the new cluster through the DNS endpoint (IAM, any address).
        "kubectlSetup": pulumi.Output.concat(
            "gcloud container clusters get-credentials ",
            cluster.name,
            f" --location {gke.location} --project {gke.project} --dns-endpoint",
        ),
        "estimatedCost": cost.for_stack(gke, settings.workload),
        **({"hubCost": cost.hub_costs(gke, settings.workload)} if settings.workload.hub is not None else {}),
    }
    door = None
    wanted = settings.workload.door
    if wanted is not None:
        door_args = HttpsDoorArgs(
            project=gke.project,
            region=gke.region,
            stack=settings.stack,
            domain=wanted.domain,
            zone=wanted.dns_zone,
            namespace=settings.workload.namespace,
            account=https_front.ACCOUNT,
            apis=services,
        )
        door = HttpsDoor("kubepar-https-door", door_args)
        outputs["doorAddress"] = door.address
    return GkePlatform(
        gke=gke,
        static_address=door.address if door is not None else None,
        provider=cluster.provider,
        # Workloads wait for the pools, so pods never sit Pending on a pool-less cluster.
        opts=pulumi.ResourceOptions(providers=[cluster.provider], depends_on=pools),
        # Pods never reach the API server, not even at its public address, nor
        # any of the stack's own ranges the private ranges do not cover.
        api_server_cidrs=cluster.endpoint.apply(
            lambda e: [*([f"{e}/32"] if e else []), *not_excluded((gke.node_cidr, gke.pod_cidr, gke.service_cidr))]
        ),
        apis=services,
        api_endpoints=pulumi.Output.all(cluster.endpoint, cluster.private_endpoint).apply(
            lambda addresses: [f"{address}/32" for address in addresses if address]
        ),
        outputs=outputs,
        kube_context=pulumi.Output.concat(f"gke_{gke.project}_{gke.location}_", cluster.name),
    )


def results_bucket(
    platform: GkePlatform,
    settings: Settings,
    namespace: pulumi.Input[str],
    writer: pulumi.Input[str],
    readers: dict[str, pulumi.Input[str]],
) -> ResultsBucket:
    """The sweep results bucket in the cluster's region: objects written by the ``writer`` Kubernetes
    service account (the sweeps'), read by the ``readers`` (the session's, Spark's: by label), and
    nobody else; its ``ready`` exists once those grants have propagated."""
    bucket = ResultsBucket(
        "kubepar-results",
        ResultsBucketArgs(
            project=platform.gke.project,
            location=platform.gke.region,
            stack=settings.stack,
            protect=settings.workload.deletion_protection,
            writers={"sweeps": Principal(namespace=namespace, service_account=writer)},
            # engine hub: the users' sessions do not mount the bucket (docs/hub.md).
            readers={
                label: Principal(namespace=namespace, service_account=account) for label, account in readers.items()
            },
            apis=platform.apis,
        ),
    )
    return bucket
