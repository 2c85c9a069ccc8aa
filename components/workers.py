"""Workers: R processes that dial the scheduler, one per pod.

Owns: the worker Deployment and a NetworkPolicy that admits nothing to
worker pods. Does not: know about RStudio; a worker only needs the
scheduler's DNS name and port.
Invariant: worker count is ``replicas`` of one Deployment (never N objects),
each pod runs one R process with requests equal to limits, non-root, on a
read-only root filesystem.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import pulumi
import pulumi_kubernetes as k8s

from components import r_pod
from components.config import WorkloadSettings
from components.labels import WORKER_TAINT_KEY, labels, object_meta, selector


@dataclass(frozen=True, kw_only=True)
class WorkersArgs:
    settings: WorkloadSettings
    """Validated workload settings."""
    namespace: pulumi.Input[str]
    """Namespace of every object."""
    service_account: pulumi.Input[str]
    """ServiceAccount of the pods (no token mounted)."""
    scripts_config_map: pulumi.Input[str]
    """ConfigMap with workloads/r files."""
    scheduler_host: pulumi.Input[str]
    """DNS name of the scheduler's worker Service."""


class Workers(pulumi.ComponentResource):
    deployment: pulumi.Output[str]
    replicas: int

    def __init__(self, name: str, args: WorkersArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kubepar:k8s:Workers", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        settings = args.settings
        meta_labels = labels(settings.stack, "worker")
        pod_selector = selector(settings.stack, "worker")

        env = [
            {"name": "KUBEPAR_SCHEDULER_HOST", "value": args.scheduler_host},
            {"name": "KUBEPAR_SCHEDULER_PORT", "value": str(settings.worker_port)},
            {"name": "KUBEPAR_SETUP_TIMEOUT", "value": str(settings.worker_setup_timeout)},
            {"name": "HOME", "value": r_pod.TMP_DIR},
            {"name": "TMPDIR", "value": r_pod.TMP_DIR},
            # One R process per pod: BLAS must not start a thread per host core.
            {"name": "OMP_NUM_THREADS", "value": "1"},
            {"name": "OPENBLAS_NUM_THREADS", "value": "1"},
            {"name": "MKL_NUM_THREADS", "value": "1"},
            # parallelly::availableCores() honours MC_CORES: nested parallel
            # code inside a task sees this pod's CPU limit, not the node's.
            {
                "name": "MC_CORES",
                "value_from": {
                    "resource_field_ref": {
                        "container_name": "worker",
                        "resource": "limits.cpu",
                        "divisor": "1",
                    }
                },
            },
            *r_pod.library_env(settings),
        ]
        volume_mounts = [
            {"name": r_pod.SCRIPTS_VOLUME, "mount_path": r_pod.SCRIPTS_DIR, "read_only": True},
            {"name": r_pod.TMP_VOLUME, "mount_path": r_pod.TMP_DIR},
        ]
        if settings.packages:
            volume_mounts.append({"name": r_pod.LIBRARY_VOLUME, "mount_path": r_pod.LIBRARY_DIR, "read_only": True})

        pod_spec: dict[str, Any] = {
            "service_account_name": args.service_account,
            "automount_service_account_token": False,
            "security_context": {
                "run_as_non_root": True,
                "run_as_user": r_pod.NON_ROOT_UID,
                "run_as_group": r_pod.NON_ROOT_UID,
                "fs_group": r_pod.NON_ROOT_UID,
                "seccomp_profile": {"type": "RuntimeDefault"},
            },
            # The dial loop exits within a second of SIGTERM.
            "termination_grace_period_seconds": 15,
            **r_pod.pool_placement(settings, "workers", WORKER_TAINT_KEY),
            **r_pod.package_init_containers(settings, settings.worker_cpu, settings.worker_memory),
            "containers": [
                {
                    "name": "worker",
                    "image": r_pod.r_base_image(settings),
                    "command": ["sh", f"{r_pod.SCRIPTS_DIR}/kubepar-worker.sh"],
                    "env": env,
                    "resources": r_pod.resources(settings.worker_cpu, settings.worker_memory),
                    "security_context": r_pod.restricted_security_context(),
                    "volume_mounts": volume_mounts,
                }
            ],
            "volumes": [
                r_pod.scripts_volume(args.scripts_config_map),
                {"name": r_pod.TMP_VOLUME, "empty_dir": {"size_limit": "2Gi"}},
                *r_pod.package_volumes(settings),
            ],
        }
        deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            # Workers have no port to probe and may wait for autoscaled nodes:
            # do not hold `pulumi up` on their rollout.
            metadata=object_meta(args.namespace, meta_labels, annotations={"pulumi.com/skipAwait": "true"}),
            spec={
                "replicas": settings.workers,
                "selector": {"match_labels": pod_selector},
                # Replace workers quickly: a worker in use is gone either way.
                "strategy": {
                    "type": "RollingUpdate",
                    "rolling_update": {"max_unavailable": "50%", "max_surge": 0},
                },
                "template": {
                    "metadata": {"labels": meta_labels},
                    # Built from shared pieces (r_pod.py), so typed by a cast.
                    "spec": cast(k8s.core.v1.PodSpecArgsDict, pod_spec),
                },
            },
            opts=child,
        )

        k8s.networking.v1.NetworkPolicy(
            f"{name}-no-ingress",
            metadata=object_meta(args.namespace, meta_labels),
            # Selects the workers and allows nothing in: workers only dial out.
            spec={"pod_selector": {"match_labels": pod_selector}, "policy_types": ["Ingress"]},
            opts=child,
        )

        self.deployment = deployment.metadata.name
        self.replicas = settings.workers
        self.register_outputs({"deployment": self.deployment, "replicas": self.replicas})
