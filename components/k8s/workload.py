"""Workload: one engine role as a Deployment with exactly the doors it declares.

Owns, for one PodRole: the Deployment; the password Secret when the role
has one; a PodDisruptionBudget for roles that hold work; the user-facing Service
(LoadBalancer limited to allowedSourceRanges, or ClusterIP for
port-forward); the fixed-name Service clients dial; and, through
network_policies.py, one NetworkPolicy per door and one for egress. Does not:
know which engine it runs, or own the home volume (home.py: it outlives an
engine change).
Invariant: the endpoint port is only ever on a ClusterIP Service, and only
the clients the engine's edges name may reach it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import pulumi
import pulumi_kubernetes as k8s

from components.engines.model import Access, Engine, PodRole
from components.ground.rocker import RSTUDIO_UID
from components.ground.settings import WorkloadSettings
from components.k8s import network_policies, pods
from components.k8s.labels import labels, object_meta, selector
from components.k8s.results import ResultsStore

PASSWORD_KEY = "password"


@dataclass(frozen=True, kw_only=True)
class WorkloadArgs:
    engine: Engine
    """The engine the role belongs to (its edges give the role's doors)."""
    role: PodRole
    """What to run and which doors to open."""
    settings: WorkloadSettings
    """Validated workload settings (stack, namespace, allowed ranges, home size)."""
    namespace: pulumi.Input[str]
    service_account: pulumi.Input[str]
    """ServiceAccount of the pods (no token mounted)."""
    scripts_config_map: pulumi.Input[str]
    settings_config_map: pulumi.Input[str]
    password: pulumi.Input[str] | None = None
    """The stack's password, a Pulumi secret; needed when the role has ``password_env``."""
    claim: pulumi.Input[str] | None = None
    """Name of the PersistentVolumeClaim the role's ``storage.claim`` names (home or queue)."""
    on_pools: bool = False
    """Place pods on kubepar's pool the role names (GKE, or an existing cluster with nodePools)."""
    api_server_cidrs: pulumi.Input[list[str]] | None = None
    """The API server's public address(es) as /32s: excluded from every pod's internet egress."""
    queue_secret: pulumi.Input[str] | None = None
    """The queue's Secret (password files), for roles with ``queue_auth`` (rBackend redis)."""
    results: ResultsStore | None = None
    """The sweep results store, mounted read-only in the user's session (and roles with ``storage.results``)."""
    engine_secret: pulumi.Input[str] | None = None
    """The engine's own Secret, for roles with ``secret_env`` (the hub's keys)."""
    api_endpoints: pulumi.Input[list[str]] | None = None
    """The API server's addresses, for a role that calls it (the hub)."""
    static_address: pulumi.Input[str] | None = None
    """The platform's reserved address, for a role whose LoadBalancer takes it (``exposure.static_address``)."""


class Workload(pulumi.ComponentResource):
    namespace: pulumi.Input[str]
    deployment: pulumi.Output[str]
    ui_service: pulumi.Output[str] | None
    """Name of the user-facing Service, if the role has one."""
    ui_address: pulumi.Output[str | None] | None
    """LoadBalancer address of that Service (None until assigned, or for ClusterIP)."""

    def __init__(self, name: str, args: WorkloadArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kubepar:k8s:Workload", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        role, settings = args.role, args.settings
        meta_labels = labels(settings.stack, role.component)
        own_selector = selector(settings.stack, role.component)

        password_secret = None
        if role.password_env:
            if args.password is None:
                raise ValueError(f"role {role.component} needs a password")
            secret = k8s.core.v1.Secret(
                f"{name}-password",
                metadata=object_meta(args.namespace, meta_labels),
                type="Opaque",
                string_data={PASSWORD_KEY: args.password},
                opts=child,
            )
            password_secret = secret.metadata.name

        # The user's session reads sweep results, and so does Spark for it.
        results = args.results if role.session or role.storage.results else None
        claim = args.claim
        if claim is None and role.storage.claim is not None and role.storage.claim.size is not None:
            own = k8s.core.v1.PersistentVolumeClaim(
                f"{name}-{role.storage.claim.name}",
                metadata=object_meta(args.namespace, meta_labels),
                spec={
                    "access_modes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": role.storage.claim.size}},
                },
                opts=child,
            )
            claim = own.metadata.name
        # The session's user: rocker's rstudio (UID 1000) behind RStudio's root init.
        user = RSTUDIO_UID if role.security.root_init else role.security.run_as_user
        pod_spec = pods.pod_spec(
            role,
            service_account=args.service_account,
            scripts_config_map=args.scripts_config_map,
            settings_config_map=args.settings_config_map,
            password_secret=password_secret,
            claim=claim,
            on_pools=args.on_pools,
            queue_secret=args.queue_secret,
            engine_secret=args.engine_secret,
            results_volume=None
            if results is None
            else results.volume(read_only=True, uid=user, gid=role.security.fs_group or user),
        )
        strategy: dict[str, Any] = (
            # The claim is ReadWriteOnce: the old pod must let go first.
            {"type": "Recreate"}
            if role.storage.claim is not None
            # A replaced worker is gone either way: no surge pods waiting for nodes.
            else {"type": "RollingUpdate", "rolling_update": {"max_unavailable": "50%", "max_surge": 0}}
        )
        annotations = pods.checkov_annotations(role)
        if not role.disruption.await_rollout:
            annotations["pulumi.com/skipAwait"] = "true"
        deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=object_meta(args.namespace, meta_labels, annotations=annotations),
            spec={
                "replicas": role.replicas,
                "strategy": cast(k8s.apps.v1.DeploymentStrategyArgsDict, strategy),
                "selector": {"match_labels": own_selector},
                "template": {
                    "metadata": {
                        "labels": meta_labels,
                        "annotations": {
                            **pods.pod_annotations(role),
                            **(results.pod_annotations() if results is not None else {}),
                        },
                    },
                    # Built from shared pieces (pods.py), so typed by a cast.
                    "spec": cast(k8s.core.v1.PodSpecArgsDict, pod_spec),
                },
            },
            opts=child if results is None else results.after_grants(child),
        )

        if role.disruption.budget:
            k8s.policy.v1.PodDisruptionBudget(
                f"{name}-budget",
                metadata=object_meta(args.namespace, meta_labels),
                # No voluntary eviction: a node drain (upgrade, autoscaler) waits
                # for the user, up to GKE's one-hour limit inside the maintenance window.
                spec={"max_unavailable": 0, "selector": {"match_labels": own_selector}},
                opts=child,
            )

        endpoint_port = role.exposure.endpoint_port
        if endpoint_port is not None:
            # Clients find it at engines.model.endpoint_host(), which the engine writes into their env.
            k8s.core.v1.Service(
                f"{name}-endpoint",
                # Clients address it by DNS, so the name is fixed (and short).
                metadata=object_meta(args.namespace, meta_labels, name=role.exposure.endpoint_service),
                spec={
                    # Never LoadBalancer or NodePort: whoever connects can run code.
                    "type": "ClusterIP",
                    "selector": own_selector,
                    "ports": [
                        {"name": f"endpoint-{port}", "port": port, "target_port": port, "protocol": "TCP"}
                        if role.exposure.endpoint_extra_ports
                        else {"name": "endpoint", "port": port, "target_port": port, "protocol": "TCP"}
                        for port in (endpoint_port, *role.exposure.endpoint_extra_ports)
                    ],
                },
                opts=child,
            )

        self.ui_service = None
        self.ui_address = None
        user_port = role.exposure.user_port
        if user_port is not None:
            public = bool(settings.allowed_source_ranges)
            ui_spec: dict[str, Any] = {
                "type": "LoadBalancer" if public else "ClusterIP",
                "selector": own_selector,
                "ports": [
                    {
                        "name": "https" if role.exposure.service_port == 443 else "http",
                        "port": role.exposure.service_port or user_port,
                        "target_port": user_port,
                        "protocol": "TCP",
                    }
                ],
            }
            if public:
                if role.exposure.static_address and args.static_address is not None:
                    # The address hubDomain's A record names, reserved by the platform.
                    ui_spec["load_balancer_ip"] = args.static_address
                ui_spec["load_balancer_source_ranges"] = list(settings.allowed_source_ranges)
                # Keeps the client's address, so the NetworkPolicy can check it too.
                ui_spec["external_traffic_policy"] = "Local"
            ui = k8s.core.v1.Service(
                f"{name}-ui",
                metadata=object_meta(args.namespace, meta_labels),
                spec=cast(k8s.core.v1.ServiceSpecArgsDict, ui_spec),
                opts=child,
            )
            self.ui_service = ui.metadata.name
            self.ui_address = ui.status.apply(_load_balancer_address)

        network_policies.create(
            name,
            role,
            edges=args.engine.edges,
            stack=settings.stack,
            namespace=args.namespace,
            meta_labels=meta_labels,
            allowed_source_ranges=settings.allowed_source_ranges,
            api_server_cidrs=args.api_server_cidrs,
            opts=child,
            metadata_server=(results is not None and results.mounts_bucket) or role.exposure.metadata_server,
            api_endpoints=args.api_endpoints,
        )

        self.namespace = args.namespace
        # A LoadBalancer limited to allowedSourceRanges, or ClusterIP behind a port-forward.
        self.public = bool(settings.allowed_source_ranges)
        self.service_port = role.exposure.service_port
        self.deployment = deployment.metadata.name
        self.register_outputs(
            {
                "deployment": self.deployment,
                "ui_service": self.ui_service,
                "ui_address": self.ui_address,
            }
        )

    def access(
        self, door: Access, *, context: pulumi.Input[str] | None = None
    ) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
        """(URL, port-forward command) of the role's user-facing Service for ``door``.

        ``context``: the kubectl context of the stack's own cluster, so the
        command reaches this stack whatever kubectl points at (None: the
        current context, which is what platform existing without kubeContext uses).
        """
        target = ("kubectl --context ", context, " -n ") if context is not None else ("kubectl -n ",)
        if door.forward_only:
            # No Service: the port is reached through the API server's TLS, by whoever may port-forward.
            forward = pulumi.Output.concat(
                *target, self.namespace, " port-forward deploy/", self.deployment, f" {door.port}:{door.port}"
            )
            return pulumi.Output.from_input(f"http://localhost:{door.port}"), forward
        if self.ui_service is None or self.ui_address is None:
            raise ValueError("this role has no user-facing Service")
        port, service_port = door.port, self.service_port or door.port
        forward = pulumi.Output.concat(
            *target, self.namespace, " port-forward svc/", self.ui_service, f" {port}:{service_port}"
        )
        if door.url is not None:
            url = pulumi.Output.from_input(door.url)
        elif self.public:
            url = self.ui_address.apply(
                lambda address: f"http://{address}:{port}" if address else "(LoadBalancer address pending)"
            )
        else:
            url = pulumi.Output.from_input(f"http://localhost:{port}")
        return url, forward


def stack_password() -> pulumi.Output[str]:
    """A login password generated once and kept in the stack's state (``make output KEY=password``)."""
    import pulumi_random as random

    return random.RandomPassword("password", length=24, special=False).result


def _load_balancer_address(status: object) -> str | None:
    ingress = getattr(getattr(status, "load_balancer", None), "ingress", None) or []
    for entry in ingress:
        address = getattr(entry, "ip", None) or getattr(entry, "hostname", None)
        if address:
            return str(address)
    return None
