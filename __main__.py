"""kubepar: a parallel R cluster on Kubernetes in one Pulumi stack.

Loads and validates the stack config, then builds the components in
dependency order: network, GKE cluster and pools (platform gke only), the
namespace, R files, the RStudio scheduler and the dialing workers.
"""

import pulumi
import pulumi_random as random

from components import config
from components.cluster import Cluster, ClusterArgs
from components.labels import WORKER_TAINT_KEY
from components.namespace import Namespace, NamespaceArgs
from components.network import Network, NetworkArgs
from components.node_pool import NodePool, NodePoolArgs, Taint
from components.providers import existing_cluster_provider
from components.r_files import RFiles, RFilesArgs
from components.scheduler import RSTUDIO_PORT, Scheduler, SchedulerArgs
from components.workers import Workers, WorkersArgs

settings = config.load()
workload = settings.workload

if settings.gke is not None:
    gke = settings.gke
    network = Network(
        "kubepar",
        NetworkArgs(
            project=gke.project,
            region=gke.region,
            node_cidr=gke.node_cidr,
            pod_cidr=gke.pod_cidr,
            service_cidr=gke.service_cidr,
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
            deletion_protection=gke.deletion_protection,
            stack=settings.stack,
        ),
    )
    pools = [
        NodePool(
            "system",
            NodePoolArgs(
                project=gke.project,
                location=gke.location,
                cluster=cluster.name,
                role="system",
                machine_type=gke.system_machine_type,
                service_account=cluster.node_service_account_email,
                # On-demand: RStudio holds the user's session and must not be preempted.
                min_nodes=1,
                max_nodes=2,
                stack=settings.stack,
            ),
        ),
        NodePool(
            "workers",
            NodePoolArgs(
                project=gke.project,
                location=gke.location,
                cluster=cluster.name,
                role="workers",
                machine_type=gke.worker_machine_type,
                service_account=cluster.node_service_account_email,
                # Scales to zero: no workers, no worker nodes, no cost.
                min_nodes=0,
                max_nodes=gke.worker_pool_max_nodes,
                spot=gke.spot,
                taints=(Taint(key=WORKER_TAINT_KEY, value="true", effect="NO_SCHEDULE"),),
                stack=settings.stack,
            ),
        ),
    ]
    provider = cluster.provider
    # Workloads wait for the pools, so pods never sit Pending on a pool-less cluster.
    k8s_opts = pulumi.ResourceOptions(providers=[provider], depends_on=pools)
    pulumi.export("cluster", cluster.name)
    pulumi.export("kubeconfig", cluster.kubeconfig)
    pulumi.export("workerPoolMaxNodes", gke.worker_pool_max_nodes)
else:
    provider = existing_cluster_provider("kubepar-k8s", settings.kube_context)
    k8s_opts = pulumi.ResourceOptions(providers=[provider])

if settings.password is not None:
    password = settings.password
else:
    password = random.RandomPassword("rstudio-password", length=24, special=False).result

namespace = Namespace("kubepar", NamespaceArgs(name=workload.namespace, stack=settings.stack), opts=k8s_opts)
files = RFiles(
    "kubepar-r",
    RFilesArgs(namespace=namespace.name, stack=settings.stack, workers=workload.workers),
    opts=k8s_opts,
)
scheduler = Scheduler(
    "scheduler",
    SchedulerArgs(
        settings=workload,
        namespace=namespace.name,
        service_account=namespace.service_accounts["scheduler"],
        scripts_config_map=files.scripts_config_map,
        settings_config_map=files.settings_config_map,
        password=password,
    ),
    opts=k8s_opts,
)
workers = Workers(
    "workers",
    WorkersArgs(
        settings=workload,
        namespace=namespace.name,
        service_account=namespace.service_accounts["worker"],
        scripts_config_map=files.scripts_config_map,
        scheduler_host=scheduler.worker_service_host,
    ),
    opts=k8s_opts,
)

port_forward = pulumi.Output.concat(
    "kubectl -n ",
    namespace.name,
    " port-forward svc/",
    scheduler.rstudio_service,
    f" {RSTUDIO_PORT}:{RSTUDIO_PORT}  # then open http://localhost:{RSTUDIO_PORT}",
)
if workload.allowed_source_ranges:
    pulumi.export(
        "rstudioUrl",
        scheduler.rstudio_address.apply(
            lambda address: f"http://{address}:{RSTUDIO_PORT}" if address else "(LoadBalancer address pending)"
        ),
    )
else:
    pulumi.export("rstudioUrl", f"http://localhost:{RSTUDIO_PORT}")
pulumi.export("portForward", port_forward)
pulumi.export("rstudioUser", "rstudio")
pulumi.export("rstudioPassword", pulumi.Output.secret(password))
pulumi.export("namespace", namespace.name)
pulumi.export("workers", workload.workers)
pulumi.export("rVersion", workload.r_version)
