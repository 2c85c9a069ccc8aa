"""The policy pack's own rules, evaluated the way the policy engine calls them, on recorded resources.

Owns: running one resource rule on one resource, every stack rule on a set,
and every rule of a level over what a program declared (the render's record,
or the inputs the real engine recorded). Does not: define rules (policies/).
The CLI built here cannot run policy packs itself (docs/engine.md), so this
is how the pack judges both the render and the real engine's stacks.
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft7Validator
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
)

from policies import kubepar_policies as kp
from tools.harness.capture import Capture

# The resource rules by name (stack rules run together: stack_check).
POLICIES: dict[str, ResourceValidationPolicy] = {policy.name: policy for policy in kp.RESOURCE_POLICIES}


def options() -> PolicyResourceOptions:
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
    """Messages one resource rule reports for one resource, with its config as the CLI hands it over."""
    policy = POLICIES[name]
    settings = reconciled(policy, config)
    urn = f"urn:pulumi:{stack}::kubepar::{resource_type}::{resource_name}"
    args = ResourceValidationArgs(resource_type, props, urn, resource_name, options(), None, settings)
    found: list[str] = []
    policy.validate(args, collector(found))
    return found


class PolicyConfigError(ValueError):
    """A policy config the CLI would refuse before the pack runs."""


def reconciled(policy: Any, given: dict[str, Any] | None) -> dict[str, Any]:
    """What the CLI hands a rule (pkg/resource/analyzer/config.go, ReconcilePolicyPackConfig): the schema's
    defaults, then the given keys, validated against {type: object, properties, required} (convertSchema),
    which checks the declared keys' types and lets any other key through."""
    config = {**kp.config_defaults(policy), **(given or {})}
    schema = policy.config_schema
    if schema is not None:
        document: dict[str, Any] = {"type": "object", "properties": schema.properties}
        if schema.required:
            document["required"] = schema.required
        errors = sorted(error.message for error in Draft7Validator(document).iter_errors(config))
        if errors:
            raise PolicyConfigError(f"{policy.name}: {'; '.join(errors)}")
    return config


def collector(found: list[str], prefix: str = "") -> ReportViolation:
    """A reporter that appends each message (after ``prefix``) to ``found``."""

    def report(message: str, urn: str | None = None) -> None:
        found.append(f"{prefix}{message}")

    return report


def policy_resource(resource_type: str, props: dict[str, Any], name: str = "thing") -> PolicyResource:
    urn = f"urn:pulumi:dev::kubepar::{resource_type}::{name}"
    return PolicyResource(resource_type, props, urn, name, options(), None, None, [], {})


def stack_check(
    resources: list[PolicyResource], only: str | None = None, config: dict[str, Any] | None = None
) -> list[str]:
    """Messages of every stack rule (or the one named) for these resources, with their config as the CLI
    hands it over (``config``: the named rule's)."""
    found: list[str] = []
    for policy in kp.STACK_POLICIES:
        if only is not None and policy.name != only:
            continue
        args = StackValidationArgs(resources, reconciled(policy, config if only is not None else None))
        policy.validate(args, collector(found, prefix=f"{policy.name}: "))
    return found


def recorded(capture: Capture) -> list[PolicyResource]:
    return [policy_resource(r.type, r.inputs, r.name) for r in capture.resources]


def violations(capture: Capture, level: EnforcementLevel) -> list[str]:
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
