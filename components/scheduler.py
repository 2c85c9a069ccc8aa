"""Scheduler: RStudio, the R session that R workers dial into.

Owns: the password Secret, the home-directory volume, the RStudio Deployment,
the Service workers dial (fixed name, ClusterIP, never public), the Service
users reach RStudio through, and the NetworkPolicies that open exactly those
two doors. Does not: start workers (they dial in) or expose the worker port.
Invariant: the worker port is reachable only from worker pods; RStudio is
reachable only from ``allowedSourceRanges`` (LoadBalancer) or through
``kubectl port-forward`` when that list is empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import pulumi
import pulumi_kubernetes as k8s

from components import r_pod
from components.config import WorkloadSettings
from components.labels import labels, object_meta, selector

RSTUDIO_PORT = 8787
# Workers address the scheduler by DNS, so this name is fixed (and short).
WORKER_SERVICE_NAME = "kubepar-scheduler"
HOME_DIR = "/home/rstudio"
PASSWORD_KEY = "password"

# rocker's s6 init runs as root to set up the rstudio user and then drops to it;
# these are the capabilities that needs (the container default set without raw
# sockets, mknod or file capabilities).
RSTUDIO_CAPABILITIES = [
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "AUDIT_WRITE",
]


@dataclass(frozen=True, kw_only=True)
class SchedulerArgs:
    settings: WorkloadSettings
    """Validated workload settings."""
    namespace: pulumi.Input[str]
    """Namespace of every object."""
    service_account: pulumi.Input[str]
    """ServiceAccount of the pod (no token mounted)."""
    scripts_config_map: pulumi.Input[str]
    """ConfigMap with workloads/r files."""
    settings_config_map: pulumi.Input[str]
    """ConfigMap with the live worker count."""
    password: pulumi.Input[str]
    """RStudio password; must be a Pulumi secret."""


class Scheduler(pulumi.ComponentResource):
    worker_service_host: pulumi.Output[str]
    """DNS name workers dial."""
    rstudio_service: pulumi.Output[str]
    """Name of the Service in front of RStudio."""
    rstudio_address: pulumi.Output[str | None]
    """LoadBalancer address, or None for a ClusterIP Service."""

    def __init__(self, name: str, args: SchedulerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kubepar:k8s:Scheduler", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        settings = args.settings
        component = "scheduler"
        meta_labels = labels(settings.stack, component)
        pod_selector = selector(settings.stack, component)
        worker_selector = selector(settings.stack, "worker")

        secret = k8s.core.v1.Secret(
            f"{name}-password",
            metadata=object_meta(args.namespace, meta_labels),
            type="Opaque",
            string_data={PASSWORD_KEY: args.password},
            opts=child,
        )
        home = k8s.core.v1.PersistentVolumeClaim(
            f"{name}-home",
            metadata=object_meta(args.namespace, meta_labels),
            spec={
                "access_modes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": settings.home_size}},
            },
            opts=child,
        )

        env = [
            {
                "name": "PASSWORD",
                "value_from": {"secret_key_ref": {"name": secret.metadata.name, "key": PASSWORD_KEY}},
            },
            # Loaded by every R session; rocker copies container env into
            # Renviron.site, so RStudio sessions see these too.
            {"name": "R_PROFILE_USER", "value": f"{r_pod.SCRIPTS_DIR}/kubepar.R"},
            {"name": "KUBEPAR_WORKERS_FILE", "value": f"{r_pod.SETTINGS_DIR}/workers"},
            {"name": "KUBEPAR_WORKER_PORT", "value": str(settings.worker_port)},
            {"name": "KUBEPAR_NAMESPACE", "value": settings.namespace},
            *r_pod.thread_env(settings.scheduler_cpu),
            *r_pod.library_env(settings),
        ]
        pod_spec: dict[str, Any] = {
            "service_account_name": args.service_account,
            "automount_service_account_token": False,
            "security_context": {
                # The home volume is group-owned by the rstudio user's group.
                "fs_group": r_pod.RSTUDIO_GID,
                "fs_group_change_policy": "OnRootMismatch",
                "seccomp_profile": {"type": "RuntimeDefault"},
            },
            **r_pod.pool_placement(settings, "system", None),
            **r_pod.package_init_containers(settings, settings.scheduler_cpu, settings.scheduler_memory),
            "containers": [
                {
                    "name": "rstudio",
                    "image": r_pod.rstudio_image(settings),
                    "ports": [
                        {"name": "http", "container_port": RSTUDIO_PORT},
                        {"name": "r-workers", "container_port": settings.worker_port},
                    ],
                    "env": env,
                    "resources": r_pod.resources(settings.scheduler_cpu, settings.scheduler_memory),
                    "security_context": {
                        # Documented exception: rocker's init needs root, then
                        # RStudio runs each session as the rstudio user.
                        "run_as_user": 0,
                        "run_as_non_root": False,
                        "allow_privilege_escalation": False,
                        "capabilities": {"drop": ["ALL"], "add": RSTUDIO_CAPABILITIES},
                        "seccomp_profile": {"type": "RuntimeDefault"},
                    },
                    "startup_probe": {
                        "tcp_socket": {"port": RSTUDIO_PORT},
                        "period_seconds": 5,
                        "failure_threshold": 60,
                    },
                    "readiness_probe": {
                        "tcp_socket": {"port": RSTUDIO_PORT},
                        "period_seconds": 10,
                    },
                    "liveness_probe": {
                        "tcp_socket": {"port": RSTUDIO_PORT},
                        "period_seconds": 20,
                        "failure_threshold": 3,
                    },
                    "volume_mounts": [
                        {"name": "home", "mount_path": HOME_DIR},
                        {"name": r_pod.SCRIPTS_VOLUME, "mount_path": r_pod.SCRIPTS_DIR, "read_only": True},
                        # Whole-directory mount (no subPath): the kubelet
                        # refreshes it when the worker count changes.
                        {"name": r_pod.SETTINGS_VOLUME, "mount_path": r_pod.SETTINGS_DIR, "read_only": True},
                        *(
                            [
                                {
                                    "name": r_pod.LIBRARY_VOLUME,
                                    "mount_path": r_pod.LIBRARY_DIR,
                                    "read_only": True,
                                }
                            ]
                            if settings.packages
                            else []
                        ),
                    ],
                }
            ],
            "volumes": [
                {"name": "home", "persistent_volume_claim": {"claim_name": home.metadata.name}},
                r_pod.scripts_volume(args.scripts_config_map),
                {"name": r_pod.SETTINGS_VOLUME, "config_map": {"name": args.settings_config_map}},
                *r_pod.package_volumes(settings),
                # Scratch space for the package installer (its root is read-only).
                *([{"name": r_pod.TMP_VOLUME, "empty_dir": {"size_limit": "1Gi"}}] if settings.packages else []),
            ],
        }
        k8s.apps.v1.Deployment(
            f"{name}-rstudio",
            metadata=object_meta(args.namespace, meta_labels),
            spec={
                "replicas": 1,
                # The home volume is ReadWriteOnce: the old pod must let go first.
                "strategy": {"type": "Recreate"},
                "selector": {"match_labels": pod_selector},
                "template": {
                    "metadata": {"labels": meta_labels},
                    # Built from shared pieces (r_pod.py), so typed by a cast.
                    "spec": cast(k8s.core.v1.PodSpecArgsDict, pod_spec),
                },
            },
            opts=child,
        )

        worker_service = k8s.core.v1.Service(
            f"{name}-workers",
            metadata=object_meta(args.namespace, meta_labels, name=WORKER_SERVICE_NAME),
            spec={
                # Never LoadBalancer or NodePort: the R worker protocol has no
                # authentication, and whoever connects can run code.
                "type": "ClusterIP",
                "selector": pod_selector,
                "ports": [
                    {
                        "name": "r-workers",
                        "port": settings.worker_port,
                        "target_port": settings.worker_port,
                        "protocol": "TCP",
                    }
                ],
            },
            opts=child,
        )

        public = bool(settings.allowed_source_ranges)
        rstudio_spec: dict[str, Any] = {
            "type": "LoadBalancer" if public else "ClusterIP",
            "selector": pod_selector,
            "ports": [{"name": "http", "port": RSTUDIO_PORT, "target_port": RSTUDIO_PORT, "protocol": "TCP"}],
        }
        if public:
            rstudio_spec["load_balancer_source_ranges"] = list(settings.allowed_source_ranges)
            # Keeps the client's address, so the NetworkPolicy below can check it too.
            rstudio_spec["external_traffic_policy"] = "Local"
        rstudio_service = k8s.core.v1.Service(
            f"{name}-rstudio",
            metadata=object_meta(args.namespace, meta_labels),
            spec=cast(k8s.core.v1.ServiceSpecArgsDict, rstudio_spec),
            opts=child,
        )

        k8s.networking.v1.NetworkPolicy(
            f"{name}-from-workers",
            metadata=object_meta(args.namespace, meta_labels),
            spec={
                "pod_selector": {"match_labels": pod_selector},
                "policy_types": ["Ingress"],
                "ingress": [
                    {
                        "from_": [{"pod_selector": {"match_labels": worker_selector}}],
                        "ports": [{"protocol": "TCP", "port": settings.worker_port}],
                    }
                ],
            },
            opts=child,
        )
        if public:
            k8s.networking.v1.NetworkPolicy(
                f"{name}-from-users",
                metadata=object_meta(args.namespace, meta_labels),
                spec={
                    "pod_selector": {"match_labels": pod_selector},
                    "policy_types": ["Ingress"],
                    "ingress": [
                        {
                            "from_": [{"ip_block": {"cidr": cidr}} for cidr in settings.allowed_source_ranges],
                            "ports": [{"protocol": "TCP", "port": RSTUDIO_PORT}],
                        }
                    ],
                },
                opts=child,
            )

        self.worker_service_host = pulumi.Output.concat(
            worker_service.metadata.name, ".", args.namespace, ".svc.cluster.local"
        )
        self.rstudio_service = rstudio_service.metadata.name
        self.rstudio_address = rstudio_service.status.apply(_load_balancer_address)
        self.register_outputs(
            {
                "worker_service_host": self.worker_service_host,
                "rstudio_service": self.rstudio_service,
                "rstudio_address": self.rstudio_address,
            }
        )


def _load_balancer_address(status: object) -> str | None:
    ingress = getattr(getattr(status, "load_balancer", None), "ingress", None) or []
    for entry in ingress:
        address = getattr(entry, "ip", None) or getattr(entry, "hostname", None)
        if address:
            return str(address)
    return None
