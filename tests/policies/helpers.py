"""Shared by the policy tests: run one rule on one resource, or the whole pack on the real program."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from pulumi_policy import EnforcementLevel

from policies import kubepar_policies as kp
from tests.conftest import OWN_RANGE, program
from tools import harness
from tools.harness.pack import POLICIES, check, options, policy_resource, recorded, stack_check, violations

__all__ = ["POLICIES", "check", "kp", "options", "policy_resource", "recorded", "stack_check", "violations"]

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SERVICE = "kubernetes:core/v1:Service"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
CLUSTER = "gcp:container/cluster:Cluster"
POOL = "gcp:container/nodePool:NodePool"
RBAC = "kubernetes:rbac.authorization.k8s.io/v1"


EXPOSED = {"allowedSourceRanges": json.dumps([OWN_RANGE]), "domain": "lab.example.org", "dnsZone": "lab-zone"}


def mutated(
    stack: str,
    resource_type: str,
    pick: Callable[[harness.Recorded], bool],
    change: Callable[[dict[str, Any]], None],
) -> list[str]:
    """Mandatory violations of a stack's program after one resource was changed.

    ``<stack>+exposed``: the stack with the user's own range in allowedSourceRanges (a LoadBalancer).
    """
    name, _, variant = stack.partition("+")
    capture = program(name, **(EXPOSED if variant == "exposed" else {}))
    clone = harness.Capture(resources=[copy.deepcopy(r) for r in capture.resources])
    target = next(r for r in clone.resources if r.type == resource_type and pick(r))
    change(target.inputs)
    return violations(clone, EnforcementLevel.MANDATORY)


def component(name: str) -> Callable[[harness.Recorded], bool]:
    return lambda r: r.inputs["metadata"]["labels"].get("app.kubernetes.io/component") == name


def container(**fields: Any) -> dict[str, Any]:
    """A container that passes every workload rule, with fields replaced."""
    base: dict[str, Any] = {
        "name": "c",
        "image": "rocker/r-ver:4.5.1",
        "resources": {
            "requests": {"cpu": "1", "memory": "1Gi", "ephemeral-storage": "1Gi"},
            "limits": {"cpu": "1", "memory": "1Gi", "ephemeral-storage": "1Gi"},
        },
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    base.update(fields)
    return base


def pod_spec(*containers: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"automountServiceAccountToken": False, "containers": list(containers or [container()]), **fields}


def workload(
    kind: str = "Deployment",
    spec: dict[str, Any] | None = None,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    namespace: str | None = "kubepar",
) -> tuple[str, dict[str, Any]]:
    """(type, props) of any workload kind around one pod spec."""
    spec = spec if spec is not None else pod_spec()
    pod_meta: dict[str, Any] = {"labels": labels or {"app.kubernetes.io/component": "worker"}}
    if annotations:
        pod_meta["annotations"] = annotations
    metadata: dict[str, Any] = {"name": "w"}
    if namespace:
        metadata["namespace"] = namespace
    template = {"metadata": pod_meta, "spec": spec}
    groups = {
        "Pod": "core/v1",
        "ReplicationController": "core/v1",
        "ReplicaSet": "apps/v1",
        "Deployment": "apps/v1",
        "StatefulSet": "apps/v1",
        "DaemonSet": "apps/v1",
        "Job": "batch/v1",
        "CronJob": "batch/v1",
    }
    base_kind = kind.removesuffix("Patch")
    if base_kind == "Pod":
        props: dict[str, Any] = {"kind": kind, "metadata": {**metadata, **pod_meta}, "spec": spec}
    elif base_kind == "CronJob":
        props = {"kind": kind, "metadata": metadata, "spec": {"jobTemplate": {"spec": {"template": template}}}}
    else:
        props = {"kind": kind, "metadata": metadata, "spec": {"template": template}}
    return f"kubernetes:{groups[base_kind]}:{kind}", props


WORKLOAD_KINDS = [
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
    "DeploymentPatch",
    "PodPatch",
    "CronJobPatch",
    "JobPatch",
]
