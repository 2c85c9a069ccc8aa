"""Pieces shared by the R pods (scheduler and workers), as plain functions.

Owns: mount paths, the package init container, the environment every R
process gets, and the restricted security context of non-root containers.
Invariant: scheduler and workers install packages with the same image, the
same script and the same list, so their library versions are identical.
"""

from __future__ import annotations

from typing import Any

import pulumi

from components import quantities
from components.config import WorkloadSettings
from components.labels import POOL_LABEL

SCRIPTS_DIR = "/etc/kubepar/scripts"
SETTINGS_DIR = "/etc/kubepar/settings"
LIBRARY_DIR = "/opt/kubepar/library"
TMP_DIR = "/tmp"
# Non-root containers run as a high UID that no image or host account uses.
NON_ROOT_UID = 10001
# The rstudio user of rocker/rstudio: owner of the home volume.
RSTUDIO_GID = 1000
# rocker's default library path, kept behind ours (R_LIBS replaces, not appends).
ROCKER_LIBS = "/usr/local/lib/R/site-library:/usr/local/lib/R/library"

SCRIPTS_VOLUME = "kubepar-scripts"
SETTINGS_VOLUME = "kubepar-settings"
LIBRARY_VOLUME = "kubepar-library"
TMP_VOLUME = "tmp"


def r_base_image(settings: WorkloadSettings) -> str:
    return f"rocker/r-ver:{settings.r_version}"


def rstudio_image(settings: WorkloadSettings) -> str:
    return f"rocker/rstudio:{settings.r_version}"


def resources(cpu: str, memory: str) -> dict[str, Any]:
    """Requests equal to limits: Guaranteed QoS, and R sees its real CPU quota."""
    amount = {"cpu": cpu, "memory": memory}
    return {"requests": dict(amount), "limits": dict(amount)}


def blas_threads(cpu: str) -> str:
    """Whole CPUs of a limit, at least 1: OpenBLAS sizes its pool from the
    host's cores, not the container's quota, unless told."""
    return str(max(1, quantities.cpu_millis(cpu) // 1000))


def thread_env(cpu: str) -> list[dict[str, Any]]:
    threads = blas_threads(cpu)
    return [
        {"name": "OMP_NUM_THREADS", "value": threads},
        {"name": "OPENBLAS_NUM_THREADS", "value": threads},
        {"name": "MKL_NUM_THREADS", "value": threads},
    ]


def library_env(settings: WorkloadSettings) -> list[dict[str, Any]]:
    if not settings.packages:
        return []
    return [{"name": "R_LIBS", "value": f"{LIBRARY_DIR}:{ROCKER_LIBS}"}]


def restricted_security_context() -> dict[str, Any]:
    """What Pod Security 'restricted' asks of a container, plus a read-only root."""
    return {
        "run_as_non_root": True,
        "run_as_user": NON_ROOT_UID,
        "run_as_group": NON_ROOT_UID,
        "allow_privilege_escalation": False,
        "read_only_root_filesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccomp_profile": {"type": "RuntimeDefault"},
    }


def scripts_volume(config_map: pulumi.Input[str]) -> dict[str, Any]:
    return {
        "name": SCRIPTS_VOLUME,
        "config_map": {"name": config_map, "default_mode": 0o555},
    }


def package_volumes(settings: WorkloadSettings) -> list[dict[str, Any]]:
    if not settings.packages:
        return []
    return [{"name": LIBRARY_VOLUME, "empty_dir": {"size_limit": "4Gi"}}]


def package_init_containers(settings: WorkloadSettings, cpu: str, memory: str) -> dict[str, Any]:
    """Pod spec ``init_containers`` with the package installer, or nothing."""
    if not settings.packages:
        return {}
    return {
        "init_containers": [
            {
                "name": "install-packages",
                "image": r_base_image(settings),
                "command": ["Rscript", f"{SCRIPTS_DIR}/install-packages.R"],
                "env": [
                    {"name": "KUBEPAR_PACKAGES", "value": " ".join(settings.packages)},
                    {"name": "KUBEPAR_LIBRARY", "value": LIBRARY_DIR},
                    {"name": "HOME", "value": TMP_DIR},
                    *thread_env(cpu),
                ],
                "resources": resources(cpu, memory),
                "security_context": restricted_security_context(),
                "volume_mounts": [
                    {"name": SCRIPTS_VOLUME, "mount_path": SCRIPTS_DIR, "read_only": True},
                    {"name": LIBRARY_VOLUME, "mount_path": LIBRARY_DIR},
                    {"name": TMP_VOLUME, "mount_path": TMP_DIR},
                ],
            }
        ]
    }


def pool_placement(settings: WorkloadSettings, pool: str, taint_key: str | None) -> dict[str, Any]:
    """nodeSelector and tolerations for a GKE pool; nothing on other platforms."""
    if not settings.worker_pool_selector:
        return {}
    placement: dict[str, Any] = {"node_selector": {POOL_LABEL: pool}}
    if taint_key:
        placement["tolerations"] = [{"key": taint_key, "operator": "Equal", "value": "true", "effect": "NoSchedule"}]
    return placement
