"""The R engine: RStudio is the scheduler, and R workers dial into its session.

Owns: the ``r`` engine's roles for the default ``psock`` backend (RStudio
with the user's home, workers running the dial loop), its scripts, its
traffic, its outputs, its worker limit and its own key ``rBackend``, which
hands the stack to the queue backend (r_queue.py). Does not: know Kubernetes
objects.
Invariant: workers reach the session only through the fixed-name ClusterIP
Service on ``workerPort``; no role exposes that port outside the cluster.
"""

from __future__ import annotations

from components.engines import r_queue
from components.engines.model import (
    NO_PROBE_REASON,
    PACKAGES_DIR,
    SCRIPTS_DIR,
    SECRET_ENV_REASON,
    SESSION_WRITABLE,
    SETTINGS_DIR,
    SPOT_GRACE_SECONDS,
    Access,
    Claim,
    Disruption,
    Edge,
    Engine,
    EnginePlugin,
    Exposure,
    PodRole,
    Probe,
    Security,
    Storage,
    endpoint_host,
    files,
)
from components.engines.r_language import (
    RSTUDIO_HOME,
    check_packages,
    r_base_image,
    r_installer,
    user_library,
)
from components.ground.quantities import whole_cpus
from components.ground.reader import Reader
from components.ground.settings import WorkloadSettings

RSTUDIO_PORT = 8787
R_BACKENDS = ("psock", "redis")
# An R session holds at most 128 connections, a few of them its own.
MAX_R_WORKERS = 120
SESSION_LIVENESS = (
    "rserver answers the check from its own process while R computes in another, so a busy session never "
    "fails it; a hung rserver leaves the session unreachable, and a restart after five minutes of failed "
    "checks brings it back, the home kept (R's memory is lost either way)"
)
SESSION_DISRUPTION = (
    "an eviction ends the user's R session and everything in its memory: the budget makes a drain or an "
    "upgrade wait (GKE waits up to an hour, inside the maintenance window) and the autoscaler leaves it put"
)


def session_role(settings: WorkloadSettings) -> PodRole:
    """RStudio: the user's session, with the home volume; its R session listens for workers."""
    return PodRole(
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
        probe=Probe(port=RSTUDIO_PORT, liveness=True, why=SESSION_LIVENESS),
        session=True,
        password_env="PASSWORD",
        # The rocker images hold base R, littler and docopt only: kubepar's own
        # packages come from the init container on every R pod, from one dated
        # snapshot, so scheduler and workers load identical versions.
        installer=r_installer(settings, settings.packages),
        security=Security(root_init=True, fs_group=1000, read_only_root=False),
        storage=Storage(claim=Claim(name="home", path=RSTUDIO_HOME), live_settings=True, writable=SESSION_WRITABLE),
        disruption=Disruption(why=SESSION_DISRUPTION, safe_to_evict=False, budget=True),
        exposure=Exposure(
            ports=(("http", RSTUDIO_PORT), ("r-workers", settings.worker_port)),
            user_port=RSTUDIO_PORT,
            endpoint_port=settings.worker_port,
            # The user's own session: git, APIs and package repositories on any port.
            internet="all",
        ),
        checkov_skips=(
            ("CKV_K8S_23", "rocker's s6 init starts as root, sets up the rstudio user, then drops to it"),
            ("CKV_K8S_40", "runs as root by design (rocker's init); sessions run as rstudio, UID 1000"),
            ("CKV_K8S_25", "rocker's init needs CHOWN, SETUID and friends to switch users; nothing else is added"),
            ("CKV_K8S_22", "rocker's init writes users, Renviron.site and s6 state under /etc and /run"),
            ("CKV_K8S_35", SECRET_ENV_REASON + " (PASSWORD)"),
        ),
    )


def worker_role(settings: WorkloadSettings) -> PodRole:
    """An R worker: the dial loop, on the worker pool."""
    return PodRole(
        component="worker",
        image=r_base_image(settings.r_version),
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
        installer=r_installer(settings, settings.packages),
        unprobed=NO_PROBE_REASON,
        disruption=Disruption(
            why=(
                "a running PSOCK call (parLapply, future) fails when one of its workers goes; the budget is left "
                "out so that a drain or an upgrade never waits on workers, and the autoscaler's scale-down may "
                "not take them"
            ),
            # The dial loop exits within a second of SIGTERM; Spot allows about 15 s.
            grace_seconds=SPOT_GRACE_SECONDS,
            await_rollout=False,
            safe_to_evict=False,
        ),
    )


def outputs(settings: WorkloadSettings) -> tuple[tuple[str, str | int], ...]:
    return (("user", "rstudio"), ("rVersion", settings.r_version), ("cranRepository", settings.cran_repository))


def build(settings: WorkloadSettings) -> Engine:
    if settings.option("rBackend") == "redis":
        return r_queue.build(settings, session_role(settings), worker_role(settings), outputs(settings))
    return Engine(
        name="r",
        roles=(session_role(settings), worker_role(settings)),
        files=files("r", ("kubepar.R", "kubepar-worker.sh", "install-packages.R")),
        edges=(Edge(client="worker", server="scheduler", port=settings.worker_port),),
        access=(Access(component="scheduler", port=RSTUDIO_PORT),),
        outputs=outputs(settings),
    )


def _options(read: Reader) -> dict[str, str]:
    return {"rBackend": read.choice("rBackend", R_BACKENDS)}


def _check(read: Reader) -> None:
    if not read.failed("workerPort") and read.text("workerPort") == str(RSTUDIO_PORT):
        read.fail("workerPort", f"{RSTUDIO_PORT} is RStudio's port; use another, such as 11562")


PLUGIN = EnginePlugin(
    name="r",
    build=build,
    max_workers=MAX_R_WORKERS,
    workers_fix=f"use 0..{MAX_R_WORKERS} (an R session holds about 125 connections)",
    packages=check_packages,
    options=_options,
    own_keys=("rBackend",),
    check=_check,
)
