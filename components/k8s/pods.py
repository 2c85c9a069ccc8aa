"""Pod specs from engine roles, as plain functions.

Owns: requests equal to limits, BLAS thread variables, security contexts
(restricted for every role but the documented root-init exception), the
package init container, volumes and mounts, and node-pool placement.
Invariant: every pod's extra packages come from its role's installer, in an
init container of the same image and snapshot as its role's engine.
"""

from __future__ import annotations

from typing import Any

import pulumi

from components.engines.model import (
    IMAGE_TAG_SKIP,
    NON_ROOT_UID,
    PACKAGES_DIR,
    QUEUE_AUTH_DIR,
    RESULTS_DIR,
    SCRIPTS_DIR,
    SETTINGS_DIR,
    SYSTEM_DIR,
    Installer,
    PodRole,
    PythonEnv,
    container_disks,
    scratch_volumes,
)
from components.ground.pools import POOL_LABEL, WORKER_POOL, WORKER_TAINT_KEY, WORKER_TAINT_VALUE
from components.ground.rocker import ROCKER_INIT_CAPABILITIES

SCRIPTS_VOLUME = "kubepar-scripts"
SYSTEM_VOLUME = "kubepar-system"
QUEUE_AUTH_VOLUME = "kubepar-queue-auth"
SETTINGS_VOLUME = "kubepar-settings"
PACKAGES_VOLUME = "kubepar-packages"
PYTHON_VOLUME = "kubepar-python"
TMP_VOLUME = "tmp"
HOME_VOLUME = "home"
TMP_DIR = "/tmp"
SAFE_TO_EVICT = "cluster-autoscaler.kubernetes.io/safe-to-evict"
LIVENESS_ANNOTATION = "kubepar.dev/liveness"
DISRUPTION_ANNOTATION = "kubepar.dev/disruption"
# Each emptyDir volume by what it holds (model.scratch_volumes).
SCRATCH_VOLUMES = {"tmp": TMP_VOLUME, "packages": PACKAGES_VOLUME, "system": SYSTEM_VOLUME, "python": PYTHON_VOLUME}


def resources(cpu: str, memory: str, disk: int) -> dict[str, Any]:
    """Requests equal to limits: Guaranteed QoS, R or Python see their real CPU quota, and the pods on a
    node never ask more of its disk than it has (one over its limit is evicted alone)."""
    amount = {"cpu": cpu, "memory": memory, "ephemeral-storage": f"{disk // 1024**2}Mi"}
    return {"requests": dict(amount), "limits": dict(amount)}


def thread_env(threads: str) -> list[dict[str, Any]]:
    return [{"name": name, "value": threads} for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")]


def restricted_security(user: int, group: int, read_only_root: bool) -> dict[str, Any]:
    """What Pod Security 'restricted' asks of a container."""
    return {
        "run_as_non_root": True,
        "run_as_user": user,
        "run_as_group": group,
        "allow_privilege_escalation": False,
        "read_only_root_filesystem": read_only_root,
        "capabilities": {"drop": ["ALL"]},
        "seccomp_profile": {"type": "RuntimeDefault"},
    }


def container_security(role: PodRole) -> dict[str, Any]:
    if role.security.root_init:
        return {
            # Documented exception: the image's init needs root, then runs
            # each user session as an unprivileged user.
            "run_as_user": 0,
            "run_as_non_root": False,
            "allow_privilege_escalation": False,
            "capabilities": {"drop": ["ALL"], "add": list(ROCKER_INIT_CAPABILITIES)},
            "seccomp_profile": {"type": "RuntimeDefault"},
        }
    security = role.security
    group = security.fs_group if security.fs_group is not None else security.run_as_user
    return restricted_security(security.run_as_user, group, security.read_only_root)


def _system_library_env() -> list[dict[str, Any]]:
    # Where dpkg-deb unpacked the system libraries (amd64 and arm64 layouts).
    paths = ":".join(f"{SYSTEM_DIR}/usr/lib/{arch}-linux-gnu" for arch in ("x86_64", "aarch64"))
    return [
        {"name": "LD_LIBRARY_PATH", "value": paths},
        # kubepar.R loads them from here in every R process: rserver does not
        # hand LD_LIBRARY_PATH on to the RStudio sessions it starts.
        {"name": "KUBEPAR_SYSTEM_LIBRARY_PATH", "value": paths},
    ]


def _init_container(
    name: str,
    command: list[str],
    env: list[dict[str, Any]],
    mounts: list[dict[str, Any]],
    installer: Installer,
    role: PodRole,
    image: str | None = None,
) -> dict[str, Any]:
    """An init container of the role's installer image (or ``image``): the pod's size, non-root, read-only root."""
    fs_group = role.security.fs_group
    return {
        "name": name,
        "image": image or installer.image,
        "image_pull_policy": "Always",
        "command": command,
        "env": [
            *env,
            {"name": "HOME", "value": TMP_DIR},
            # The pod's CPU limit, rounded up: what parallel builds may use
            # (parallel::detectCores() would count the node's CPUs).
            {
                "name": "KUBEPAR_INSTALL_CPUS",
                "value_from": {"resource_field_ref": {"container_name": name, "resource": "limits.cpu"}},
            },
        ],
        "resources": resources(role.cpu, role.memory, container_disks(role)[name]),
        # Non-root even beside a root-init main container: installing needs no root.
        "security_context": restricted_security(
            NON_ROOT_UID, fs_group if fs_group is not None else NON_ROOT_UID, read_only_root=True
        ),
        "volume_mounts": [
            {"name": SCRIPTS_VOLUME, "mount_path": SCRIPTS_DIR, "read_only": True},
            {"name": TMP_VOLUME, "mount_path": TMP_DIR},
            *mounts,
        ],
    }


def _libraries_container(installer: Installer, role: PodRole) -> dict[str, Any]:
    """The first init container: the system libraries the R packages link, fetched without root."""
    return _init_container(
        "install-libraries",
        ["sh", f"{SCRIPTS_DIR}/install-libraries.sh"],
        [
            {"name": "KUBEPAR_SYSTEM_LIBRARIES", "value": " ".join(installer.system_libraries)},
            {"name": "KUBEPAR_SYSTEM_LIBRARY", "value": SYSTEM_DIR},
            {"name": "TMPDIR", "value": TMP_DIR},
        ],
        [{"name": SYSTEM_VOLUME, "mount_path": SYSTEM_DIR}],
        installer,
        role,
    )


def _installer_container(installer: Installer, role: PodRole) -> dict[str, Any]:
    system = bool(installer.system_libraries)
    return _init_container(
        "install-packages",
        list(installer.command),
        [
            *({"name": name, "value": value} for name, value in installer.env),
            *thread_env("1"),
            # The installer loads each package it installed: linked libraries must resolve.
            *(_system_library_env() if system else []),
        ],
        [
            {"name": PACKAGES_VOLUME, "mount_path": PACKAGES_DIR},
            *([{"name": SYSTEM_VOLUME, "mount_path": SYSTEM_DIR, "read_only": True}] if system else []),
        ],
        installer,
        role,
    )


def _python_container(python: PythonEnv, installer: Installer, role: PodRole) -> dict[str, Any]:
    """The last init container: the official Python image's interpreter and a virtualenv, into a volume."""
    return _init_container(
        "install-python",
        ["sh", f"{SCRIPTS_DIR}/install-python-env.sh"],
        [
            {"name": "KUBEPAR_PYTHON_DIR", "value": python.path},
            {"name": "KUBEPAR_PYTHON_ENV", "value": python.name},
            {"name": "KUBEPAR_PYTHON_REQUIREMENTS", "value": " ".join(python.requirements)},
            {"name": "TMPDIR", "value": TMP_DIR},
        ],
        [{"name": PYTHON_VOLUME, "mount_path": python.path}],
        installer,
        role,
        image=python.image,
    )


def _probes(role: PodRole) -> dict[str, Any]:
    if role.probe is None:
        return {}
    check: dict[str, Any] = (
        {"http_get": {"path": role.probe.path, "port": role.probe.port}}
        if role.probe.path
        else {"tcp_socket": {"port": role.probe.port}}
    )
    probes = {
        # A slow first start (packages loading, a JVM) has five minutes before anything counts.
        "startup_probe": {**check, "period_seconds": 5, "failure_threshold": 60},
        "readiness_probe": {**check, "period_seconds": 10, "timeout_seconds": 2, "failure_threshold": 3},
    }
    if role.probe.liveness:
        # Not the readiness check: a restart only after five minutes of failed checks, each given
        # ten seconds, which a busy but healthy process answers.
        probes["liveness_probe"] = {**check, "period_seconds": 30, "timeout_seconds": 10, "failure_threshold": 10}
    return probes


def liveness_reason(role: PodRole) -> str:
    """Why the role has a liveness check, or none."""
    return role.probe.why if role.probe is not None else role.unprobed


def checkov_annotations(role: PodRole) -> dict[str, str]:
    """checkov's per-object skips for the role's Deployment, each with its reason (no global skips)."""
    probe_skips: tuple[tuple[str, str], ...] = ()
    if role.probe is None:
        probe_skips = (("CKV_K8S_8", role.unprobed), ("CKV_K8S_9", role.unprobed))
    elif not role.probe.liveness:
        probe_skips = (("CKV_K8S_8", role.probe.why),)
    skips = (IMAGE_TAG_SKIP, *probe_skips, *role.checkov_skips)
    return {f"checkov.io/skip{index}": f"{check}={reason}" for index, (check, reason) in enumerate(skips, start=1)}


def pod_annotations(role: PodRole) -> dict[str, str]:
    """Annotations of the pod template."""
    annotations = {
        # Both ways: the autoscaler would otherwise keep a node for any pod with an emptyDir volume.
        SAFE_TO_EVICT: "true" if role.disruption.safe_to_evict else "false",
        # Each role's decisions, where `kubectl describe pod` shows them.
        LIVENESS_ANNOTATION: liveness_reason(role),
        DISRUPTION_ANNOTATION: role.disruption.why,
    }
    if role.security.api_access:
        # The policy pack admits a token only where the pod says it calls the API (the hub).
        annotations["kubepar.dev/api-token"] = "true"
    return annotations


def pod_spec(
    role: PodRole,
    *,
    service_account: pulumi.Input[str],
    scripts_config_map: pulumi.Input[str],
    settings_config_map: pulumi.Input[str],
    password_secret: pulumi.Input[str] | None,
    claim: pulumi.Input[str] | None,
    on_pools: bool,
    results_volume: dict[str, Any] | None = None,
    results_read_only: bool = True,
    queue_secret: pulumi.Input[str] | None = None,
    engine_secret: pulumi.Input[str] | None = None,
) -> dict[str, Any]:
    """The pod spec of ``role`` (snake_case keys, as the Pulumi SDK takes them).

    ``results_volume`` (from results.py) is mounted at RESULTS_DIR: read-only
    in the user's session, read-write in a sweep's task pods.
    """
    env: list[dict[str, Any]] = [{"name": name, "value": value} for name, value in role.env]
    env += [{"name": name, "value_from": {"field_ref": {"field_path": path}}} for name, path in role.field_env]
    if role.password_env and password_secret is not None:
        env.append(
            {"name": role.password_env, "value_from": {"secret_key_ref": {"name": password_secret, "key": "password"}}}
        )
    if role.secret_env and engine_secret is None:
        raise ValueError(f"role {role.component} needs the engine's Secret")
    env += [
        {"name": name, "value_from": {"secret_key_ref": {"name": engine_secret, "key": key}}}
        for name, key in role.secret_env
    ]
    if role.storage.claim is None:
        env += [{"name": "HOME", "value": TMP_DIR}, {"name": "TMPDIR", "value": TMP_DIR}]
    env += thread_env(role.blas_threads)
    if role.pool == WORKER_POOL:
        # Nested parallel code sees this pod's CPU limit, not the node's
        # (parallelly::availableCores() and Python's os.cpu_count users).
        env.append(
            {
                "name": "MC_CORES",
                "value_from": {"resource_field_ref": {"container_name": role.component, "resource": "limits.cpu"}},
            }
        )
    installer = role.installer
    if installer is not None:
        env.append({"name": installer.path_env[0], "value": installer.path_env[1]})
        if installer.system_libraries:
            env += _system_library_env()

    mounts: list[dict[str, Any]] = [{"name": SCRIPTS_VOLUME, "mount_path": SCRIPTS_DIR, "read_only": True}]
    volumes: list[dict[str, Any]] = [
        {"name": SCRIPTS_VOLUME, "config_map": {"name": scripts_config_map, "default_mode": 0o555}},
    ]
    if not role.security.root_init:
        mounts.append({"name": TMP_VOLUME, "mount_path": TMP_DIR})
    # Scratch space for read-only roots and for the package installer; the installed libraries.
    volumes += [
        {"name": SCRATCH_VOLUMES[purpose], "empty_dir": {"size_limit": size}}
        for purpose, size in scratch_volumes(role).items()
    ]
    if role.storage.live_settings:
        # Whole-directory mount (no subPath): the kubelet refreshes it when the worker count changes.
        mounts.append({"name": SETTINGS_VOLUME, "mount_path": SETTINGS_DIR, "read_only": True})
        volumes.append({"name": SETTINGS_VOLUME, "config_map": {"name": settings_config_map}})
    if role.storage.claim is not None:
        if claim is None:
            raise ValueError(f"role {role.component} needs its {role.storage.claim.name} claim")
        mounts.append({"name": HOME_VOLUME, "mount_path": role.storage.claim.path})
        volumes.append({"name": HOME_VOLUME, "persistent_volume_claim": {"claim_name": claim}})
    if results_volume is not None:
        mounts.append({"name": results_volume["name"], "mount_path": RESULTS_DIR, "read_only": results_read_only})
        volumes.append(results_volume)
        env.append({"name": "KUBEPAR_RESULTS_ROOT", "value": RESULTS_DIR})
    if role.storage.queue_auth:
        if queue_secret is None:
            raise ValueError(f"role {role.component} needs the queue's Secret")
        mounts.append({"name": QUEUE_AUTH_VOLUME, "mount_path": QUEUE_AUTH_DIR, "read_only": True})
        # Files, not environment variables: no password in `kubectl describe` or a child's env.
        volumes.append({"name": QUEUE_AUTH_VOLUME, "secret": {"secret_name": queue_secret, "default_mode": 0o444}})
    if installer is not None:
        mounts.append({"name": PACKAGES_VOLUME, "mount_path": PACKAGES_DIR, "read_only": True})
        if installer.system_libraries:
            mounts.append({"name": SYSTEM_VOLUME, "mount_path": SYSTEM_DIR, "read_only": True})
        if installer.python is not None:
            mounts.append({"name": PYTHON_VOLUME, "mount_path": installer.python.path, "read_only": True})

    container: dict[str, Any] = {
        "name": role.component,
        "image": role.image,
        # Tags get OS rebuilds: each new pod checks the tag (layers stay cached).
        "image_pull_policy": "Always",
        "env": env,
        "resources": resources(role.cpu, role.memory, container_disks(role)["main"]),
        "security_context": container_security(role),
        "volume_mounts": mounts,
        **_probes(role),
    }
    if role.command:
        container["command"] = list(role.command)
    if role.pre_stop:
        container["lifecycle"] = {"pre_stop": {"exec": {"command": list(role.pre_stop)}}}
    if role.exposure.ports:
        container["ports"] = [{"name": name, "container_port": port} for name, port in role.exposure.ports]

    pod_security: dict[str, Any] = {"seccomp_profile": {"type": "RuntimeDefault"}}
    if role.security.fs_group is not None:
        pod_security.update({"fs_group": role.security.fs_group, "fs_group_change_policy": "OnRootMismatch"})
    spec: dict[str, Any] = {
        "service_account_name": service_account,
        # Only the hub calls the Kubernetes API; every other pod has no token.
        "automount_service_account_token": role.security.api_access,
        # No KUBEPAR_SCHEDULER_PORT=tcp://... and friends from every Service in
        # the namespace: pods get exactly the variables the engine declares.
        "enable_service_links": False,
        "security_context": pod_security,
        "termination_grace_period_seconds": role.disruption.grace_seconds,
        "containers": [container],
        "volumes": volumes,
    }
    if installer is not None:
        libraries = [_libraries_container(installer, role)] if installer.system_libraries else []
        python = [_python_container(installer.python, installer, role)] if installer.python is not None else []
        spec["init_containers"] = [*libraries, _installer_container(installer, role), *python]
    if on_pools:
        spec["node_selector"] = {POOL_LABEL: role.pool}
        if role.pool == WORKER_POOL:
            spec["tolerations"] = [
                {"key": WORKER_TAINT_KEY, "operator": "Equal", "value": WORKER_TAINT_VALUE, "effect": "NoSchedule"}
            ]
    return spec
