"""The hub users' roles as data: each profile's session and the workers kubepar's spawn hook starts beside it.

Owns: what a profile's session runs (the ``jupyterhub-singleuser`` server on the Dask notebook image,
with the pinned ``jupyterhub``; for RStudio, rocker's rserver beside it on the pod's loopback), the
roles of its workers (R workers that dial the session, or a Dask scheduler and workers), each sized by
the profile, and the names the spawn hook fills in. Does not: render pods or objects (k8s/hub_pods.py),
or know the hub itself (hub.py).
Invariant: a user's workers reach only their own session's endpoint, whose name carries the
session pod's name.
"""

from __future__ import annotations

import dataclasses

from components.engines import dask as dask_engine
from components.engines import r as r_engine
from components.engines.model import (
    SCRIPTS_DIR,
    SESSION_WRITABLE,
    Claim,
    Disruption,
    Exposure,
    PodRole,
    Security,
    Storage,
    endpoint_host,
)
from components.engines.python_language import image_tag, pip_installer
from components.engines.r_language import RSTUDIO_HOME, r_installer, user_library
from components.ground.hub_sizes import RSTUDIO_FRONT
from components.ground.quantities import whole_cpus
from components.ground.settings import HubProfile, WorkloadSettings

JUPYTERHUB_VERSION = "5.5.0"
"""The hub's own JupyterHub: the single-user server runs the same release."""
SERVER_PROXY = "jupyter-server-proxy==4.6.0"
SINGLEUSER_PORT = 8888
RSTUDIO_PORT = r_engine.RSTUDIO_PORT
USER_ACCOUNT = "kubepar-user"
"""The users' pods' ServiceAccount: no rights, no token."""
USER_SCRIPTS = "kubepar-user-scripts"
"""The users' namespace's scripts ConfigMap (fixed name: the hub's settings name it)."""
JOVYAN_HOME = "/home/jovyan"
JOVYAN_UID = 1000
USERS_GID = 100
# Filled in by the spawn hook: the session pod's name and its user's label value.
POD = "__POD__"
USER = "__USER__"
USER_LABEL = "hub.jupyter.org/username"
SESSION = "session"
# Short suffixes: pod names reach 56 characters, object names may have 63.
SUFFIXES = {"workers": "wk", "scheduler": "sc", "endpoint": "ep", "policy": "np"}


def users_namespace(settings: WorkloadSettings) -> str:
    return f"{settings.namespace}-users"


def endpoint(settings: WorkloadSettings) -> str:
    """The DNS name of the user's endpoint Service: their R session, or their Dask scheduler."""
    return f"{POD}-{SUFFIXES['endpoint']}.{users_namespace(settings)}.svc.cluster.local"


def notebook_role(settings: WorkloadSettings, profile: HubProfile) -> PodRole:
    """The single-user server: what KubeSpawner's own container runs."""
    packages = (f"jupyterhub=={JUPYTERHUB_VERSION}", *((SERVER_PROXY,) if profile.session == "rstudio" else ()))
    installer = pip_installer(settings, packages)
    # The Dask notebook image has a jupyterhub of its own: this one replaces it (a small library).
    installer = dataclasses.replace(
        installer,
        image=notebook_image(settings),
        env=(*installer.env, ("KUBEPAR_REPLACE", "jupyterhub")),
        size="1Gi",
    )
    env: tuple[tuple[str, str], ...] = ()
    if profile.session == "jupyterlab" and profile.workers:
        env = (("DASK_SCHEDULER_ADDRESS", f"tcp://{endpoint(settings)}:{dask_engine.DASK_SCHEDULER_PORT}"),)
    if profile.session == "rstudio":
        env = (("JUPYTER_CONFIG_PATH", SCRIPTS_DIR),)
    # An RStudio session's server only forwards to RStudio, which gets the profile's size.
    cpu, memory = RSTUDIO_FRONT if profile.session == "rstudio" else (profile.cpu, profile.memory)
    return PodRole(
        component=SESSION,
        image=notebook_image(settings),
        env=env,
        cpu=cpu,
        memory=memory,
        blas_threads=whole_cpus(cpu),
        installer=installer,
        security=Security(run_as_user=JOVYAN_UID, fs_group=USERS_GID, read_only_root=False),
        # An RStudio session's server writes little; a JupyterLab user's installs land in the image's folders.
        storage=Storage(
            claim=Claim(name="home", path=JOVYAN_HOME),
            writable="1Gi" if profile.session == "rstudio" else SESSION_WRITABLE,
        ),
        unprobed=(
            "KubeSpawner's container: the hub watches the server itself (its activity, and whether it answers) "
            "and culls it when idle"
        ),
        disruption=Disruption(
            why=(
                "an eviction ends the user's session and its memory (the hub counts it stopped): the autoscaler "
                "leaves it put; no budget, as KubeSpawner makes none and a drain must not wait on idle sessions"
            ),
            safe_to_evict=False,
        ),
        exposure=Exposure(internet="all"),
    )


def notebook_image(settings: WorkloadSettings) -> str:
    return f"ghcr.io/dask/dask-notebook:{image_tag(settings)}"


def rstudio_role(settings: WorkloadSettings, profile: HubProfile, idle_minutes: int) -> PodRole:
    """rserver beside the single-user server, on the pod's loopback only, its sessions as rstudio."""
    grown = sized(settings, profile)
    base = r_engine.session_role(grown)
    keep = ("R_PROFILE_USER", "KUBEPAR_WORKER_PORT", "KUBEPAR_NAMESPACE", "KUBEPAR_CRAN", "KUBEPAR_LIBRARY_DIR")
    return dataclasses.replace(
        base,
        component="rstudio",
        command=("sh", f"{SCRIPTS_DIR}/rstudio-behind-hub.sh"),
        env=(
            *(item for item in base.env if item[0] in keep),
            ("KUBEPAR_WORKERS_FILE", f"{SCRIPTS_DIR}/workers-{profile.name}"),
            ("KUBEPAR_USER_LIBRARY", user_library(settings.r_version)),
            ("R_LIBS_USER", user_library(settings.r_version)),
            ("KUBEPAR_NAMESPACE", users_namespace(settings)),
            # RStudio stops an idle R session as the hub culls an idle server.
            ("KUBEPAR_SESSION_TIMEOUT_MINUTES", str(idle_minutes)),
            ("DISABLE_AUTH", "true"),
        ),
        password_env=None,
        session=False,
        probe=None,
        unprobed="rserver answers only the single-user server beside it, on the pod's loopback; the hub watches that",
        storage=Storage(claim=Claim(name="home", path=RSTUDIO_HOME), writable=SESSION_WRITABLE),
        installer=r_installer(grown, grown.packages),
        exposure=Exposure(),
    )


def sized(settings: WorkloadSettings, profile: HubProfile) -> WorkloadSettings:
    return dataclasses.replace(
        settings,
        namespace=users_namespace(settings),
        workers=profile.workers,
        worker_cpu=profile.worker_cpu,
        worker_memory=profile.worker_memory,
        scheduler_cpu=profile.cpu,
        scheduler_memory=profile.memory,
    )


def session_roles(settings: WorkloadSettings, profile: HubProfile, idle_minutes: int) -> tuple[PodRole, ...]:
    """The containers of one session pod of ``profile``: the single-user server, and rserver beside it."""
    notebook = notebook_role(settings, profile)
    if profile.session == "rstudio":
        return (notebook, rstudio_role(settings, profile, idle_minutes))
    return (notebook,)


def worker_roles(settings: WorkloadSettings, profile: HubProfile) -> tuple[PodRole, ...]:
    """What the spawn hook starts beside a session of ``profile``, pointed at the session's own endpoint."""
    if not profile.workers:
        return ()
    grown = sized(settings, profile)
    if profile.session == "rstudio":
        worker = r_engine.worker_role(grown)
        env = tuple(
            (name, endpoint(settings) if name == "KUBEPAR_SCHEDULER_HOST" else value) for name, value in worker.env
        )
        return (dataclasses.replace(worker, env=env),)
    # The hub's packages are R packages (RStudio and R workers): Dask's pods install none of them.
    built = {role.component: role for role in dask_engine.build(dataclasses.replace(grown, packages=())).roles}
    old, new = endpoint_host(grown), endpoint(settings)
    scheduler = _retarget(built["scheduler"], old, new)
    scheduler = dataclasses.replace(
        scheduler,
        component="dask-scheduler",
        exposure=Exposure(ports=scheduler.exposure.ports),
        disruption=Disruption(
            why=(
                "the user's own scheduler holds their running graph: the autoscaler leaves it put; no budget, as "
                "the spawn hook makes none and a drain must not wait on idle sessions"
            ),
            safe_to_evict=False,
        ),
    )
    return (scheduler, _retarget(built["worker"], old, new))


def _retarget(role: PodRole, old: str, new: str) -> PodRole:
    return dataclasses.replace(
        role,
        env=tuple((name, value.replace(old, new)) for name, value in role.env),
        command=tuple(part.replace(old, new) for part in role.command),
    )
