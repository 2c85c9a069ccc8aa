"""kubepar: a parallel R or Dask cluster on Kubernetes in one Pulumi stack. The table of contents:
settings, the platform (GKE or the cluster kubectl points at), the namespace and stores, each engine
role, each sweep, the outputs. Every step lives in components/ (docs/layout.md)."""

import pulumi

from components import config, engines
from components.config import previous
from components.gcp.platform import GkePlatform, gke_platform, results_bucket
from components.k8s.engine_files import EngineFiles, EngineFilesArgs
from components.k8s.home import Home, HomeArgs
from components.k8s.hub import hub_ground
from components.k8s.namespace import Namespace, NamespaceArgs
from components.k8s.providers import existing_platform
from components.k8s.queue import engine_queue
from components.k8s.results import ResultsStore, results_claim
from components.k8s.sweep import Sweep, SweepArgs
from components.k8s.workload import Workload, WorkloadArgs, stack_password

settings = config.load()
workload = settings.workload
engine = engines.engine_for(workload)
platform = gke_platform(settings) if settings.gke is not None else existing_platform(settings)
opts = platform.opts
# The stack's login (RStudio, JupyterLab): set, or generated; the hub's users have their own.
password = settings.password or (stack_password() if engine.needs_password else None)

namespace = Namespace(
    "kubepar",
    NamespaceArgs(
        # Refused here if the change would delete the home volume.
        name=previous.guard(workload, workload.namespace),
        stack=settings.stack,
        # The sweeps' account exists with or without sweeps: the results store grants it access.
        roles=(*(role.component for role in engine.roles), "sweep"),
        workload_identity=engine.workload_identity,
    ),
    opts=opts,
)
accounts = namespace.service_accounts
# Kept for every engine: switching a stack to the hub keeps its one user's files.
home = Home("kubepar-home", HomeArgs.of(workload, namespace.name), opts=opts)
claims = {"home": home.claim}
# rBackend redis: the task queue's password and append-only file.
queue = engine_queue(engine.claims, namespace.name, settings, claims, opts)
# engine hub: the users' namespace, the hub's one Role, its Secret and database (components/k8s/hub.py).
hub = hub_ground(settings, engine, namespace.name, accounts["hub"], platform, claims, opts) if workload.hub else None
# Sweeps write results, the session reads them: a bucket on GKE, a claim elsewhere.
if isinstance(platform, GkePlatform):
    readers = {"session": accounts[engine.session.component]} if engine.session is not None else {}
    readers |= {role.component: accounts[role.component] for role in engine.roles if role.storage.results}
    bucket = results_bucket(platform, settings, namespace.name, accounts["sweep"], readers)
    results, store_output = ResultsStore(bucket=bucket.bucket, ready=bucket.ready), {"resultsBucket": bucket.bucket}
else:
    results, store_output = results_claim(workload, namespace.name, opts)
scripts = engine.files | (hub.files if hub else {})
files_args = EngineFilesArgs(namespace=namespace.name, stack=settings.stack, files=scripts, workers=workload.workers)
files = EngineFiles("kubepar-files", files_args, opts=opts)

workloads = {
    role.component: Workload(
        role.component,
        WorkloadArgs(
            engine=engine,
            role=role,
            settings=workload,
            namespace=namespace.name,
            service_account=accounts[role.component],
            scripts_config_map=files.scripts_config_map,
            settings_config_map=files.settings_config_map,
            password=password if role.session else None,
            claim=claims.get(role.storage.claim.name) if role.storage.claim is not None else None,
            queue_secret=queue.secret if queue is not None else None,
            on_pools=workload.node_pools,
            api_server_cidrs=platform.api_server_cidrs,
            results=results,
            engine_secret=hub.secret if hub is not None else None,
            api_endpoints=platform.api_endpoints,
            static_address=platform.static_address,
        ),
        opts=opts,
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
            service_account=accounts["sweep"],
            results=results,
            on_pools=workload.node_pools,
            api_server_cidrs=platform.api_server_cidrs,
        ),
        opts=opts,
    )
    for sweep in workload.sweeps
}

for access in engine.access:
    url, forward = workloads[access.component].access(access, context=platform.kube_context)
    pulumi.export(f"{access.prefix}Url" if access.prefix else "url", url)
    pulumi.export(f"{access.prefix}PortForward" if access.prefix else "portForward", forward)
for key, value in (("engine", engine.name), *engine.outputs):
    pulumi.export(key, value)
stack_outputs = {
    "password": pulumi.Output.secret(password) if password is not None else None,
    "sweeps": {name: {"job": sweep.job, "run": sweep.run} for name, sweep in sweeps.items()},
    "namespace": namespace.name,
    # These four are read back by the next `pulumi up` (components/config/previous.py).
    "workers": workload.workers if workload.hub is None else None,  # the hub: per profile (hubProfiles)
    "packages": list(workload.packages),
    "homeClaim": home.claim,
    "homeSize": workload.home_size,
}
for key, value in {**platform.outputs, **store_output, **stack_outputs}.items():
    pulumi.export(key, value)
