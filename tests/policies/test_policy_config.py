"""The pack's config as the CLI hands it over: declared keys typed, a misspelled key named, not ignored."""

from __future__ import annotations

from typing import Any

import pytest

from policies import kubepar_policies as kp
from tests.policies.helpers import CLUSTER, POOL, RBAC, check, policy_resource, stack_check
from tools.harness.pack import PolicyConfigError

SECRET_READER = {
    "kind": "Role",
    "metadata": {"name": "secret-reader"},
    "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}],
}
NAMED_BINDING = {"kind": "ClusterRoleBinding", "metadata": {"name": "crb"}, "roleRef": {"name": "view-pods"}}


def test_an_allow_list_under_its_declared_key_allows() -> None:
    assert (
        check("no-dangerous-rbac-rights", f"{RBAC}:Role", SECRET_READER, config={"allowedRoles": ["secret-reader"]})
        == []
    )
    binding = f"{RBAC}:ClusterRoleBinding"
    assert (
        check("no-cluster-role-binding", binding, NAMED_BINDING, config={"allowedClusterRoleBindings": ["crb"]}) == []
    )


@pytest.mark.parametrize(
    ("rule", "resource_type", "props", "config", "words"),
    [
        ("no-dangerous-rbac-rights", f"{RBAC}:Role", SECRET_READER, {"allowedRole": ["secret-reader"]}, "allowedRoles"),
        (
            "no-cluster-role-binding",
            f"{RBAC}:ClusterRoleBinding",
            NAMED_BINDING,
            {"allowedClusterRolebindings": ["crb"]},
            "allowedClusterRoleBindings",
        ),
    ],
)
def test_a_misspelled_key_is_named_with_the_one_meant(
    rule: str, resource_type: str, props: dict[str, Any], config: dict[str, Any], words: str
) -> None:
    found = check(rule, resource_type, props, config=config)
    key = next(iter(config))
    assert any(f"has '{key}', which the rule does not read" in m and f"did you mean {words}?" in m for m in found), (
        found
    )


@pytest.mark.parametrize(
    ("rule", "config"),
    [
        ("no-dangerous-rbac-rights", {"allowedRoles": "secret-reader"}),
        ("no-cluster-role-binding", {"allowedClusterRoleBindings": [7]}),
        ("cost-worker-pool-vcpu-cap", {"maxWorkerVcpus": "many"}),
    ],
)
def test_a_value_of_the_wrong_type_is_refused_as_the_cli_refuses_it(rule: str, config: dict[str, Any]) -> None:
    with pytest.raises(PolicyConfigError, match=rule):
        check(rule, f"{RBAC}:Role", SECRET_READER, config=config)


def test_every_rule_describes_itself_in_a_sentence() -> None:
    for family, policies in kp.FAMILIES.items():
        for policy in policies:
            description = policy.description
            assert description[:1].isupper() and description.endswith((".", ")")), (family, policy.name)
            assert not description.startswith("XX"), policy.name


ON_DEMAND_POOL = {
    "name": "workers",
    "autoscaling": {"totalMaxNodeCount": 2},
    "nodeConfig": {"machineType": "e2-standard-4", "labels": {"kubepar.dev/pool": "workers"}, "spot": False},
}
OPEN_SERVICE = {
    "kind": "Service",
    "metadata": {"name": "s"},
    "spec": {"type": "LoadBalancer", "ports": [{"port": 9999, "targetPort": 9999}]},
}


@pytest.mark.parametrize(
    ("rule", "resource_type", "props", "key", "value"),
    [
        # Each configurable rule whose key the tests above do not reach, with a value that changes its verdict.
        ("gke-deletion-protection", CLUSTER, {"deletionProtection": False}, "protectedStacks", ["dev"]),
        ("cost-spot-workers-outside-prod", POOL, ON_DEMAND_POOL, "protectedStacks", ["dev"]),
        ("no-public-worker-port", "kubernetes:core/v1:Service", OPEN_SERVICE, "privatePorts", [9999]),
        ("no-public-worker-port", "kubernetes:core/v1:Service", OPEN_SERVICE, "privateServices", ["s"]),
    ],
)
def test_each_configurable_key_works_through_the_clis_path_and_a_misspelling_is_named(
    rule: str, resource_type: str, props: dict[str, Any], key: str, value: list[Any]
) -> None:
    before = check(rule, resource_type, props)
    after = check(rule, resource_type, props, config={key: value})
    assert before != after
    misspelled = check(rule, resource_type, props, config={key.lower() + "s": value})
    assert any("which the rule does not read" in m and f"did you mean {key}?" in m for m in misspelled), misspelled


def test_a_stack_rules_config_goes_the_same_path() -> None:
    service = policy_resource("kubernetes:core/v1:Service", OPEN_SERVICE, "s")
    rule = "no-public-private-port-in-stack"
    assert stack_check([service], only=rule) == []
    assert stack_check([service], only=rule, config={"privatePorts": [9999]}) != []
    found = stack_check([service], only=rule, config={"privateport": [9999]})
    assert any("has 'privateport', which the rule does not read" in m for m in found), found
