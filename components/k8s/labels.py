"""Names and labels shared by every Kubernetes object.

Owns: the recommended ``app.kubernetes.io`` labels, the selector subset that
must never change after creation, and object metadata. The node-pool
vocabulary lives in ground/pools.py (GCP pools use it too).
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

APP = "kubepar"


def labels(stack: str, component: str) -> dict[str, str]:
    """Recommended labels for an object of ``component`` (scheduler or worker)."""
    return {
        "app.kubernetes.io/name": APP,
        "app.kubernetes.io/instance": stack,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/managed-by": "pulumi",
    }


def selector(stack: str, component: str) -> dict[str, str]:
    """The immutable subset of :func:`labels` used in selectors."""
    return {
        "app.kubernetes.io/name": APP,
        "app.kubernetes.io/instance": stack,
        "app.kubernetes.io/component": component,
    }


def namespace_labels(stack: str) -> dict[str, str]:
    """Labels of the namespace itself."""
    return {"app.kubernetes.io/name": APP, "app.kubernetes.io/instance": stack}


def object_meta(
    namespace: pulumi.Input[str],
    object_labels: dict[str, str],
    name: str | None = None,
    annotations: dict[str, str] | None = None,
) -> k8s.meta.v1.ObjectMetaArgsDict:
    """Metadata of a namespaced object; ``name`` only for objects addressed by name."""
    metadata: k8s.meta.v1.ObjectMetaArgsDict = {"namespace": namespace, "labels": object_labels}
    if name is not None:
        metadata["name"] = name
    if annotations:
        metadata["annotations"] = annotations
    return metadata
