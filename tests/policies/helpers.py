"""Shared by the policy tests: run one rule on one resource, or the whole pack on the real program."""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Callable
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)

from tests.conftest import OWN_RANGE, ROOT, program

sys.path.insert(0, str(ROOT / "policies"))
import kubepar_policies as kp

import render  # isort: skip

POLICIES = {policy.name: policy for policy in kp.ALL_POLICIES}
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SERVICE = "kubernetes:core/v1:Service"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
CLUSTER = "gcp:container/cluster:Cluster"
POOL = "gcp:container/nodePool:NodePool"
RBAC = "kubernetes:rbac.authorization.k8s.io/v1"


def _options() -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])


def check(
    name: str,
    resource_type: str,
    props: dict[str, Any],
    *,
    stack: str = "dev",
    resource_name: str = "thing",
    config: dict[str, Any] | None = None,
) -> list[str]:
    """Messages one resource rule reports for one resource, with the rule's default config."""
    policy = POLICIES[name]
    settings = {**kp.config_defaults(policy), **(config or {})}
    urn = f"urn:pulumi:{stack}::kubepar::{resource_type}::{resource_name}"
    args = ResourceValidationArgs(resource_type, props, urn, resource_name, _options(), None, settings)
    found: list[str] = []
    policy.validate(args, lambda message, _urn=None: found.append(message))
    return found


def policy_resource(resource_type: str, props: dict[str, Any], name: str = "thing") -> PolicyResource:
    urn = f"urn:pulumi:dev::kubepar::{resource_type}::{name}"
    return PolicyResource(resource_type, props, urn, name, _options(), None, None, [], {})


def stack_check(resources: list[PolicyResource], only: str | None = None) -> list[str]:
    """Messages of every stack rule (or the one named) for these resources, with default config."""
    found: list[str] = []
    for policy in kp.STACK_POLICIES:
        if only is not None and policy.name != only:
            continue
        args = StackValidationArgs(resources, kp.config_defaults(policy))
        policy.validate(args, lambda message, _urn=None, name=policy.name: found.append(f"{name}: {message}"))
    return found


def recorded(capture: render.Capture) -> list[PolicyResource]:
    return [policy_resource(r.type, r.inputs, r.name) for r in capture.resources]


def violations(capture: render.Capture, level: EnforcementLevel) -> list[str]:
    """Every message of every rule of this level over a program's resources."""
    found: list[str] = []
    for policy in kp.RESOURCE_POLICIES:
        if policy.enforcement_level != level:
            continue
        for record in capture.resources:
            stack = record.urn.split("::")[0].rsplit(":", 1)[-1]
            found += [
                f"{policy.name}: {m}"
                for m in check(policy.name, record.type, record.inputs, stack=stack, resource_name=record.name)
            ]
    if level == EnforcementLevel.MANDATORY:
        found += stack_check(recorded(capture))
    return found


EXPOSED = {"allowedSourceRanges": json.dumps([OWN_RANGE])}


def mutated(
    stack: str,
    resource_type: str,
    pick: Callable[[render.Recorded], bool],
    change: Callable[[dict[str, Any]], None],
) -> list[str]:
    """Mandatory violations of a stack's program after one resource was changed.

    ``<stack>+exposed``: the stack with the user's own range in allowedSourceRanges (a LoadBalancer).
    """
    name, _, variant = stack.partition("+")
    capture = program(name, **(EXPOSED if variant == "exposed" else {}))
    clone = render.Capture(resources=[copy.deepcopy(r) for r in capture.resources])
    target = next(r for r in clone.resources if r.type == resource_type and pick(r))
    change(target.inputs)
    return violations(clone, EnforcementLevel.MANDATORY)


def component(name: str) -> Callable[[render.Recorded], bool]:
    return lambda r: r.inputs["metadata"]["labels"].get("app.kubernetes.io/component") == name


def container(**fields: Any) -> dict[str, Any]:
    """A container that passes every workload rule, with fields replaced."""
    base: dict[str, Any] = {
        "name": "c",
        "image": "rocker/r-ver:4.5.1",
        "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
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
