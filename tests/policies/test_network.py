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


# ------------------------------------------------------------- everyone and everything, in other spellings

EVERY_NAMESPACE = [
    {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "Exists"}]},
    {"matchExpressions": [{"key": "team", "operator": "NotIn", "values": ["absent"]}]},
    {"matchExpressions": [{"key": "made-up", "operator": "DoesNotExist"}]},
    {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system"]}]},
]


@pytest.mark.parametrize("selector", EVERY_NAMESPACE)
@pytest.mark.parametrize("pods", [None, {}, {"matchExpressions": [{"key": "x", "operator": "DoesNotExist"}]}])
def test_selectors_that_match_every_namespace_are_everyone(selector: dict[str, Any], pods: Any) -> None:
    peer: dict[str, Any] = {"namespaceSelector": selector}
    if pods is not None:
        peer["podSelector"] = pods
    open_policy = _policy({"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": [peer]}]}, name="open")
    found = _found(_policy(DENY_ALL), open_policy)
    assert any("NetworkPolicy 'open' allows ingress from everyone" in m for m in found), found


@pytest.mark.parametrize(
    "peer",
    [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}},
        {"namespaceSelector": {"matchExpressions": [{"key": "team", "operator": "In", "values": ["data"]}]}},
        {"namespaceSelector": {"matchExpressions": [{"key": "team", "operator": "Exists"}]}},
        {"namespaceSelector": {}, "podSelector": {"matchLabels": {"app": "prometheus"}}},
    ],
)
def test_selectors_that_narrow_pass(peer: dict[str, Any]) -> None:
    narrow = _policy({"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": [peer]}]}, name="narrow")
    assert _found(_policy(DENY_ALL), narrow) == []


@pytest.mark.parametrize(
    "egress",
    [
        [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["192.0.2.0/24"]}}]}],
        [{"to": [{"ipBlock": {"cidr": "0.0.0.0/1"}}, {"ipBlock": {"cidr": "128.0.0.0/1"}}]}],
        [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"port": 1, "endPort": 65535}]}],
        [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"protocol": "TCP"}]}],
        [{"to": [{"ipBlock": {"cidr": "::/0", "except": ["2001:db8::/32"]}}]}],
        [{"to": [{"ipBlock": {"cidr": "::ffff:0.0.0.0/96"}}]}],
        [{"to": [{"namespaceSelector": EVERY_NAMESPACE[0]}]}],
    ],
)
def test_egress_to_everything_in_other_spellings_is_reported(egress: list[dict[str, Any]]) -> None:
    open_policy = _policy({"podSelector": {}, "policyTypes": ["Egress"], "egress": egress}, name="open")
    found = _found(_policy(DENY_ALL), open_policy)
    assert any("NetworkPolicy 'open' allows egress to everyone" in m for m in found), found


@pytest.mark.parametrize(
    "egress",
    [
        # The internet on every port, with the cluster and the metadata server kept out (a session's own).
        [
            {
                "to": [
                    {
                        "ipBlock": {
                            "cidr": "0.0.0.0/0",
                            "except": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"],
                        }
                    }
                ]
            }
        ],
        [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"port": 8000, "endPort": 8100}]}],
        [{"to": [{"ipBlock": {"cidr": "10.1.2.3/32"}}]}],
    ],
)
def test_egress_that_keeps_the_cluster_out_or_names_ports_passes(egress: list[dict[str, Any]]) -> None:
    allow = _policy({"podSelector": {}, "policyTypes": ["Egress"], "egress": egress}, name="allow")
    assert _found(_policy(DENY_ALL), allow) == []


PATCH = "kubernetes:networking.k8s.io/v1:NetworkPolicyPatch"


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"ingress": [{}]}, "allows ingress from everyone"),
        ({"egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]}, "allows egress to everyone"),
        ({"policyTypes": ["Egress"]}, "drops a direction from policyTypes"),
        ({"podSelector": {"matchLabels": {"app": "nothing"}}}, "moves the policy to other pods"),
    ],
)
def test_a_patch_that_opens_the_default_deny_is_refused(spec: dict[str, Any], problem: str) -> None:
    patch = policy_resource(PATCH, {"kind": "NetworkPolicyPatch", "metadata": {"name": "deny-all"}, "spec": spec})
    found = stack_check([patch], only="no-opening-network-policy-patch")
    assert len(found) == 1 and problem in found[0], found


def test_a_patch_that_adds_a_narrow_door_passes() -> None:
    spec = {"ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "x"}}}], "ports": [{"port": 80}]}]}
    patch = policy_resource(PATCH, {"kind": "NetworkPolicyPatch", "metadata": {"name": "deny-all"}, "spec": spec})
    assert stack_check([patch], only="no-opening-network-policy-patch") == []
