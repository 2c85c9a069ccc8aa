"""The NetworkPolicy rule: a policy that selects the workload and means something, both ways."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import program
from tests.policies.helpers import NETWORK_POLICY, policy_resource, recorded, stack_check, workload

RULE = "namespace-network-policy"
LABELS = {"app.kubernetes.io/component": "worker"}
DENY_ALL = {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def _policy(spec: dict[str, Any], namespace: str = "kubepar", name: str = "p") -> Any:
    return policy_resource(
        NETWORK_POLICY,
        {"kind": "NetworkPolicy", "metadata": {"name": name, "namespace": namespace}, "spec": spec},
        name,
    )


def _found(*policies: Any, kind: str = "Deployment", namespace: str | None = "kubepar") -> list[str]:
    resource_type, props = workload(kind, labels=LABELS, namespace=namespace)
    return stack_check([policy_resource(resource_type, props, "w"), *policies], only=RULE)


def test_default_deny_both_ways_fences_every_workload_kind() -> None:
    for kind in ("Pod", "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicaSet"):
        assert _found(_policy(DENY_ALL), kind=kind) == [], kind


@pytest.mark.parametrize(
    ("policies", "message"),
    [
        ([], "has no NetworkPolicy that restricts its ingress"),
        # Egress-only does not restrict ingress.
        ([_policy({"podSelector": {}, "policyTypes": ["Egress"]})], "restricts its ingress"),
        # Ingress-only does not restrict egress.
        ([_policy({"podSelector": {}})], "has no NetworkPolicy that restricts its egress"),
        # A policy in another namespace, or one that selects other pods.
        ([_policy(DENY_ALL, namespace="other")], "restricts its ingress"),
        (
            [_policy({**DENY_ALL, "podSelector": {"matchLabels": {"app.kubernetes.io/component": "db"}}})],
            "restricts its ingress",
        ),
        (
            [
                _policy(
                    {
                        "podSelector": {
                            "matchExpressions": [
                                {"key": "app.kubernetes.io/component", "operator": "NotIn", "values": ["worker"]}
                            ]
                        },
                        "policyTypes": ["Ingress", "Egress"],
                    }
                )
            ],
            "restricts its ingress",
        ),
    ],
)
def test_a_workload_not_selected_by_a_restricting_policy_is_reported(policies: list[Any], message: str) -> None:
    found = _found(*policies)
    assert any(message in m for m in found), found


@pytest.mark.parametrize(
    "ingress",
    [
        [{}],
        [{"ports": [{"port": 80}]}],
        [{"from": [{"namespaceSelector": {}}]}],
        [{"from": [{"namespaceSelector": {}, "podSelector": {}}]}],
        [{"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}],
        [{"from": [{"ipBlock": {"cidr": "0.0.0.0/1"}}, {"ipBlock": {"cidr": "128.0.0.0/1"}}]}],
        [{"from": [{"ipBlock": {"cidr": "::/0", "except": ["::1/128"]}}]}],
    ],
)
def test_an_allow_all_ingress_policy_does_not_count_and_is_reported(ingress: list[dict[str, Any]]) -> None:
    open_policy = _policy({"podSelector": {}, "policyTypes": ["Ingress"], "ingress": ingress}, name="open")
    found = _found(_policy(DENY_ALL), open_policy)
    assert any("NetworkPolicy 'open' allows ingress from everyone" in m for m in found), found


def test_an_allow_all_egress_policy_is_reported() -> None:
    open_policy = _policy({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{}]}, name="open")
    found = _found(_policy(DENY_ALL), open_policy)
    assert any("NetworkPolicy 'open' allows egress to everyone" in m for m in found), found


def test_narrow_allowances_pass() -> None:
    allow = _policy(
        {
            "podSelector": {"matchLabels": LABELS},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/component": "scheduler"}}}]}],
            "egress": [
                {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}], "ports": [{"port": 443}]},
                {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"port": 443}]},
            ],
        },
        name="allow",
    )
    assert _found(_policy(DENY_ALL), allow) == []


def test_a_workload_without_a_namespace_is_not_skipped() -> None:
    found = _found(_policy(DENY_ALL), namespace=None)
    assert any("has no namespace" in m for m in found), found


def test_the_real_program_without_its_policies_is_reported() -> None:
    records = [r for r in recorded(program("local")) if "NetworkPolicy" not in r.resource_type]
    found = stack_check(records, only=RULE)
    assert found and all("has no NetworkPolicy that restricts" in m for m in found), found
