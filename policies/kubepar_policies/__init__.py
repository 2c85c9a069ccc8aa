"""kubepar guardrails: the rules of the CrossGuard policy pack, one module per rule family.

Owns: collecting the families (rbac, workloads, exposure, network, gke,
iam, admission, cost) into the lists the pack serves. Does not: construct the PolicyPack
(``policies/__main__.py`` does; the constructor starts a server and never
returns), so tests import this package.

Resources arrive with engine (camelCase) property names, as in a preview.
Each message names the resource and says how to fix it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pulumi_policy import Policy, ResourceValidationPolicy, StackValidationPolicy

from . import admission, cost, exposure, gke, iam, network, rbac, workloads

RESOURCE_POLICIES: list[ResourceValidationPolicy] = [
    *rbac.POLICIES,
    *workloads.POLICIES,
    *exposure.POLICIES,
    *gke.POLICIES,
    *iam.POLICIES,
    *admission.POLICIES,
    *cost.POLICIES,
]
STACK_POLICIES: list[StackValidationPolicy] = [*network.STACK_POLICIES, *exposure.STACK_POLICIES]
ALL_POLICIES: list[ResourceValidationPolicy | StackValidationPolicy] = [*RESOURCE_POLICIES, *STACK_POLICIES]
FAMILIES: dict[str, Sequence[Policy]] = {
    "rbac": rbac.POLICIES,
    "workloads": workloads.POLICIES,
    "exposure": [*exposure.POLICIES, *exposure.STACK_POLICIES],
    "network": network.STACK_POLICIES,
    "gke": gke.POLICIES,
    "iam": iam.POLICIES,
    "admission": admission.POLICIES,
    "cost": cost.POLICIES,
}


def config_defaults(policy: ResourceValidationPolicy | StackValidationPolicy) -> dict[str, Any]:
    """The default config a policy sees when the pack runs without --policy-pack-config."""
    schema = policy.config_schema
    if schema is None:
        return {}
    return {key: spec["default"] for key, spec in schema.properties.items() if "default" in spec}
