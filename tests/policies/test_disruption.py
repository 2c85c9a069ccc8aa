"""Disruption rules: every way onto Spot counts, and preemptions never cost a sweep's retries."""

from __future__ import annotations

from typing import Any

import pytest

from tests.policies.helpers import check, pod_spec


def _indexed_job(pod: dict[str, Any], policy: dict[str, Any] | None, kind: str = "Job") -> tuple[str, dict[str, Any]]:
    job: dict[str, Any] = {"completionMode": "Indexed", "completions": 10, "template": {"spec": pod}}
    if policy is not None:
        job["podFailurePolicy"] = policy
    spec = {"jobTemplate": {"spec": job}} if kind == "CronJob" else job
    return f"kubernetes:batch/v1:{kind}", {"kind": kind, "metadata": {"name": "sweep"}, "spec": spec}


IGNORE = {"rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]}


@pytest.mark.parametrize("kind", ["Job", "CronJob"])
@pytest.mark.parametrize(
    "pod",
    [
        pod_spec(nodeSelector={"kubepar.dev/pool": "workers"}),
        pod_spec(nodeSelector={"cloud.google.com/gke-spot": "true"}),
        pod_spec(tolerations=[{"key": "cloud.google.com/gke-spot", "operator": "Exists"}]),
    ],
)
@pytest.mark.parametrize(
    "policy",
    [
        None,
        {"rules": [{"action": "FailIndex", "onPodConditions": [{"type": "DisruptionTarget"}]}]},
        {"rules": [{"action": "Ignore", "onExitCodes": {"operator": "In", "values": [143]}}]},
        {"rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "False"}]}]},
    ],
)
def test_indexed_jobs_on_spot_must_ignore_disruptions(kind: str, pod: dict[str, Any], policy: Any) -> None:
    rule = "indexed-job-ignores-disruptions"
    resource_type, props = _indexed_job(pod, policy, kind)
    assert "counts preemptions as failures" in check(rule, resource_type, props)[0]
    resource_type, props = _indexed_job(pod, IGNORE, kind)
    assert check(rule, resource_type, props) == []


def test_indexed_jobs_off_spot_and_plain_jobs_are_left_alone() -> None:
    rule = "indexed-job-ignores-disruptions"
    resource_type, props = _indexed_job(pod_spec(nodeSelector={"kubepar.dev/pool": "system"}), None)
    assert check(rule, resource_type, props) == []
    resource_type, props = _indexed_job(pod_spec(nodeSelector={"kubepar.dev/pool": "workers"}), None)
    props["spec"]["completionMode"] = "NonIndexed"
    assert check(rule, resource_type, props) == []


def _spot_affinity(key: str, operator: str, values: list[str], preferred: bool = False) -> dict[str, Any]:
    term = {"matchExpressions": [{"key": key, "operator": operator, "values": values}]}
    if preferred:
        return {
            "nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "preference": term}]}
        }
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}}


SPOT_PLACEMENTS = {
    "affinity-spot": pod_spec(affinity=_spot_affinity("cloud.google.com/gke-spot", "In", ["true"])),
    "affinity-preferred": pod_spec(affinity=_spot_affinity("cloud.google.com/gke-spot", "In", ["true"], True)),
    "affinity-pool": pod_spec(affinity=_spot_affinity("kubepar.dev/pool", "In", ["workers"])),
    "affinity-not-system": pod_spec(affinity=_spot_affinity("kubepar.dev/pool", "NotIn", ["system"])),
    "affinity-exists": pod_spec(affinity=_spot_affinity("cloud.google.com/gke-preemptible", "Exists", [])),
    "provisioning-spot": pod_spec(nodeSelector={"cloud.google.com/gke-provisioning": "spot"}),
    "preemptible": pod_spec(nodeSelector={"cloud.google.com/gke-preemptible": "true"}),
    "blanket-toleration": pod_spec(tolerations=[{"operator": "Exists"}]),
    "worker-taint-toleration": pod_spec(
        tolerations=[{"key": "kubepar.dev/workers", "operator": "Equal", "value": "true", "effect": "NoSchedule"}]
    ),
    "preemptible-toleration": pod_spec(tolerations=[{"key": "cloud.google.com/gke-preemptible", "operator": "Exists"}]),
}


@pytest.mark.parametrize("kind", ["Job", "CronJob", "JobPatch"])
@pytest.mark.parametrize("placement", sorted(SPOT_PLACEMENTS))
def test_every_way_onto_spot_counts(kind: str, placement: str) -> None:
    rule = "indexed-job-ignores-disruptions"
    resource_type, props = _indexed_job(SPOT_PLACEMENTS[placement], None, kind.removesuffix("Patch"))
    resource_type = resource_type + ("Patch" if kind.endswith("Patch") else "")
    assert "counts preemptions as failures" in check(rule, resource_type, props)[0]
    resource_type, props = _indexed_job(SPOT_PLACEMENTS[placement], IGNORE, kind.removesuffix("Patch"))
    assert check(rule, resource_type, props) == []


@pytest.mark.parametrize(
    "pod",
    [
        pod_spec(affinity=_spot_affinity("cloud.google.com/gke-spot", "NotIn", ["true"])),
        pod_spec(affinity=_spot_affinity("kubepar.dev/pool", "In", ["system"])),
        pod_spec(nodeSelector={"cloud.google.com/gke-provisioning": "standard"}),
        pod_spec(tolerations=[{"key": "kubepar.dev/other", "operator": "Exists"}]),
    ],
)
def test_placements_off_spot_are_left_alone(pod: dict[str, Any]) -> None:
    resource_type, props = _indexed_job(pod, None)
    assert check("indexed-job-ignores-disruptions", resource_type, props) == []


def test_tolerating_the_worker_taint_counts_only_where_the_worker_pool_is_spot() -> None:
    pod = pod_spec(tolerations=[{"key": "kubepar.dev/workers", "operator": "Exists"}])
    resource_type, props = _indexed_job(pod, None)
    assert check("indexed-job-ignores-disruptions", resource_type, props, config={"spotPools": []}) == []
    assert check("indexed-job-ignores-disruptions", resource_type, props) != []


def _rules(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"rules": list(rules)}


IGNORE_RULE = {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}


@pytest.mark.parametrize(
    "first",
    [
        {"action": "FailJob", "onExitCodes": {"operator": "NotIn", "values": [0]}},
        {"action": "FailIndex", "onExitCodes": {"operator": "In", "values": [1, 137]}},
        {"action": "Count", "onExitCodes": {"operator": "In", "values": [143]}},
        {"action": "FailJob", "onPodConditions": [{"type": "DisruptionTarget"}]},
        {"action": "FailIndex", "onExitCodes": {"containerName": "sweep", "operator": "NotIn", "values": [0, 137]}},
    ],
)
def test_an_ignore_rule_shadowed_by_an_earlier_rule_is_refused(first: dict[str, Any]) -> None:
    resource_type, props = _indexed_job(
        pod_spec(nodeSelector={"kubepar.dev/pool": "workers"}), _rules(first, IGNORE_RULE)
    )
    found = check("indexed-job-ignores-disruptions", resource_type, props)
    assert len(found) == 1 and "Move the Ignore rule to the top" in found[0], found
    # The same rules with the Ignore rule first pass.
    resource_type, props = _indexed_job(
        pod_spec(nodeSelector={"kubepar.dev/pool": "workers"}), _rules(IGNORE_RULE, first)
    )
    assert check("indexed-job-ignores-disruptions", resource_type, props) == []


@pytest.mark.parametrize(
    "first",
    [
        {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}},
        {"action": "Ignore", "onExitCodes": {"operator": "In", "values": [143]}},
        {"action": "FailIndex", "onExitCodes": {"operator": "NotIn", "values": [0, 137, 143]}},
    ],
)
def test_earlier_rules_a_preempted_pod_never_matches_pass(first: dict[str, Any]) -> None:
    resource_type, props = _indexed_job(
        pod_spec(nodeSelector={"kubepar.dev/pool": "workers"}), _rules(first, IGNORE_RULE)
    )
    assert check("indexed-job-ignores-disruptions", resource_type, props) == []
