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

import re
from typing import Any

from components.engines import dask as dask_engine
from components.engines.hub import PROXY_API_PORT, PROXY_PORT, PROXY_SERVICE, hub_url
from components.engines.hub_users import (
    POD,
    SESSION,
    SUFFIXES,
    USER,
    USER_ACCOUNT,
    USER_LABEL,
    USER_SCRIPTS,
    session_roles,
    sized,
    users_namespace,
    worker_roles,
)
from components.engines.model import PodRole
from components.ground.quantities import cpu_millis, memory_bytes
from components.ground.settings import HubProfile, WorkloadSettings
from components.k8s import pods
from components.k8s.labels import labels


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
    grown = sized(settings, profile)
    objects = [_own_policy(settings)]
    roles = {role.component: role for role in worker_roles(settings, profile)}
    if "worker" in roles and profile.session == "rstudio":
        objects += [
            _deployment(f"{POD}-{SUFFIXES['workers']}", roles["worker"], grown),
            _service(settings, SESSION, settings.worker_port),
        ]
    elif roles:
        objects += [
            _deployment(f"{POD}-{SUFFIXES['scheduler']}", roles["dask-scheduler"], grown),
            _deployment(f"{POD}-{SUFFIXES['workers']}", roles["worker"], grown),
            _service(settings, "dask-scheduler", dask_engine.DASK_SCHEDULER_PORT),
        ]
    return objects


def session_pieces(settings: WorkloadSettings, profile: HubProfile, idle_minutes: int) -> dict[str, Any]:
    """KubeSpawner's settings for one profile's session pod (its ``kubespawner_override``)."""
    notebook, *beside = session_roles(settings, profile, idle_minutes)
    spec = _spec(notebook, settings.node_pools)
    container = spec["containers"][0]
    extra_containers: list[dict[str, Any]] = []
    init_containers = list(spec.get("initContainers", []))
    volumes = list(spec["volumes"])
    for role in beside:
        names = {"kubepar-packages": "kubepar-r-packages", "tmp": "r-tmp", "install-packages": "install-r-packages"}
        rstudio = _renamed(_spec(role, settings.node_pools), names)
        extra_containers += rstudio["containers"]
        init_containers += rstudio.get("initContainers", [])
        volumes += [volume for volume in rstudio["volumes"] if volume["name"] not in {v["name"] for v in volumes}]
    cpu = cpu_millis(notebook.cpu) / 1000
    memory = memory_bytes(notebook.memory)
    disk = container["resources"]["limits"]["ephemeral-storage"]
    return {
        "image": notebook.image,
        "cpu_limit": cpu,
        "cpu_guarantee": cpu,
        "mem_limit": memory,
        "mem_guarantee": memory,
        # KubeSpawner sets CPU and memory itself; the node disk comes through its extra resources.
        "extra_resource_guarantees": {"ephemeral-storage": disk},
        "extra_resource_limits": {"ephemeral-storage": disk},
        "extra_annotations": pods.pod_annotations(notebook),
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
    unique = {role.component: role for profile in hub.profiles for role in worker_roles(settings, profile)}
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
