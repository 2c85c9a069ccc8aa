"""Disruption rules: a sweep on Spot nodes loses no retries to preemptions.

Owns: deciding whether a pod may land on Spot or preemptible nodes (node
selector, node affinity, tolerations, kubepar's Spot pools), and holding
every Indexed Job or CronJob that may to a podFailurePolicy that ignores
disruptions before any rule that would count them. Part of the workloads
family (workloads.py serves these rules with its own).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from .common import POOL_LABEL, WORKER_POOL, WORKER_TAINT_KEY, describe, is_kind, rule, string_list

# Node labels GKE puts on Spot and preemptible nodes, with the values that mean so.
SPOT_LABELS = {
    "cloud.google.com/gke-spot": ("true",),
    "cloud.google.com/gke-preemptible": ("true",),
    "cloud.google.com/gke-provisioning": ("spot", "preemptible"),
}
# Exit codes of a container stopped by a preemption: SIGKILL and SIGTERM.
SIGNAL_EXIT_CODES = (137, 143)


def _expression_may_select_spot(expression: Mapping[str, Any], pools: set[str]) -> bool:
    """Whether one node-selector requirement admits a Spot node (or a pool the config names as Spot)."""
    key, operator = str(expression.get("key")), expression.get("operator")
    values = {str(v) for v in expression.get("values") or []}
    spot_values = set(SPOT_LABELS.get(key, ())) | (pools if key == POOL_LABEL else set())
    if not spot_values:
        return False
    if operator == "In":
        return bool(values & spot_values)
    if operator == "NotIn":
        return not spot_values <= values
    return operator == "Exists"


def _affinity_may_select_spot(spec: Mapping[str, Any], pools: set[str]) -> bool:
    node = (spec.get("affinity") or {}).get("nodeAffinity") or {}
    required = (node.get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms") or []
    preferred = [p.get("preference") or {} for p in node.get("preferredDuringSchedulingIgnoredDuringExecution") or []]
    return any(
        _expression_may_select_spot(expression, pools)
        for term in [*required, *preferred]
        for expression in [*(term.get("matchExpressions") or []), *(term.get("matchFields") or [])]
    )


def _tolerates_spot(spec: Mapping[str, Any], pools: set[str]) -> bool:
    for toleration in spec.get("tolerations") or []:
        key = toleration.get("key")
        # No key with Exists tolerates every taint, Spot's and the worker pool's included.
        if not key and toleration.get("operator") == "Exists":
            return True
        if str(key) in SPOT_LABELS:
            return True
        # The worker pool's taint is all that keeps other pods off it: tolerating it, with no
        # selector, lets the scheduler put the pod there.
        if str(key) == WORKER_TAINT_KEY and WORKER_POOL in pools:
            return True
    return False


def _on_spot(spec: Mapping[str, Any], config: Mapping[str, Any]) -> bool:
    """Whether a pod may land on Spot or preemptible nodes: by node selector (GKE's capacity labels, or a
    kubepar pool the config names as Spot), node affinity (required or preferred), or a toleration of
    Spot's taint or of the worker pool's taint when that pool is Spot (a key-less Exists tolerates every
    taint)."""
    selector = spec.get("nodeSelector") or {}
    pools = {str(p) for p in config.get("spotPools") or []}
    if any(str(selector.get(key)) in values for key, values in SPOT_LABELS.items()):
        return True
    if selector.get(POOL_LABEL) in pools:
        return True
    return _affinity_may_select_spot(spec, pools) or _tolerates_spot(spec, pools)


def _shadows_disruptions(rule: Mapping[str, Any]) -> bool:
    """Whether a podFailurePolicy rule would act on a preempted pod before a later Ignore rule could."""
    if rule.get("action") == "Ignore":
        return False
    conditions = rule.get("onPodConditions") or []
    if any(c.get("type") == "DisruptionTarget" and c.get("status", "True") == "True" for c in conditions):
        return True
    codes = rule.get("onExitCodes")
    if not codes:
        return False
    values = {int(v) for v in codes.get("values") or [] if isinstance(v, int) or str(v).isdigit()}
    if codes.get("operator") == "In":
        # A list of the script's own codes passes; a preempted container exits 137 or 143.
        return bool(values & set(SIGNAL_EXIT_CODES))
    return not set(SIGNAL_EXIT_CODES) <= values


def _ignores_disruption(rule: Mapping[str, Any]) -> bool:
    return rule.get("action") == "Ignore" and any(
        c.get("type") == "DisruptionTarget" and c.get("status", "True") == "True"
        for c in rule.get("onPodConditions") or []
    )


def _job_spec(props: Mapping[str, Any], resource_type: str) -> Mapping[str, Any] | None:
    if is_kind(resource_type, "Job", group="batch"):
        return props.get("spec") or {}
    if is_kind(resource_type, "CronJob", group="batch"):
        return ((props.get("spec") or {}).get("jobTemplate") or {}).get("spec") or {}
    return None


def _ignores_disruptions(args: ResourceValidationArgs, report: ReportViolation) -> None:
    job = _job_spec(args.props or {}, args.resource_type)
    if job is None or job.get("completionMode") != "Indexed":
        return
    pod = (job.get("template") or {}).get("spec") or {}
    if not _on_spot(pod, args.get_config()):
        return
    rules = list((job.get("podFailurePolicy") or {}).get("rules") or [])
    # Rules apply in order: the first that matches a failed pod decides.
    first = next((index for index, r in enumerate(rules) if _ignores_disruption(r)), None)
    if first is None:
        report(
            f"{describe(args)} is an Indexed Job on Spot nodes that counts preemptions as failures: a few "
            "preemptions would use up a task's retries. Add a podFailurePolicy rule "
            "{action: Ignore, onPodConditions: [{type: DisruptionTarget}]}.",
            None,
        )
        return
    shadowing = [index for index, r in enumerate(rules[:first]) if _shadows_disruptions(r)]
    if shadowing:
        report(
            f"{describe(args)} ignores disruptions only in podFailurePolicy rule {first}, after rule "
            f"{shadowing[0]} ({rules[shadowing[0]].get('action')}), which a preempted pod matches first "
            f"(it exits {' or '.join(map(str, SIGNAL_EXIT_CODES))}). Move the Ignore rule to the top.",
            None,
        )


POLICIES: list[ResourceValidationPolicy] = [
    rule(
        "indexed-job-ignores-disruptions",
        "Every Indexed Job (or CronJob) that may run on Spot nodes ignores disruptions in its podFailurePolicy, "
        "so preemptions cost a retry-free restart, not the task's retry budget.",
        _ignores_disruptions,
        config={"spotPools": string_list(["workers"])},
    ),
]
