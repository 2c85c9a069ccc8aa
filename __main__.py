"""kubepar: a parallel R or Dask cluster on Kubernetes in one Pulumi stack.

Loads and validates the stack config, then builds the components in
dependency order: project APIs, network, GKE cluster and pools (platform gke
only), the namespace (once the last outputs allow the change), the home
volume, the sweep results store (bucket or claim), the engine's files, one
Workload per engine role (R: RStudio and workers; Dask: JupyterLab,
scheduler and workers), and one Sweep (an Indexed Job) per configured sweep.
"""

import pulumi
import pulumi_random as random

from components import config, cost, previous
from components.apis import ProjectApis, ProjectApisArgs
from components.cluster import Cluster, ClusterArgs
from components.engine_files import EngineFiles, EngineFilesArgs
from components.engines import DASK_DASHBOARD_PORT, engine_for
from components.home import Home, HomeArgs
from components.labels import WORKER_TAINT_KEY
from components.namespace import Namespace, NamespaceArgs
from components.network import Network, NetworkArgs
from components.node_pool import NodePool, NodePoolArgs, Taint
from components.providers import existing_cluster_provider
from components.queue import Queue, QueueArgs
from components.results import Principal, ResultsBucket, ResultsBucketArgs, ResultsClaim, ResultsClaimArgs, ResultsStore
from components.sweep import Sweep, SweepArgs
from components.workload import Workload, WorkloadArgs

settings = config.load()
workload = settings.workload

if settings.gke is not None:
    gke = settings.gke
    apis = ProjectApis("kubepar-apis", ProjectApisArgs(project=gke.project))
    network = Network(
        "kubepar",
        NetworkArgs(
            project=gke.project,
            region=gke.region,
            node_cidr=gke.node_cidr,
            pod_cidr=gke.pod_cidr,
            service_cidr=gke.service_cidr,
            apis=tuple(apis.services),
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
            deletion_protection=workload.deletion_protection,
            maintenance_days=gke.maintenance_days,
            maintenance_start=gke.maintenance_start,
            maintenance_hours=config.MAINTENANCE_HOURS,
            apis=tuple(apis.services),
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
    # Pods never reach the API server, not even at its public address.
    api_server_cidrs: pulumi.Input[list[str]] | None = cluster.endpoint.apply(lambda e: [f"{e}/32"] if e else [])
    # Workloads wait for the pools, so pods never sit Pending on a pool-less cluster.
    k8s_opts = pulumi.ResourceOptions(providers=[provider], depends_on=pools)
    pulumi.export("cluster", cluster.name)
    pulumi.export("kubeconfig", cluster.kubeconfig)
    pulumi.export("workerPoolMaxNodes", gke.worker_pool_max_nodes)
    # Points kubectl at the new cluster through the DNS endpoint (IAM, any address).
    pulumi.export(
        "kubectlSetup",
        pulumi.Output.concat(
            "gcloud container clusters get-credentials ",
            cluster.name,
            f" --location {gke.location} --project {gke.project} --dns-endpoint",
        ),
    )
    pulumi.export("estimatedCost", cost.for_stack(gke, workload))
else:
    provider = existing_cluster_provider("kubepar-k8s", settings.kube_context)
    # Unknown here: the private ranges every egress policy excludes cover an in-cluster endpoint.
    api_server_cidrs = None
    k8s_opts = pulumi.ResourceOptions(providers=[provider])

if settings.password is not None:
    password = settings.password
else:
    password = random.RandomPassword("password", length=24, special=False).result

engine = engine_for(workload)
namespace = Namespace(
    "kubepar",
    NamespaceArgs(
        # Refused here if the change would delete the home volume.
        name=previous.guard(workload, workload.namespace),
        stack=settings.stack,
        # The sweeps' account exists with or without sweeps: the results store grants it access.
        roles=(*(r.component for r in engine.roles), "sweep"),
    ),
    opts=k8s_opts,
)
session = next(role for role in engine.roles if role.password_env)
# rBackend redis: the task queue's password and append-only file.
queue = (
    Queue("kubepar-queue", QueueArgs(namespace=namespace.name, stack=settings.stack), opts=k8s_opts)
    if any(role.queue_auth for role in engine.roles)
    else None
)
if settings.gke is not None:
    bucket = ResultsBucket(
        "kubepar-results",
        ResultsBucketArgs(
            project=settings.gke.project,
            location=settings.gke.region,
            stack=settings.stack,
            protect=workload.deletion_protection,
            writers={
                "sweeps": Principal(namespace=namespace.name, service_account=namespace.service_accounts["sweep"])
            },
            readers={
                "session": Principal(
                    namespace=namespace.name, service_account=namespace.service_accounts[session.component]
                )
            },
            apis=tuple(apis.services),
        ),
    )
    results = ResultsStore(bucket=bucket.bucket)
    pulumi.export("resultsBucket", bucket.bucket)
else:
    claim = ResultsClaim(
        "kubepar-results",
        ResultsClaimArgs(namespace=namespace.name, stack=settings.stack, protect=workload.deletion_protection),
        opts=k8s_opts,
    )
    results = ResultsStore(claim=claim.claim)
    pulumi.export("resultsClaim", claim.claim)
home = Home(
    "kubepar-home",
    HomeArgs(
        namespace=namespace.name,
        stack=settings.stack,
        size=workload.home_size,
        protect=workload.deletion_protection,
    ),
    opts=k8s_opts,
)
files = EngineFiles(
    "kubepar-files",
    EngineFilesArgs(namespace=namespace.name, stack=settings.stack, files=engine.files, workers=workload.workers),
    opts=k8s_opts,
)
workloads = {
    role.component: Workload(
        role.component,
        WorkloadArgs(
            engine=engine,
            role=role,
            settings=workload,
            namespace=namespace.name,
            service_account=namespace.service_accounts[role.component],
            scripts_config_map=files.scripts_config_map,
            settings_config_map=files.settings_config_map,
            password=password if role.password_env else None,
            # The queue keeps its append-only file on a claim of its own; the session has the home.
            home_claim=(queue.claim if queue is not None and role.component == "queue" else home.claim)
            if role.home
            else None,
            queue_secret=queue.secret if queue is not None else None,
            on_pools=workload.worker_pool_selector,
            api_server_cidrs=api_server_cidrs,
            results=results,
        ),
        opts=k8s_opts,
    )
    for role in engine.roles
}
# Keyed by name: reordering kubepar:sweeps renames nothing.
sweeps = {
    sweep.name: Sweep(
        f"sweep-{sweep.name}",
        SweepArgs(
            sweep=sweep,
            settings=workload,
            namespace=namespace.name,
            service_account=namespace.service_accounts["sweep"],
            results=results,
            on_pools=workload.worker_pool_selector,
            api_server_cidrs=api_server_cidrs,
        ),
        opts=k8s_opts,
    )
    for sweep in workload.sweeps
}
pulumi.export("sweeps", {name: {"job": sweep.job, "run": sweep.run} for name, sweep in sweeps.items()})


def _access(component: str, port: int) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
    """(URL, port-forward command) of a role's user-facing Service."""
    workload_ = workloads[component]
    assert workload_.ui_service is not None and workload_.ui_address is not None
    forward = pulumi.Output.concat(
        "kubectl -n ", namespace.name, " port-forward svc/", workload_.ui_service, f" {port}:{port}"
    )
    if workload.allowed_source_ranges:
        url = workload_.ui_address.apply(
            lambda address: f"http://{address}:{port}" if address else "(LoadBalancer address pending)"
        )
    else:
        url = pulumi.Output.from_input(f"http://localhost:{port}")
    return url, forward


ui_role = next(role for role in engine.roles if role.password_env)
assert ui_role.exposed_port is not None
url, forward = _access(ui_role.component, ui_role.exposed_port)
pulumi.export("engine", engine.name)
pulumi.export("url", url)
pulumi.export("portForward", forward)
if engine.ui_user:
    pulumi.export("user", engine.ui_user)
pulumi.export("password", pulumi.Output.secret(password))
if engine.name == "dask":
    dashboard_url, dashboard_forward = _access("scheduler", DASK_DASHBOARD_PORT)
    pulumi.export("dashboardUrl", dashboard_url)
    pulumi.export("dashboardPortForward", dashboard_forward)
    pulumi.export("daskVersion", workload.dask_version)
else:
    pulumi.export("rVersion", workload.r_version)
    pulumi.export("cranRepository", workload.cran_repository)
pulumi.export("namespace", namespace.name)
pulumi.export("workers", workload.workers)
# Read back by the next `pulumi up` (components/previous.py).
pulumi.export("packages", list(workload.packages))
pulumi.export("homeClaim", home.claim)
pulumi.export("homeSize", workload.home_size)
