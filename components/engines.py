"""Engines: what runs in the pods, as small declarative descriptions.

Owns: for each engine (R, Dask), the pod roles it needs: images, commands,
ports, probes, environment, which port users reach, which port workers dial,
and how extra packages are installed. Does not: create anything. The shared
Workload component turns a role into a Deployment, Services and
NetworkPolicies the same way for every engine.

Invariant: in every engine, workers dial the role labelled ``scheduler``
through the fixed-name Service ``kubepar-scheduler``; no role exposes that
port outside the cluster.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path

from components import quantities
from components.config import (
    DASK_PYTHON,
    R_CORE_PACKAGES,
    R_QUEUE_PACKAGES,
    R_QUEUE_SYSTEM_LIBRARIES,
    SweepSettings,
    WorkloadSettings,
)

WORKLOADS = Path(__file__).resolve().parent.parent / "workloads"
SCRIPTS_DIR = "/etc/kubepar/scripts"
SETTINGS_DIR = "/etc/kubepar/settings"
PACKAGES_DIR = "/opt/kubepar/packages"
SYSTEM_DIR = "/opt/kubepar/system"
QUEUE_AUTH_DIR = "/etc/kubepar/queue-auth"
ENDPOINT_SERVICE = "kubepar-scheduler"
QUEUE_SERVICE = "kubepar-queue"
QUEUE_PORT = 6379
QUEUE_NAME = "kubepar"
# Valkey, not Redis: BSD-licensed (Redis 7.4+ is not open source under the
# OSI definition), maintained under the Linux Foundation, protocol- and
# config-compatible with the Redis 7.2 doRedis was built on; the project's
# own image. The queue holds tasks and results, not data: small and fixed.
QUEUE_IMAGE = "valkey/valkey:8.1.8"
QUEUE_CPU = "500m"
QUEUE_DATA_DIR = "/data"
QUEUE_MEMORY = "1Gi"
# A high UID that no image or host account uses: the default for non-root containers.
NON_ROOT_UID = 10001

RSTUDIO_PORT = 8787
JUPYTER_PORT = 8888
DASK_SCHEDULER_PORT = 8786
DASK_DASHBOARD_PORT = 8787
DASK_WORKER_DASHBOARD_PORT = 8789

# GKE Spot preemption gives non-system pods about 15 s, whatever the pod asks for.
SPOT_GRACE_SECONDS = 15
# The Dask worker's retirement (preStop) must end before that, with time to close.
DASK_RETIRE_SECONDS = 10
# Where the Dask installer's prefix keeps its packages, under PACKAGES_DIR.
PYTHON_SITE_PACKAGES = f"lib/python{DASK_PYTHON}/site-packages"

# rocker's s6 init runs as root to set up the rstudio user and then drops to
# it; these are the capabilities that needs (the container default set without
# raw sockets, mknod or file capabilities).
ROCKER_INIT_CAPABILITIES = ("CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "AUDIT_WRITE")
# rocker's default library path, kept behind ours (R_LIBS replaces, not appends).
ROCKER_LIBS = "/usr/local/lib/R/site-library:/usr/local/lib/R/library"


@dataclass(frozen=True, kw_only=True)
class Probe:
    """One check used for startup, readiness and liveness."""

    port: int
    path: str | None = None
    """HTTP path; None means a TCP connect."""
    liveness: bool = True
    """Also restart the container when the check fails. Off where a busy process
    can miss a check (Dask's event loop blocks for seconds under load)."""


@dataclass(frozen=True, kw_only=True)
class Installer:
    """How an engine installs extra packages once per pod, in an init container."""

    image: str
    command: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    """Installer environment (the package list, the target folder)."""
    path_env: tuple[str, str]
    """Variable and value that put the installed packages on the main container's path."""
    system_libraries: tuple[str, ...] = ()
    """System libraries (``hiredis``) fetched by a first init container, without root, from the
    image's own distribution, and found through LD_LIBRARY_PATH."""


@dataclass(frozen=True, kw_only=True)
class PodRole:
    """One kind of pod: its container, and the doors into it."""

    component: str
    """``app.kubernetes.io/component`` label and logical-name prefix."""
    image: str
    command: tuple[str, ...] = ()
    """Empty: the image's own entrypoint."""
    env: tuple[tuple[str, str], ...] = ()
    field_env: tuple[tuple[str, str], ...] = ()
    """Variables from the pod's own fields (downward API): (name, fieldPath)."""
    pre_stop: tuple[str, ...] = ()
    """Command run before SIGTERM (graceful hand-over), or nothing."""
    cpu: str
    memory: str
    blas_threads: str = "1"
    """OMP/OpenBLAS/MKL threads: OpenBLAS otherwise sizes itself from the host's cores."""
    ports: tuple[tuple[str, int], ...] = ()
    """Container ports by name."""
    probe: Probe | None = None
    replicas: int = 1
    pool: str = "system"
    """GKE node pool (``system`` on-demand, ``workers`` tainted)."""
    root_init: bool = False
    """The documented exception: an image whose init must start as root (rocker/rstudio)."""
    run_as_user: int = NON_ROOT_UID
    """UID for non-root roles."""
    fs_group: int | None = None
    """Group that owns mounted volumes (the home volume's user group)."""
    home: str | None = None
    """Mount path of a PersistentVolumeClaim; also implies a Recreate rollout."""
    password_env: str | None = None
    """Variable that receives the stack's password (from a Secret)."""
    exposed_port: int | None = None
    """Port users reach: LoadBalancer limited to allowedSourceRanges, or ClusterIP."""
    endpoint_port: int | None = None
    """Port clients dial through the fixed-name Service ``kubepar-scheduler``."""
    endpoint_clients: tuple[str, ...] = ()
    """Components allowed to dial ``endpoint_port``."""
    internal_clients: tuple[tuple[str, int], ...] = ()
    """(component, port) pairs allowed in besides the endpoint clients (the notebook to the dashboard)."""
    peers: tuple[str, ...] = ()
    """Components allowed to reach this role on any port (Dask workers talk to each other)."""
    egress_to: tuple[tuple[str, int | None], ...] = ()
    """(component, port) pairs this role may dial inside the stack; None is any port."""
    internet: str = "https"
    """Egress to public addresses: ``none``, ``https`` (package repositories, object stores), ``web``
    (HTTP too: the Ubuntu archive the system library installer reads) or ``all``."""
    mount_settings: bool = False
    """Mount the live settings ConfigMap (worker count) at SETTINGS_DIR."""
    read_only_root: bool = True
    tmp_size: str = "2Gi"
    """Size limit of the /tmp scratch volume."""
    grace_seconds: int = 30
    await_rollout: bool = True
    """False: `pulumi up` does not wait for these pods (workers may wait for autoscaled nodes)."""
    safe_to_evict: bool = True
    """False: the cluster autoscaler never evicts these pods to consolidate nodes (they hold work)."""
    disruption_budget: bool = False
    """A PodDisruptionBudget that admits no voluntary eviction: a node drain waits for it
    (GKE waits up to an hour, inside the maintenance window)."""
    checkov_skips: tuple[tuple[str, str], ...] = ()
    """(check id, reason) that checkov skips on this role's Deployment only, besides IMAGE_TAG_SKIP."""
    packages: bool = True
    """Run the engine's package installer in this pod (False for a pod of another image: the queue)."""
    endpoint_service: str = ENDPOINT_SERVICE
    """Fixed name of the Service clients dial ``endpoint_port`` on."""
    queue_auth: bool = False
    """Mount the queue's password files at QUEUE_AUTH_DIR (server and clients)."""


# Tags, not digests, on every image: the tag fixes the R or Dask version; rocker
# and dask rebuild a tag for OS security fixes, which new pods then pull
# (imagePullPolicy Always); R packages are fixed by the dated snapshot. A digest
# would freeze an unpatched build, and cannot be looked up without the registry.
IMAGE_TAG_SKIP = (
    "CKV_K8S_43",
    "tags pin the version and are pulled Always for OS fixes; packages are pinned by the snapshot",
)
NO_PROBE_REASON = "serves no port: the dial loop is PID 1, so the container ends and restarts when it dies"
NO_LIVENESS_REASON = "a busy Dask event loop blocks for seconds; a liveness restart would lose every task"
SECRET_ENV_REASON = "the image reads its login secret only from this environment variable"
SWEEP_PROBE_REASON = "a task runs to completion and serves no port; the Job controller watches its exit"


@dataclass(frozen=True, kw_only=True)
class Engine:
    name: str
    roles: tuple[PodRole, ...]
    files: dict[str, str] = field(default_factory=dict)
    """Scripts mounted into every pod at SCRIPTS_DIR (the ``scripts`` ConfigMap)."""
    installer: Installer | None = None
    """Package installer, or None when no extra packages are configured."""
    ui_user: str | None = None
    """Login user of the user-facing app, if it has one (RStudio's ``rstudio``)."""

    def role(self, component: str) -> PodRole:
        return next(role for role in self.roles if role.component == component)


def _files(folder: str, names: tuple[str, ...]) -> dict[str, str]:
    return {name: (WORKLOADS / folder / name).read_text() for name in names}


def endpoint_host(settings: WorkloadSettings) -> str:
    return f"{ENDPOINT_SERVICE}.{settings.namespace}.svc.cluster.local"


RSTUDIO_HOME = "/home/rstudio"


def user_library(r_version: str) -> str:
    """The RStudio user's own library: on the home volume, one per R minor version (packages
    built for one minor version may not load in the next)."""
    return f"{RSTUDIO_HOME}/R/kubepar-library/{'.'.join(r_version.split('.')[:2])}"


def whole_cpus(cpu: str) -> str:
    """Whole CPUs of a limit, at least 1."""
    return str(max(1, quantities.cpu_millis(cpu) // 1000))


def r_engine(settings: WorkloadSettings) -> Engine:
    """RStudio is the scheduler: its R session listens for workers that dial in."""
    r_base = f"rocker/r-ver:{settings.r_version}"
    # The rocker images hold base R, littler and docopt only: kubepar's own
    # packages come from the init container on every R pod, from one dated
    # snapshot, so scheduler and workers load identical versions.
    installer = _r_installer(settings, settings.packages)
    scheduler = PodRole(
        component="scheduler",
        image=f"rocker/rstudio:{settings.r_version}",
        env=(
            # Loaded by every R session; rocker copies container env into
            # Renviron.site, so RStudio sessions see these too.
            ("R_PROFILE_USER", f"{SCRIPTS_DIR}/kubepar.R"),
            ("KUBEPAR_WORKERS_FILE", f"{SETTINGS_DIR}/workers"),
            ("KUBEPAR_WORKER_PORT", str(settings.worker_port)),
            ("KUBEPAR_NAMESPACE", settings.namespace),
            # install.packages() in RStudio uses the same snapshot as the pods.
            ("KUBEPAR_CRAN", settings.cran_repository),
            # kubepar.R puts kubepar's library first and the user's own (on the
            # home volume, per R minor version) second, and installs there.
            ("KUBEPAR_LIBRARY_DIR", PACKAGES_DIR),
            ("KUBEPAR_USER_LIBRARY", user_library(settings.r_version)),
            ("R_LIBS_USER", user_library(settings.r_version)),
        ),
        cpu=settings.scheduler_cpu,
        memory=settings.scheduler_memory,
        blas_threads=whole_cpus(settings.scheduler_cpu),
        ports=(("http", RSTUDIO_PORT), ("r-workers", settings.worker_port)),
        probe=Probe(port=RSTUDIO_PORT),
        root_init=True,
        fs_group=1000,
        home=RSTUDIO_HOME,
        password_env="PASSWORD",
        exposed_port=RSTUDIO_PORT,
        endpoint_port=settings.worker_port,
        endpoint_clients=("worker",),
        # The user's own session: git, APIs and package repositories on any port.
        internet="all",
        mount_settings=True,
        read_only_root=False,
        safe_to_evict=False,
        disruption_budget=True,
        checkov_skips=(
            ("CKV_K8S_23", "rocker's s6 init starts as root, sets up the rstudio user, then drops to it"),
            ("CKV_K8S_40", "runs as root by design (rocker's init); sessions run as rstudio, UID 1000"),
            ("CKV_K8S_25", "rocker's init needs CHOWN, SETUID and friends to switch users; nothing else is added"),
            ("CKV_K8S_22", "rocker's init writes users, Renviron.site and s6 state under /etc and /run"),
            ("CKV_K8S_35", SECRET_ENV_REASON + " (PASSWORD)"),
        ),
    )
    worker = PodRole(
        component="worker",
        image=r_base,
        command=("sh", f"{SCRIPTS_DIR}/kubepar-worker.sh"),
        env=(
            ("KUBEPAR_SCHEDULER_HOST", endpoint_host(settings)),
            ("KUBEPAR_SCHEDULER_PORT", str(settings.worker_port)),
            ("KUBEPAR_SETUP_TIMEOUT", str(settings.worker_setup_timeout)),
        ),
        cpu=settings.worker_cpu,
        memory=settings.worker_memory,
        replicas=settings.workers,
        pool="workers",
        egress_to=(("scheduler", settings.worker_port),),
        # The dial loop exits within a second of SIGTERM; Spot allows about 15 s.
        grace_seconds=SPOT_GRACE_SECONDS,
        await_rollout=False,
        # A PSOCK call fails when one of its workers goes.
        safe_to_evict=False,
        checkov_skips=(("CKV_K8S_8", NO_PROBE_REASON), ("CKV_K8S_9", NO_PROBE_REASON)),
    )
    if settings.r_backend == "redis":
        return _redis_engine(settings, scheduler, worker)
    return Engine(
        name="r",
        roles=(scheduler, worker),
        files=_files("r", ("kubepar.R", "kubepar-worker.sh", "install-packages.R")),
        installer=installer,
        ui_user="rstudio",
    )


def dask_engine(settings: WorkloadSettings) -> Engine:
    """JupyterLab for the user, a Dask scheduler, and workers that connect to it."""
    version = f"{settings.dask_version}-py{DASK_PYTHON}"
    scheduler_address = f"tcp://{endpoint_host(settings)}:{DASK_SCHEDULER_PORT}"
    installer = None
    if settings.packages:
        installer = Installer(
            image=f"ghcr.io/dask/dask:{version}",
            command=("sh", f"{SCRIPTS_DIR}/install-packages.sh"),
            env=(("KUBEPAR_PACKAGES", " ".join(settings.packages)), ("KUBEPAR_LIBRARY", PACKAGES_DIR)),
            path_env=("PYTHONPATH", f"{PACKAGES_DIR}/{PYTHON_SITE_PACKAGES}"),
        )
    notebook = PodRole(
        component="notebook",
        image=f"ghcr.io/dask/dask-notebook:{version}",
        env=(("DASK_SCHEDULER_ADDRESS", scheduler_address),),
        cpu=settings.scheduler_cpu,
        memory=settings.scheduler_memory,
        blas_threads=whole_cpus(settings.scheduler_cpu),
        ports=(("http", JUPYTER_PORT),),
        probe=Probe(port=JUPYTER_PORT),
        # jovyan, the notebook image's user, owns the home volume.
        run_as_user=1000,
        fs_group=100,
        home="/home/jovyan",
        password_env="JUPYTER_TOKEN",
        exposed_port=JUPYTER_PORT,
        # The client dials the scheduler (and its dashboard, for the JupyterLab
        # Dask panel) and gathers results straight from the workers.
        egress_to=(
            ("scheduler", DASK_SCHEDULER_PORT),
            ("scheduler", DASK_DASHBOARD_PORT),
            ("worker", None),
        ),
        internet="all",
        read_only_root=False,
        safe_to_evict=False,
        disruption_budget=True,
        checkov_skips=(
            ("CKV_K8S_40", "runs as jovyan (UID 1000), who owns the image's conda environment and home"),
            ("CKV_K8S_22", "JupyterLab writes its runtime, settings and kernels under the image's own folders"),
            ("CKV_K8S_35", SECRET_ENV_REASON + " (JUPYTER_TOKEN)"),
        ),
    )
    scheduler = PodRole(
        component="scheduler",
        image=f"ghcr.io/dask/dask:{version}",
        command=(
            "dask",
            "scheduler",
            "--port",
            str(DASK_SCHEDULER_PORT),
            "--dashboard-address",
            f":{DASK_DASHBOARD_PORT}",
        ),
        cpu=settings.scheduler_cpu,
        memory=settings.scheduler_memory,
        ports=(("tcp-comm", DASK_SCHEDULER_PORT), ("http-dashboard", DASK_DASHBOARD_PORT)),
        # No liveness check: a scheduler busy with a large graph blocks its
        # event loop for seconds, and a restart would lose every task.
        probe=Probe(port=DASK_DASHBOARD_PORT, path="/health", liveness=False),
        # The dashboard, not the scheduler port, is what users may reach.
        exposed_port=DASK_DASHBOARD_PORT,
        endpoint_port=DASK_SCHEDULER_PORT,
        endpoint_clients=("worker", "notebook"),
        internal_clients=(("notebook", DASK_DASHBOARD_PORT),),
        # The scheduler dials each worker's (random) listening port.
        egress_to=(("worker", None),),
        safe_to_evict=False,
        disruption_budget=True,
        checkov_skips=(("CKV_K8S_8", NO_LIVENESS_REASON),),
    )
    worker = PodRole(
        component="worker",
        image=f"ghcr.io/dask/dask:{version}",
        env=(
            ("DASK_SCHEDULER_ADDRESS", scheduler_address),
            # The preStop hook's budget: Spot preemption leaves pods about 15 s.
            ("KUBEPAR_RETIRE_TIMEOUT", str(DASK_RETIRE_SECONDS)),
        ),
        # The pod name is the worker's name, so the preStop hook can retire it by name.
        field_env=(("KUBEPAR_WORKER_NAME", "metadata.name"),),
        pre_stop=("python", f"{SCRIPTS_DIR}/retire-worker.py"),
        command=(
            "dask",
            "worker",
            scheduler_address,
            "--name",
            "$(KUBEPAR_WORKER_NAME)",
            # --nthreads must be a whole number; config refuses fractional CPUs.
            "--nthreads",
            whole_cpus(settings.worker_cpu),
            "--memory-limit",
            str(quantities.memory_bytes(settings.worker_memory)),
            "--dashboard-address",
            f":{DASK_WORKER_DASHBOARD_PORT}",
        ),
        cpu=settings.worker_cpu,
        memory=settings.worker_memory,
        ports=(("http-dashboard", DASK_WORKER_DASHBOARD_PORT),),
        probe=Probe(port=DASK_WORKER_DASHBOARD_PORT, path="/health", liveness=False),
        replicas=settings.workers,
        pool="workers",
        # Workers listen on random ports: the scheduler, the client and other
        # workers dial them; they dial the scheduler and each other.
        peers=("scheduler", "worker", "notebook"),
        egress_to=(("scheduler", DASK_SCHEDULER_PORT), ("worker", None)),
        # Dask spills to /tmp when memory fills: room for twice its memory limit.
        tmp_size=f"{2 * quantities.memory_bytes(settings.worker_memory) // 1024**2}Mi",
        # GKE gives Spot pods about 15 s whatever this says; retirement fits inside.
        grace_seconds=SPOT_GRACE_SECONDS,
        await_rollout=False,
        checkov_skips=(("CKV_K8S_8", NO_LIVENESS_REASON),),
    )
    return Engine(
        name="dask",
        roles=(notebook, scheduler, worker),
        files=_files("python", ("install-packages.sh", "retire-worker.py")),
        installer=installer,
    )


# The sweep's task index, as the Job controller annotates each pod.
COMPLETION_INDEX_FIELD = "metadata.annotations['batch.kubernetes.io/job-completion-index']"
RESULTS_DIR = "/results"


@dataclass(frozen=True, kw_only=True)
class SweepPlan:
    """What one sweep runs: its engine (image, installer, files), its pod role, and its run id."""

    engine: Engine
    role: PodRole
    run: str
    """Digest of everything that shapes the results: a new one starts a new run."""


def _r_installer(
    settings: WorkloadSettings, packages: tuple[str, ...], system_libraries: tuple[str, ...] = ()
) -> Installer:
    return Installer(
        image=f"rocker/r-ver:{settings.r_version}",
        command=("Rscript", f"{SCRIPTS_DIR}/install-packages.R"),
        env=(
            ("KUBEPAR_PACKAGES", " ".join((*R_CORE_PACKAGES, *packages))),
            ("KUBEPAR_LIBRARY", PACKAGES_DIR),
            ("KUBEPAR_CRAN", settings.cran_repository),
        ),
        path_env=("R_LIBS", f"{PACKAGES_DIR}:{ROCKER_LIBS}"),
        system_libraries=system_libraries,
    )


def queue_host(settings: WorkloadSettings) -> str:
    return f"{QUEUE_SERVICE}.{settings.namespace}.svc.cluster.local"


def _redis_engine(settings: WorkloadSettings, scheduler: PodRole, worker: PodRole) -> Engine:
    """rBackend redis: RStudio queues foreach tasks in Valkey; workers take them with doRedis."""
    queue_env = (
        ("KUBEPAR_R_BACKEND", "redis"),
        ("KUBEPAR_QUEUE_HOST", queue_host(settings)),
        ("KUBEPAR_QUEUE_PORT", str(QUEUE_PORT)),
        ("KUBEPAR_QUEUE", QUEUE_NAME),
        ("KUBEPAR_QUEUE_PASSWORD_FILE", f"{QUEUE_AUTH_DIR}/password"),
    )
    session = replace(
        scheduler,
        env=(*scheduler.env, *queue_env),
        ports=(("http", RSTUDIO_PORT),),
        # No PSOCK port: workers take tasks from the queue, not from the session.
        endpoint_port=None,
        endpoint_clients=(),
        egress_to=(("queue", QUEUE_PORT),),
        queue_auth=True,
    )
    queue_worker = replace(
        worker,
        command=("sh", f"{SCRIPTS_DIR}/kubepar-queue-worker.sh"),
        env=queue_env,
        # The pod name names the worker's connection, so kubepar_status() can count workers.
        field_env=(("KUBEPAR_WORKER_NAME", "metadata.name"),),
        egress_to=(("queue", QUEUE_PORT),),
        internet="web",
        queue_auth=True,
        # A lost worker costs a retry of its task, not the loop: the autoscaler may move it.
        safe_to_evict=True,
    )
    queue = PodRole(
        component="queue",
        image=QUEUE_IMAGE,
        # The config (port, append-only file, no eviction), then the claim, the
        # password (a file of the Secret) and room for Valkey's own overhead.
        command=(
            "valkey-server",
            f"{SCRIPTS_DIR}/valkey.conf",
            "--dir",
            QUEUE_DATA_DIR,
            "--include",
            f"{QUEUE_AUTH_DIR}/auth.conf",
            "--maxmemory",
            str(quantities.memory_bytes(QUEUE_MEMORY) * 3 // 4),
        ),
        cpu=QUEUE_CPU,
        memory=QUEUE_MEMORY,
        ports=(("redis", QUEUE_PORT),),
        probe=Probe(port=QUEUE_PORT),
        fs_group=NON_ROOT_UID,
        home=QUEUE_DATA_DIR,
        endpoint_port=QUEUE_PORT,
        endpoint_service=QUEUE_SERVICE,
        endpoint_clients=("scheduler", "worker"),
        internet="none",
        packages=False,
        queue_auth=True,
        # A restart loses nothing (append-only file), but interrupts every worker: keep it put.
        safe_to_evict=False,
    )
    return Engine(
        name="r",
        roles=(session, queue_worker, queue),
        files={
            **_files("r", ("kubepar.R", "install-packages.R", "install-libraries.sh")),
            **_files("r", ("kubepar-queue-worker.sh", "kubepar-queue-worker.R")),
            **_files("queue", ("valkey.conf",)),
        },
        installer=_r_installer(
            settings, (*R_QUEUE_PACKAGES, *settings.packages), system_libraries=R_QUEUE_SYSTEM_LIBRARIES
        ),
        ui_user="rstudio",
    )


def sweep_plan(settings: WorkloadSettings, sweep: SweepSettings) -> SweepPlan:
    """A sweep's task pod: the script under kubepar's runner, with the stack's packages for its language."""
    own_packages = settings.packages if settings.engine == ("r" if sweep.language == "r" else "dask") else ()
    installer: Installer | None
    if sweep.language == "r":
        image = f"rocker/r-ver:{settings.r_version}"
        installer = _r_installer(settings, own_packages)
        files = _files("r", ("kubepar.R", "kubepar-sweep.R", "install-packages.R"))
        command: tuple[str, ...] = ("Rscript", f"{SCRIPTS_DIR}/kubepar-sweep.R")
        script_key = "script.R"
        language_env: tuple[tuple[str, str], ...] = (("R_PROFILE_USER", f"{SCRIPTS_DIR}/kubepar.R"),)
    else:
        image = f"ghcr.io/dask/dask:{settings.dask_version}-py{DASK_PYTHON}"
        installer = None
        files = _files("python", ("kubepar_sweep.py", "kubepar-sweep.py", "install-packages.sh"))
        command = ("python", f"{SCRIPTS_DIR}/kubepar-sweep.py")
        script_key = "script.py"
        language_env = ()
        if own_packages:
            installer = Installer(
                image=image,
                command=("sh", f"{SCRIPTS_DIR}/install-packages.sh"),
                env=(("KUBEPAR_PACKAGES", " ".join(own_packages)), ("KUBEPAR_LIBRARY", PACKAGES_DIR)),
                path_env=("PYTHONPATH", f"{SCRIPTS_DIR}:{PACKAGES_DIR}/{PYTHON_SITE_PACKAGES}"),
            )
        else:
            # The helper module (kubepar_sweep) sits beside the runner.
            language_env = (("PYTHONPATH", SCRIPTS_DIR),)
    files = {**files, script_key: sweep.script_text}
    digest = hashlib.sha256(
        json.dumps(
            {
                "files": files,
                "image": image,
                "installer": None if installer is None else [installer.image, list(installer.env)],
                "sweep": [sweep.tasks, sweep.cpu, sweep.memory, sweep.retries, sweep.seed, sweep.max_failed],
            },
            sort_keys=True,
        ).encode()
    ).hexdigest()
    run = digest[:8]
    role = PodRole(
        component="sweep",
        image=image,
        command=command,
        env=(
            *language_env,
            ("KUBEPAR_SCRIPT", f"{SCRIPTS_DIR}/{script_key}"),
            ("KUBEPAR_SWEEP", sweep.name),
            ("KUBEPAR_RUN", run),
            ("KUBEPAR_TASKS", str(sweep.tasks)),
            ("KUBEPAR_SEED", str(sweep.seed)),
            ("KUBEPAR_RESULTS", f"{RESULTS_DIR}/{sweep.name}/{run}"),
        ),
        field_env=(("KUBEPAR_TASK", COMPLETION_INDEX_FIELD),),
        cpu=sweep.cpu,
        memory=sweep.memory,
        pool="workers",
        # Package repositories and the results bucket, over HTTPS; nothing dials in.
        internet="https",
        grace_seconds=SPOT_GRACE_SECONDS,
        await_rollout=False,
        checkov_skips=(("CKV_K8S_8", SWEEP_PROBE_REASON), ("CKV_K8S_9", SWEEP_PROBE_REASON)),
    )
    engine = Engine(name=f"sweep-{sweep.language}", roles=(role,), files=files, installer=installer)
    return SweepPlan(engine=engine, role=role, run=run)


def engine_for(settings: WorkloadSettings) -> Engine:
    return dask_engine(settings) if settings.engine == "dask" else r_engine(settings)
