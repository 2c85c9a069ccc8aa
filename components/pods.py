"""Pod specs from engine roles, as plain functions.

Owns: requests equal to limits, BLAS thread variables, security contexts
(restricted for every role but the documented root-init exception), the
package init container, volumes and mounts, and node-pool placement.
Invariant: every role of an engine installs packages with the same image,
script and list, so every pod sees identical package versions.
"""

from __future__ import annotations

from typing import Any

import pulumi

from components.engines import (
    IMAGE_TAG_SKIP,
    NON_ROOT_UID,
    PACKAGES_DIR,
    RESULTS_DIR,
    ROCKER_INIT_CAPABILITIES,
    SCRIPTS_DIR,
    SETTINGS_DIR,
    Engine,
    PodRole,
)
from components.labels import POOL_LABEL, WORKER_TAINT_KEY

SCRIPTS_VOLUME = "kubepar-scripts"
SETTINGS_VOLUME = "kubepar-settings"
PACKAGES_VOLUME = "kubepar-packages"
TMP_VOLUME = "tmp"
HOME_VOLUME = "home"
TMP_DIR = "/tmp"


def resources(cpu: str, memory: str) -> dict[str, Any]:
    """Requests equal to limits: Guaranteed QoS, and R or Python see their real CPU quota."""
    amount = {"cpu": cpu, "memory": memory}
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
    if role.root_init:
        return {
            # Documented exception: the image's init needs root, then runs
            # each user session as an unprivileged user.
            "run_as_user": 0,
            "run_as_non_root": False,
            "allow_privilege_escalation": False,
            "capabilities": {"drop": ["ALL"], "add": list(ROCKER_INIT_CAPABILITIES)},
            "seccomp_profile": {"type": "RuntimeDefault"},
        }
    group = role.fs_group if role.fs_group is not None else role.run_as_user
    return restricted_security(role.run_as_user, group, role.read_only_root)


def _installer_container(engine: Engine, role: PodRole) -> dict[str, Any]:
    assert engine.installer is not None
    installer = engine.installer
    return {
        "name": "install-packages",
        "image": installer.image,
        "image_pull_policy": "Always",
        "command": list(installer.command),
        "env": [
            *({"name": name, "value": value} for name, value in installer.env),
            {"name": "HOME", "value": TMP_DIR},
            *thread_env("1"),
        ],
        "resources": resources(role.cpu, role.memory),
        # Non-root even beside a root-init main container: installing packages needs no root.
        "security_context": restricted_security(
            NON_ROOT_UID, role.fs_group if role.fs_group is not None else NON_ROOT_UID, read_only_root=True
        ),
        "volume_mounts": [
            {"name": SCRIPTS_VOLUME, "mount_path": SCRIPTS_DIR, "read_only": True},
            {"name": PACKAGES_VOLUME, "mount_path": PACKAGES_DIR},
            {"name": TMP_VOLUME, "mount_path": TMP_DIR},
        ],
    }


def _probes(role: PodRole) -> dict[str, Any]:
    if role.probe is None:
        return {}
    check: dict[str, Any] = (
        {"http_get": {"path": role.probe.path, "port": role.probe.port}}
        if role.probe.path
        else {"tcp_socket": {"port": role.probe.port}}
    )
    probes = {
        "startup_probe": {**check, "period_seconds": 5, "failure_threshold": 60},
        "readiness_probe": {**check, "period_seconds": 10},
    }
    if role.probe.liveness:
        probes["liveness_probe"] = {**check, "period_seconds": 20, "failure_threshold": 3}
    return probes


def checkov_annotations(role: PodRole) -> dict[str, str]:
    """checkov's per-object skips for the role's Deployment, each with its reason (no global skips)."""
    skips = (IMAGE_TAG_SKIP, *role.checkov_skips)
    return {f"checkov.io/skip{index}": f"{check}={reason}" for index, (check, reason) in enumerate(skips, start=1)}


def pod_annotations(role: PodRole) -> dict[str, str]:
    """Annotations of the pod template."""
    if role.safe_to_evict:
        return {}
    # The cluster autoscaler would otherwise move these pods to empty a node.
    return {"cluster-autoscaler.kubernetes.io/safe-to-evict": "false"}


def pod_spec(
    engine: Engine,
    role: PodRole,
    *,
    service_account: pulumi.Input[str],
    scripts_config_map: pulumi.Input[str],
    settings_config_map: pulumi.Input[str],
    password_secret: pulumi.Input[str] | None,
    home_claim: pulumi.Input[str] | None,
    on_gke: bool,
    results_volume: dict[str, Any] | None = None,
    results_read_only: bool = True,
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
    if role.home is None:
        env += [{"name": "HOME", "value": TMP_DIR}, {"name": "TMPDIR", "value": TMP_DIR}]
    env += thread_env(role.blas_threads)
    if role.pool == "workers":
        # Nested parallel code sees this pod's CPU limit, not the node's
        # (parallelly::availableCores() and Python's os.cpu_count users).
        env.append(
            {
                "name": "MC_CORES",
                "value_from": {"resource_field_ref": {"container_name": role.component, "resource": "limits.cpu"}},
            }
        )
    if engine.installer is not None:
        env.append({"name": engine.installer.path_env[0], "value": engine.installer.path_env[1]})

    mounts: list[dict[str, Any]] = [{"name": SCRIPTS_VOLUME, "mount_path": SCRIPTS_DIR, "read_only": True}]
    volumes: list[dict[str, Any]] = [
        {"name": SCRIPTS_VOLUME, "config_map": {"name": scripts_config_map, "default_mode": 0o555}},
    ]
    if not role.root_init:
        mounts.append({"name": TMP_VOLUME, "mount_path": TMP_DIR})
    if not role.root_init or engine.installer is not None:
        # Scratch space for read-only roots and for the package installer.
        volumes.append({"name": TMP_VOLUME, "empty_dir": {"size_limit": role.tmp_size}})
    if role.mount_settings:
        # Whole-directory mount (no subPath): the kubelet refreshes it when the worker count changes.
        mounts.append({"name": SETTINGS_VOLUME, "mount_path": SETTINGS_DIR, "read_only": True})
        volumes.append({"name": SETTINGS_VOLUME, "config_map": {"name": settings_config_map}})
    if role.home is not None and home_claim is not None:
        mounts.append({"name": HOME_VOLUME, "mount_path": role.home})
        volumes.append({"name": HOME_VOLUME, "persistent_volume_claim": {"claim_name": home_claim}})
    if results_volume is not None:
        mounts.append({"name": results_volume["name"], "mount_path": RESULTS_DIR, "read_only": results_read_only})
        volumes.append(results_volume)
        env.append({"name": "KUBEPAR_RESULTS_ROOT", "value": RESULTS_DIR})
    if engine.installer is not None:
        mounts.append({"name": PACKAGES_VOLUME, "mount_path": PACKAGES_DIR, "read_only": True})
        volumes.append({"name": PACKAGES_VOLUME, "empty_dir": {"size_limit": "4Gi"}})

    container: dict[str, Any] = {
        "name": role.component,
        "image": role.image,
        # Tags get OS rebuilds: each new pod checks the tag (layers stay cached).
        "image_pull_policy": "Always",
        "env": env,
        "resources": resources(role.cpu, role.memory),
        "security_context": container_security(role),
        "volume_mounts": mounts,
        **_probes(role),
    }
    if role.command:
        container["command"] = list(role.command)
    if role.pre_stop:
        container["lifecycle"] = {"pre_stop": {"exec": {"command": list(role.pre_stop)}}}
    if role.ports:
        container["ports"] = [{"name": name, "container_port": port} for name, port in role.ports]

    pod_security: dict[str, Any] = {"seccomp_profile": {"type": "RuntimeDefault"}}
    if role.fs_group is not None:
        pod_security.update({"fs_group": role.fs_group, "fs_group_change_policy": "OnRootMismatch"})
    spec: dict[str, Any] = {
        "service_account_name": service_account,
        "automount_service_account_token": False,
        # No KUBEPAR_SCHEDULER_PORT=tcp://... and friends from every Service in
        # the namespace: pods get exactly the variables the engine declares.
        "enable_service_links": False,
        "security_context": pod_security,
        "termination_grace_period_seconds": role.grace_seconds,
        "containers": [container],
        "volumes": volumes,
    }
    if engine.installer is not None:
        spec["init_containers"] = [_installer_container(engine, role)]
    if on_gke:
        spec["node_selector"] = {POOL_LABEL: role.pool}
        if role.pool == "workers":
            spec["tolerations"] = [
                {"key": WORKER_TAINT_KEY, "operator": "Equal", "value": "true", "effect": "NoSchedule"}
            ]
    return spec
