"""Namespace: Pod Security labels, ServiceAccounts, default-deny both ways (reachability: test_network_policies)."""

from __future__ import annotations

from tests.conftest import only, program


def test_namespace_enforces_baseline_and_warns_on_restricted() -> None:
    namespace = only(program("local").kubernetes("Namespace"))
    assert namespace["metadata"]["name"] == "kubepar"
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/warn"] == "restricted"


def test_namespace_name_comes_from_config() -> None:
    capture = program("local", namespace="stats-team")
    assert only(capture.kubernetes("Namespace"))["metadata"]["name"] == "stats-team"
    assert {d["metadata"]["namespace"] for d in capture.kubernetes("Deployment")} == {"stats-team"}


def test_default_policy_denies_all_ingress_and_egress_in_the_namespace() -> None:
    policies = program("local").kubernetes("NetworkPolicy")
    deny = only([p for p in policies if p["spec"]["podSelector"] == {} and "egress" not in p["spec"]])
    assert deny["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in deny["spec"]
