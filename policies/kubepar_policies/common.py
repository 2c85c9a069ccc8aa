"""What every rule family shares: resource kinds, pod templates, reporting helpers.

Owns: recognising a resource type whatever its API version and whether it
is a Patch; finding the pod template of any workload kind; naming a
resource in a message; the shared address-range check (from
components/ground/cidrs.py, so config and the pack refuse the same lists).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

# kubepar's ground floor (standard library and PyYAML only), shared with
# config: the pack's virtual environment finds it through a .pth file the
# Makefile writes, the tests through the project root.
from components.ground import cidrs, quantities
from components.ground.pools import POOL_LABEL, WORKER_POOL, WORKER_TAINT_KEY

__all__ = ["POOL_LABEL", "WORKER_POOL", "WORKER_TAINT_KEY", "cidrs", "quantities"]

MANDATORY = EnforcementLevel.MANDATORY
ADVISORY = EnforcementLevel.ADVISORY

COMPONENT_LABEL = "app.kubernetes.io/component"

# kubernetes:<group>/<version>:<Kind>, any version, with or without Patch.
_K8S_TYPE = re.compile(r"kubernetes:(?P<group>[^:]*):(?P<kind>[A-Za-z]+?)(?P<patch>Patch)?")
WORKLOAD_KINDS = {
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
}
Validate = Callable[[ResourceValidationArgs, ReportViolation], Any]


def kind_of(resource_type: str) -> tuple[str, str] | None:
    """(API group/version, Kind) of a Kubernetes type, Patch or not; None for other providers."""
    match = _K8S_TYPE.fullmatch(resource_type)
    if not match:
        return None
    return match["group"], match["kind"]


def is_kind(resource_type: str, *kinds: str, group: str | None = None) -> bool:
    found = kind_of(resource_type)
    if found is None or found[1] not in kinds:
        return False
    return group is None or found[0].split("/")[0] == group


def is_workload(resource_type: str) -> bool:
    found = kind_of(resource_type)
    return found is not None and found[1] in WORKLOAD_KINDS and found[0].split("/")[0] in ("core", "apps", "batch")


def describe(args: ResourceValidationArgs) -> str:
    props = args.props or {}
    kind = props.get("kind") or args.resource_type.rsplit(":", 1)[-1]
    name = (props.get("metadata") or {}).get("name") or args.name
    return f"{kind} '{name}'"


def stack_of(urn: str) -> str:
    """The stack name inside a URN: urn:pulumi:<stack>::<project>::..."""
    return urn.split("::", 1)[0].rsplit(":", 1)[-1]


def pod_template(props: Mapping[str, Any], resource_type: str) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """(pod metadata, pod spec) of a workload's props, for every workload kind."""
    found = kind_of(resource_type)
    kind = found[1] if found else ""
    spec = props.get("spec") or {}
    if kind == "Pod":
        return props.get("metadata") or {}, spec
    if kind == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    template = spec.get("template") or {}
    return template.get("metadata") or {}, template.get("spec") or {}


def containers(pod_spec: Mapping[str, Any], *, ephemeral: bool = True) -> Iterator[Mapping[str, Any]]:
    """Every container of a pod: init, main and (unless asked not to) ephemeral debug containers."""
    yield from pod_spec.get("initContainers") or []
    yield from pod_spec.get("containers") or []
    if ephemeral:
        yield from pod_spec.get("ephemeralContainers") or []


def image_repository(image: str) -> str:
    """``docker.io/rocker/rstudio:4.5.1`` and ``rocker/rstudio@sha256:..`` -> ``rocker/rstudio``."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)
    if ":" in last[-1]:
        name = name[: name.rindex(":")]
    for prefix in ("docker.io/library/", "docker.io/", "index.docker.io/"):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def selects(selector: Mapping[str, Any] | None, labels: Mapping[str, Any]) -> bool:
    """Whether a Kubernetes label selector (matchLabels and matchExpressions) selects these labels."""
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression.get("key"), expression.get("operator")
        values = expression.get("values") or []
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def workloads(
    validate: Callable[[ResourceValidationArgs, ReportViolation, Mapping[str, Any], Mapping[str, Any]], None],
) -> Validate:
    """Wrap a rule so it sees (pod metadata, pod spec) of every workload kind."""

    def run(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if is_workload(args.resource_type):
            metadata, spec = pod_template(args.props or {}, args.resource_type)
            validate(args, report, metadata, spec)

    return run


def object_name(args: ResourceValidationArgs) -> str | None:
    """The name the object gets in Kubernetes: metadata.name, or None when Pulumi will generate one."""
    name = ((args.props or {}).get("metadata") or {}).get("name")
    return str(name) if name else None


def range_problem(values: Any) -> str | None:
    """What is wrong with a list of source ranges: padding, non-ranges, or too wide a union."""
    values = list(values or [])
    padded = [v for v in values if isinstance(v, str) and v != v.strip()]
    if padded:
        return f"has padded entries {padded!r}; write each range alone"
    networks, bad = cidrs.parse(values)
    if bad:
        return f"has entries that are not ranges: {bad!r}"
    return cidrs.too_open(networks)


class _CheckedArgs:
    """The arguments a rule's checks see, whose config is checked against the keys the rule declares when
    a check reads it: the CLI validates only the declared keys' types, so a misspelled key would
    otherwise do nothing, silently (an allow-list that never allows)."""

    def __init__(self, args: Any, report: ReportViolation, policy: str, known: set[str]) -> None:
        self._args, self._report, self._policy, self._known = args, report, policy, known

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._args, attribute)

    def get_config(self) -> Mapping[str, Any]:
        config = self._args.get_config()
        for key in sorted(set(config) - self._known):
            close = difflib.get_close_matches(key, sorted(self._known), n=1)
            hint = f"did you mean {close[0]}?" if close else f"it reads {', '.join(sorted(self._known)) or 'none'}"
            self._report(
                f"the policy config of {self._policy} has '{key}', which the rule does not read, so it would do "
                f"nothing; {hint}",
                None,
            )
        return config


def _checked(check: Callable[[Any, ReportViolation], Any], policy: str, known: set[str]) -> Any:
    """``check`` seeing its arguments through _CheckedArgs: a config key it does not declare is reported."""

    def run(args: Any, report: ReportViolation) -> Any:
        return check(_CheckedArgs(args, report, policy, known), report)

    return run


def rule(
    name: str,
    description: str,
    validate: Validate | list[Validate],
    level: EnforcementLevel = MANDATORY,
    config: dict[str, dict[str, Any]] | None = None,
) -> ResourceValidationPolicy:
    checks = validate if isinstance(validate, list) else [validate]
    return ResourceValidationPolicy(
        name=name,
        description=description,
        validate=[_checked(check, name, set(config or {})) for check in checks],
        enforcement_level=level,
        config_schema=PolicyConfigSchema(properties=config) if config else None,
    )


def stack_rule(
    name: str,
    description: str,
    validate: Callable[[StackValidationArgs, ReportViolation], Any],
    config: dict[str, dict[str, Any]] | None = None,
) -> StackValidationPolicy:
    """A mandatory stack rule, whose config is checked as a resource rule's is."""
    return StackValidationPolicy(
        name=name,
        description=description,
        validate=_checked(validate, name, set(config or {})),
        enforcement_level=MANDATORY,
        config_schema=PolicyConfigSchema(properties=config) if config else None,
    )


def string_list(default: list[str]) -> dict[str, Any]:
    return {"type": "array", "items": {"type": "string"}, "default": default}
