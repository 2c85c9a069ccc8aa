"""The Kubernetes provider of an existing cluster, from kubectl's context.

Owns: the provider options of platform ``existing``. Does not: hold
credentials (kubectl's own configuration does), or build the GKE provider
(gcp/cluster.py sets the same options there; tests/test_cluster.py keeps them equal).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.ground.settings import Settings


def existing_cluster_provider(name: str, context: str | None) -> k8s.Provider:
    """Provider for the cluster kubectl already points at (``platform: existing``)."""
    return k8s.Provider(
        name,
        context=context,
        # A stack must never adopt objects it did not create.
        upsert_existing_objects=False,
        # ConfigMaps not marked immutable update in place (the worker count); see engine_files.py.
        enable_config_map_mutable=True,
    )


@dataclass(frozen=True, kw_only=True)
class ExistingPlatform:
    """platform existing: the cluster kubectl points at, as the Kubernetes objects need it."""

    provider: pulumi.ProviderResource
    opts: pulumi.ResourceOptions
    # Unknown here: the private ranges every egress policy excludes cover an in-cluster endpoint.
    api_server_cidrs: pulumi.Input[list[str]] | None = None
    api_endpoints: pulumi.Input[list[str]] | None = None
    """Unknown: the hub reaches any address on the API server's ports."""
    static_address: pulumi.Input[str] | None = None
    """None: the hub's HTTPS door is built on GKE only."""
    outputs: dict[str, Any] = field(default_factory=dict)
    kube_context: pulumi.Input[str] | None = None
    """kubectl's context for this cluster (kubeContext), or None: the current one."""


def existing_platform(settings: Settings) -> ExistingPlatform:
    provider = existing_cluster_provider("kubepar-k8s", settings.kube_context)
    return ExistingPlatform(
        provider=provider, opts=pulumi.ResourceOptions(providers=[provider]), kube_context=settings.kube_context
    )
