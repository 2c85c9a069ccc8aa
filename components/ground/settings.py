"""Settings: what the program needs from stack config, as frozen, validated models.

Owns: the models only (config/ fills them, after checking every key). Does
not: read config or know defaults (``Pulumi.yaml`` holds those).
Invariant: a model exists only once every value in it is valid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAINTENANCE_HOURS = 6
"""Length of each day's GKE maintenance window."""


@dataclass(frozen=True, kw_only=True)
class GkeSettings:
    """Settings of the GCP side; present only when ``platform`` is ``gke``."""

    project: str
    """GCP project id (``gcp:project``)."""
    location: str
    """Zone (zonal cluster, the cheap default) or region (regional cluster)."""
    region: str
    """Region of ``location``: where the subnet, router and NAT live."""
    release_channel: str
    """GKE release channel: RAPID, REGULAR or STABLE."""
    master_authorized_networks: tuple[str, ...]
    """CIDRs allowed to reach the Kubernetes API endpoint."""
    maintenance_days: tuple[str, ...]
    """Weekdays (MO..SU) on which GKE may upgrade nodes and the control plane."""
    maintenance_start: str
    """Start of each day's maintenance window, HH:MM in UTC; it lasts MAINTENANCE_HOURS."""
    node_cidr: str
    """Primary range of the subnet: node addresses."""
    pod_cidr: str
    """Secondary range for pod addresses."""
    service_cidr: str
    """Secondary range for Service cluster IPs."""
    system_machine_type: str
    """Machine type of the on-demand pool that runs the scheduler."""
    worker_machine_type: str
    """Machine type of the worker pool."""
    spot: bool
    """Run worker nodes on Spot VMs (cheaper, may be preempted)."""
    worker_pool_max_nodes: int
    """Autoscaling ceiling of the worker pool (set, or derived from workers)."""
    regional: bool = False
    """``location`` is a region: the control plane and the pools span three zones (pools keep their totals)."""
    system_nodes: int = 1
    """System nodes the session and the other system-pool pods need at once (placement arithmetic)."""
    doors: int = 1
    """The engine's user-facing ports: each a LoadBalancer when allowedSourceRanges is set."""
    spark_system_nodes: int = 0
    """Of ``system_nodes``, those the Spark master and Connect server add (Spark's share of the estimate)."""
    disks_gb: tuple[int, int] = (50, 50)
    """Boot disks (GiB) of each system and each worker node: they hold the ephemeral storage of the pods
    that run there at once."""
    disks_without_spark_gb: tuple[int, int] = (50, 50)
    """What ``disks_gb`` would be without the ``spark`` key (Spark's share of the estimate)."""


@dataclass(frozen=True, kw_only=True)
class SweepSettings:
    """One parameter sweep: a script run once per task index by an Indexed Job."""

    name: str
    """DNS label: the Job's name prefix and the results folder."""
    script: str
    """Path of the script, relative to the project folder (where Pulumi.yaml is)."""
    script_text: str
    """The script's contents (mounted into the sweep's pods from a ConfigMap)."""
    language: str
    """``r`` (.R, run with Rscript on rocker/r-ver) or ``python`` (.py, on the Dask image)."""
    tasks: int
    """Task indices 0..tasks-1 (the Job's completions)."""
    parallelism: int
    """Pods at once."""
    cpu: str
    """CPU per task pod (request = limit); default workerCpu."""
    memory: str
    """Memory per task pod (request = limit); default workerMemory."""
    disk: str = "2Gi"
    """Size of each task's /tmp, what it may write besides its results; its pod's node disk counts it."""
    retries: int
    """Retries per task after a failure of the script (preemptions do not count)."""
    seed: int
    """Seed of the per-task random streams (task i gets stream i, reproducibly)."""
    max_failed: int
    """Failed tasks after which the Job stops starting new ones (a broken script costs little)."""
    deadline_hours: int = 24
    """Hours the Job may run (activeDeadlineSeconds): then its pods stop and their nodes go."""


@dataclass(frozen=True, kw_only=True)
class Door:
    """The stack's public HTTPS door: a name in a Cloud DNS zone, a certificate, a LoadBalancer."""

    domain: str
    dns_zone: str
    """The Cloud DNS managed zone that serves ``domain``."""
    project: str
    """The GCP project of that zone (gcp:project)."""


@dataclass(frozen=True, kw_only=True)
class HubProfile:
    """One kind of session a hub user may start."""

    name: str
    """Shown in the hub's list; also its slug (a DNS label)."""
    session: str
    """``rstudio`` (RStudio and R workers that dial in) or ``jupyterlab`` (JupyterLab, a Dask
    scheduler and Dask workers)."""
    cpu: str
    memory: str
    workers: int
    worker_cpu: str
    worker_memory: str
    groups: tuple[str, ...] = ()
    """Hub groups offered this profile; empty: everyone."""


@dataclass(frozen=True, kw_only=True)
class HubSettings:
    """engine hub: who logs in, what they may start, when it stops."""

    authenticator: str
    """``native``, ``github``, ``google`` or ``oidc``."""
    admins: tuple[str, ...]
    users: tuple[str, ...]
    """OAuth: who may log in besides admins and group members."""
    groups: tuple[tuple[str, tuple[str, ...]], ...]
    """(group, members), applied at every hub start."""
    profiles: tuple[HubProfile, ...]
    idle_minutes: int
    max_sessions: int
    oidc_issuer: str | None = None
    quota: tuple[int, int] = (0, 0)
    """The users' namespace's ResourceQuota: CPU millis and memory bytes their pods may request at
    once (what the pools' ceilings hold besides the hub, or hubMaxSessions of the largest profile)."""


@dataclass(frozen=True, kw_only=True)
class SparkSettings:
    """The ``spark`` key: a Spark Connect server, a standalone master and workers beside the engine."""

    workers: int
    """Worker pods (one executor each), on the worker pool."""
    worker_cpu: str
    """Whole CPUs per worker: the executor's cores."""
    worker_memory: str
    driver_cpu: str
    """The Connect server (Spark's driver), on the system pool."""
    driver_memory: str
    version: str
    """The apache/spark image's version; the session's client is pinned to it exactly."""


@dataclass(frozen=True, kw_only=True)
class WorkloadSettings:
    """Settings of what runs in the cluster; the same on every platform."""

    stack: str
    """Stack name: the ``app.kubernetes.io/instance`` label."""
    engine: str
    """What runs: ``r`` (RStudio and R workers) or ``dask`` (JupyterLab, Dask scheduler and workers)."""
    dask_version: str
    """Dask release: the ghcr.io/dask image tag for notebook, scheduler and workers."""
    namespace: str
    """Kubernetes namespace that holds every object of the stack."""
    r_version: str
    """R version: the rocker/rstudio and rocker/r-ver image tag."""
    options: tuple[tuple[str, str], ...] = ()
    """The selected engine's own keys (engine r: ``rBackend``), as its plug-in read them."""
    workers: int
    """Number of R worker pods (replicas); 0 parks the pool."""
    worker_cpu: str
    """CPU per worker, request = limit (Kubernetes quantity)."""
    worker_memory: str
    """Memory per worker, request = limit (Kubernetes quantity)."""
    scheduler_cpu: str
    """CPU of the RStudio pod, request = limit."""
    scheduler_memory: str
    """Memory of the RStudio pod, request = limit."""
    home_size: str
    """Size of the RStudio home volume."""
    packages: tuple[str, ...]
    """Extra packages for every pod, sorted: CRAN names (r) or pinned pip requirements (dask)."""
    allowed_source_ranges: tuple[str, ...]
    """CIDRs that may reach RStudio; empty means no LoadBalancer at all."""
    worker_port: int
    """Port of the R session that workers dial (never public)."""
    worker_setup_timeout: int
    """Seconds one worker attempt keeps dialing before it restarts (bounds join delay)."""
    node_pools: bool
    """Place pods on kubepar's pools: workers and sweeps on the tainted worker pool, the rest on the
    system pool (always on GKE; on an existing cluster with ``nodePools``)."""
    deletion_protection: bool
    """Protect the cluster and the home volume: ``pulumi destroy`` refuses before deleting anything."""
    replace_home: bool
    """Allow a namespace change that replaces the home volume (its data is lost); false refuses."""
    cran_snapshot: str
    """Date (YYYY-MM-DD) of the Posit Package Manager snapshot every R pod installs from."""
    cran_repository: str
    """URL of that snapshot for the rocker image's Ubuntu release (Linux binaries)."""
    sweeps: tuple[SweepSettings, ...] = ()
    """Parameter sweeps, sorted by name (keyed by name: reordering config renames nothing)."""
    hub: HubSettings | None = None
    """engine hub's own settings; None for every other engine."""
    door: Door | None = None
    """The public HTTPS door (domain, or hubDomain), or None: port-forward only."""
    spark: SparkSettings | None = None
    """Spark Connect beside the engine, or None (the ``spark`` key absent, or workers 0)."""

    def option(self, key: str) -> str | None:
        """The selected engine's own key, or None when that engine has no such key."""
        return dict(self.options).get(key)


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything the program needs, validated."""

    stack: str
    platform: str
    kube_context: str | None
    """kubectl context for ``existing``; None means the current context."""
    gke: GkeSettings | None
    workload: WorkloadSettings
    password: Any = None
    """The login password from ``kubepar:password``, a Pulumi secret (``pulumi.Output[str]``) that
    config.load() sets; None to generate one."""
    secrets: dict[str, Any] = field(default_factory=dict)
    """The other secret keys that are set (hubSecretSeed, hubOAuthClientId, hubOAuthClientSecret,
    queuePassword), as Pulumi secrets, by key."""
    warnings: tuple[str, ...] = ()
    """Valid settings that cost or risk more than expected (``pulumi preview`` shows them)."""
