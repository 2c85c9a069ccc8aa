"""The hub users' pods as data: each profile's session pod pieces and its per-user worker objects.

Owns: the settings file the hub's config reads (``hub.json``), and in it,
what KubeSpawner starts for a profile (the ``jupyterhub-singleuser``
container on the Dask notebook image, with the pinned ``jupyterhub``; for
RStudio, rocker's rserver beside it on the pod's loopback), and the objects
kubepar's spawn hook creates for it (R workers that dial the session, or a
Dask scheduler and workers), rendered by the same pod functions as every
other engine's pods, in the Kubernetes API's own spelling. Does not: create
anything.
Invariant: a session or worker pod here carries no ServiceAccount token, runs
under Pod Security's rules like the engine pods, and sits on the pool its
role names; names the hook fills in are the placeholders below.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from components.engines import dask as dask_engine
from components.engines import r as r_engine
from components.engines.hub import PROXY_API_PORT, PROXY_PORT, PROXY_SERVICE, hub_url
from components.engines.model import (
    SCRIPTS_DIR,
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
from components.ground.quantities import cpu_millis, memory_bytes, whole_cpus
from components.ground.settings import HubProfile, WorkloadSettings
from components.k8s import pods
from components.k8s.labels import labels

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


def _camel(value: Any) -> Any:
    """The Pulumi SDK's snake_case keys in the API's camelCase (``from_`` is ``from``)."""
    if isinstance(value, dict):
        return {_camel_key(key): _camel(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_camel(item) for item in value]
    return value


def _camel_key(key: str) -> str:
    if not re.fullmatch(r"[a-z]+(_[a-z0-9]+)*_?", key):
        return key
    head, *rest = key.rstrip("_").split("_")
    return head + "".join(part.capitalize() for part in rest)


def _spec(role: PodRole, on_pools: bool) -> dict[str, Any]:
    spec = pods.pod_spec(
        role,
        service_account=USER_ACCOUNT,
        scripts_config_map=USER_SCRIPTS,
        settings_config_map=USER_SCRIPTS,
        password_secret=None,
        claim="{pvc_name}",
        on_pools=on_pools,
    )
    return dict(_camel(spec))


def _renamed(spec: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """``spec`` with its volumes and init containers renamed, so two roles' pieces share one pod."""
    for volume in spec.get("volumes", []):
        volume["name"] = names.get(volume["name"], volume["name"])
    for container in [*spec.get("initContainers", []), *spec["containers"]]:
        container["name"] = names.get(container["name"], container["name"])
        for mount in container.get("volumeMounts", []):
            mount["name"] = names.get(mount["name"], mount["name"])
    return spec


def _notebook_role(settings: WorkloadSettings, profile: HubProfile) -> PodRole:
    """The single-user server: what KubeSpawner's own container runs."""
    packages = (f"jupyterhub=={JUPYTERHUB_VERSION}", *((SERVER_PROXY,) if profile.session == "rstudio" else ()))
    installer = pip_installer(settings, packages)
    # The Dask notebook image has a jupyterhub of its own: this one replaces it.
    installer = dataclasses.replace(
        installer, image=_notebook_image(settings), env=(*installer.env, ("KUBEPAR_REPLACE", "jupyterhub"))
    )
    env: tuple[tuple[str, str], ...] = ()
    if profile.session == "jupyterlab" and profile.workers:
        env = (("DASK_SCHEDULER_ADDRESS", f"tcp://{_endpoint(settings)}:{dask_engine.DASK_SCHEDULER_PORT}"),)
    if profile.session == "rstudio":
        env = (("JUPYTER_CONFIG_PATH", SCRIPTS_DIR),)
    # An RStudio session's server only forwards to RStudio, which gets the profile's size.
    cpu, memory = RSTUDIO_FRONT if profile.session == "rstudio" else (profile.cpu, profile.memory)
    return PodRole(
        component=SESSION,
        image=_notebook_image(settings),
        env=env,
        cpu=cpu,
        memory=memory,
        blas_threads=whole_cpus(cpu),
        installer=installer,
        security=Security(run_as_user=JOVYAN_UID, fs_group=USERS_GID, read_only_root=False),
        storage=Storage(claim=Claim(name="home", path=JOVYAN_HOME)),
        disruption=Disruption(safe_to_evict=False),
        exposure=Exposure(internet="all"),
    )


def _notebook_image(settings: WorkloadSettings) -> str:
    return f"ghcr.io/dask/dask-notebook:{image_tag(settings)}"


def _rstudio_role(settings: WorkloadSettings, profile: HubProfile, idle_minutes: int) -> PodRole:
    """rserver beside the single-user server, on the pod's loopback only, its sessions as rstudio."""
    sized = _sized(settings, profile)
    base = r_engine.session_role(sized)
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
        storage=Storage(claim=Claim(name="home", path=RSTUDIO_HOME)),
        installer=r_installer(sized, sized.packages),
        exposure=Exposure(),
    )


def _sized(settings: WorkloadSettings, profile: HubProfile) -> WorkloadSettings:
    return dataclasses.replace(
        settings,
        namespace=users_namespace(settings),
        workers=profile.workers,
        worker_cpu=profile.worker_cpu,
        worker_memory=profile.worker_memory,
        scheduler_cpu=profile.cpu,
        scheduler_memory=profile.memory,
    )


def _endpoint(settings: WorkloadSettings) -> str:
    """The DNS name of the user's endpoint Service: their R session, or their Dask scheduler."""
    return f"{POD}-{SUFFIXES['endpoint']}.{users_namespace(settings)}.svc.cluster.local"


def _object_meta(name: str, component: str, settings: WorkloadSettings) -> dict[str, Any]:
    return {"name": name, "labels": {**labels(settings.stack, component), USER_LABEL: USER}}


def _deployment(name: str, role: PodRole, settings: WorkloadSettings) -> dict[str, Any]:
    spec = _spec(role, settings.node_pools)
    meta = _object_meta(name, role.component, settings)
    selector = {
        "app.kubernetes.io/instance": settings.stack,
        "app.kubernetes.io/component": role.component,
        USER_LABEL: USER,
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": role.replicas,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": meta["labels"], "annotations": pods.pod_annotations(role)},
                "spec": spec,
            },
        },
    }


def _service(settings: WorkloadSettings, component: str, port: int) -> dict[str, Any]:
    name = f"{POD}-{SUFFIXES['endpoint']}"
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _object_meta(name, component, settings),
        "spec": {
            "type": "ClusterIP",
            "selector": {
                "app.kubernetes.io/instance": settings.stack,
                "app.kubernetes.io/component": component,
                USER_LABEL: USER,
            },
            "ports": [{"name": "endpoint", "port": port, "targetPort": port, "protocol": "TCP"}],
        },
    }


def _own_policy(settings: WorkloadSettings) -> dict[str, Any]:
    """The user's pods reach each other, and no other user's: the namespace denies everything else."""
    own = {"matchLabels": {"app.kubernetes.io/instance": settings.stack, USER_LABEL: USER}}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _object_meta(f"{POD}-{SUFFIXES['policy']}", SESSION, settings),
        "spec": {
            "podSelector": own,
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [{"podSelector": own}]}],
            "egress": [{"to": [{"podSelector": own}]}],
        },
    }


def worker_objects(settings: WorkloadSettings, profile: HubProfile) -> list[dict[str, Any]]:
    """What the hook creates for one session of ``profile``, owned by the session pod."""
    sized = _sized(settings, profile)
    objects = [_own_policy(settings)]
    if not profile.workers:
        return objects
    if profile.session == "rstudio":
        worker = r_engine.worker_role(sized)
        worker = dataclasses.replace(
            worker,
            env=tuple(
                (name, _endpoint(settings) if name == "KUBEPAR_SCHEDULER_HOST" else value) for name, value in worker.env
            ),
        )
        objects += [
            _deployment(f"{POD}-{SUFFIXES['workers']}", worker, sized),
            _service(settings, SESSION, settings.worker_port),
        ]
        return objects
    # The hub's packages are R packages (RStudio and R workers): Dask's pods install none of them.
    built = {role.component: role for role in dask_engine.build(dataclasses.replace(sized, packages=())).roles}
    old, new = endpoint_host(sized), _endpoint(settings)
    scheduler = _retarget(built["scheduler"], old, new)
    scheduler = dataclasses.replace(
        scheduler, component="dask-scheduler", exposure=Exposure(ports=scheduler.exposure.ports)
    )
    worker = _retarget(built["worker"], old, new)
    objects += [
        _deployment(f"{POD}-{SUFFIXES['scheduler']}", scheduler, sized),
        _deployment(f"{POD}-{SUFFIXES['workers']}", worker, sized),
        _service(settings, "dask-scheduler", dask_engine.DASK_SCHEDULER_PORT),
    ]
    return objects


def _retarget(role: PodRole, old: str, new: str) -> PodRole:
    return dataclasses.replace(
        role,
        env=tuple((name, value.replace(old, new)) for name, value in role.env),
        command=tuple(part.replace(old, new) for part in role.command),
    )


def session_pieces(settings: WorkloadSettings, profile: HubProfile, idle_minutes: int) -> dict[str, Any]:
    """KubeSpawner's settings for one profile's session pod (its ``kubespawner_override``)."""
    notebook = _notebook_role(settings, profile)
    spec = _spec(notebook, settings.node_pools)
    container = spec["containers"][0]
    extra_containers: list[dict[str, Any]] = []
    init_containers = list(spec.get("initContainers", []))
    volumes = list(spec["volumes"])
    if profile.session == "rstudio":
        names = {"kubepar-packages": "kubepar-r-packages", "tmp": "r-tmp", "install-packages": "install-r-packages"}
        rstudio = _renamed(_spec(_rstudio_role(settings, profile, idle_minutes), settings.node_pools), names)
        extra_containers = rstudio["containers"]
        init_containers += rstudio.get("initContainers", [])
        volumes += [volume for volume in rstudio["volumes"] if volume["name"] not in {v["name"] for v in volumes}]
    cpu = cpu_millis(notebook.cpu) / 1000
    memory = memory_bytes(notebook.memory)
    return {
        "image": notebook.image,
        "cpu_limit": cpu,
        "cpu_guarantee": cpu,
        "mem_limit": memory,
        "mem_guarantee": memory,
        "environment": {item["name"]: item["value"] for item in container["env"] if "value" in item},
        "container_security_context": container["securityContext"],
        "pod_security_context": spec["securityContext"],
        "volume_mounts": container["volumeMounts"],
        "volumes": volumes,
        "init_containers": init_containers,
        "extra_containers": extra_containers,
        "node_selector": spec.get("nodeSelector", {}),
        "tolerations": spec.get("tolerations", []),
    }


def profile(settings: WorkloadSettings, item: HubProfile) -> dict[str, Any]:
    hub = settings.hub
    assert hub is not None
    kind = "RStudio and R workers" if item.session == "rstudio" else "JupyterLab and Dask workers"
    workers = f"{item.workers} workers of {item.worker_cpu} CPU, {item.worker_memory}" if item.workers else "no workers"
    return {
        "slug": item.name,
        "display_name": item.name,
        "description": f"{kind}: a session of {item.cpu} CPU, {item.memory}; {workers}",
        "session": item.session,
        "groups": list(item.groups),
        "workers": item.workers,
        "override": session_pieces(settings, item, hub.idle_minutes),
        "objects": worker_objects(settings, item),
        "defaultUrl": "/rstudio/" if item.session == "rstudio" else "/lab",
    }


def hub_worker_roles(settings: WorkloadSettings) -> tuple[PodRole, ...]:
    """The users' non-session roles, one of each kind the profiles use (for their egress policies)."""
    hub = settings.hub
    assert hub is not None
    kinds = {profile.session for profile in hub.profiles if profile.workers}
    roles: list[PodRole] = []
    if "rstudio" in kinds:
        roles.append(r_engine.worker_role(settings))
    if "jupyterlab" in kinds:
        built = {role.component: role for role in dask_engine.build(dataclasses.replace(settings, packages=())).roles}
        roles += [dataclasses.replace(built["scheduler"], component="dask-scheduler"), built["worker"]]
    unique = {role.component: role for role in roles}
    return tuple(unique.values())


def hub_settings(settings: WorkloadSettings) -> dict[str, object]:
    """What ``jupyterhub_config.py`` reads: everything the hub does, as data."""
    hub = settings.hub
    assert hub is not None, "engine hub has hub settings"
    return {
        "stack": settings.stack,
        "namespace": users_namespace(settings),
        "hubUrl": hub_url(settings),
        "proxyApiUrl": f"http://{PROXY_SERVICE}.{settings.namespace}.svc.cluster.local:{PROXY_API_PORT}",
        "authenticator": hub.authenticator,
        "admins": list(hub.admins),
        "users": list(hub.users),
        "groups": {name: list(members) for name, members in hub.groups},
        # Through the port-forward (http://localhost:8000), which OAuth providers accept for loopback.
        "oauthCallbackUrl": f"https://{settings.door.domain}/hub/oauth_callback"
        if settings.door is not None
        else f"http://localhost:{PROXY_PORT}/hub/oauth_callback",
        "oidcIssuer": hub.oidc_issuer,
        "idleSeconds": hub.idle_minutes * 60,
        "maxSessions": hub.max_sessions,
        "homeSize": settings.home_size,
        "profiles": [profile(settings, item) for item in hub.profiles],
    }
