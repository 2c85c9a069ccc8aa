"""RBAC rules: every type and version that grants rights, Patch variants included."""

from __future__ import annotations

from typing import Any

import pytest

from tests.policies.helpers import RBAC, check

VERSIONS = ["rbac.authorization.k8s.io/v1", "rbac.authorization.k8s.io/v1beta1", "rbac.authorization.k8s.io/v1alpha1"]


def _binding(kind: str, role: str, **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "metadata": {"name": "b"}, "roleRef": {"kind": "ClusterRole", "name": role}, **extra}


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("kind", ["RoleBinding", "ClusterRoleBinding", "RoleBindingPatch", "ClusterRoleBindingPatch"])
@pytest.mark.parametrize("role", ["cluster-admin", "admin", "edit", "system:controller:deployment-controller"])
def test_bindings_to_built_in_roles_are_refused_in_every_form(version: str, kind: str, role: str) -> None:
    found = check("no-built-in-role-binding", f"kubernetes:{version}:{kind}", _binding(kind, role))
    assert any(f"binds the built-in role '{role}'" in m for m in found), found


def test_a_binding_to_a_narrow_role_passes() -> None:
    assert check("no-built-in-role-binding", f"{RBAC}:RoleBinding", _binding("RoleBinding", "view-pods")) == []


@pytest.mark.parametrize("group", ["system:masters", "system:authenticated", "system:unauthenticated"])
def test_rights_for_everyone_or_superusers_are_refused(group: str) -> None:
    binding = _binding("RoleBinding", "view-pods", subjects=[{"kind": "Group", "name": group}])
    found = check("no-built-in-role-binding", f"{RBAC}:RoleBinding", binding)
    assert any(f"grants rights to '{group}'" in m for m in found), found


@pytest.mark.parametrize("kind", ["Role", "ClusterRole", "RolePatch", "ClusterRolePatch"])
@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ([{"verbs": ["*"], "resources": ["pods"]}], "grants '*' in verbs"),
        ([{"verbs": ["get"], "resources": ["*"]}], "grants '*' in resources"),
        ([{"verbs": ["get"], "resources": ["pods/*"]}], "grants '*' in resources"),
        ([{"verbs": ["get"], "nonResourceURLs": ["*"]}], "grants '*' in nonResourceURLs"),
        ([{"verbs": ["escalate"], "resources": ["roles"]}], "grants escalate"),
        ([{"verbs": ["get", "bind"], "resources": ["clusterroles"]}], "grants bind"),
        ([{"verbs": ["impersonate"], "resources": ["users"]}], "grants impersonate"),
    ],
)
def test_wildcards_and_escalating_verbs_are_refused(kind: str, rules: list[dict[str, Any]], message: str) -> None:
    role = {"kind": kind, "metadata": {"name": "r"}, "rules": rules}
    found = check("no-wildcard-or-escalating-rbac", f"kubernetes:rbac.authorization.k8s.io/v1beta1:{kind}", role)
    assert any(message in m for m in found), found


def test_exact_verbs_and_resources_pass() -> None:
    role = {"kind": "Role", "metadata": {"name": "r"}, "rules": [{"verbs": ["get", "list"], "resources": ["pods"]}]}
    assert check("no-wildcard-or-escalating-rbac", f"{RBAC}:Role", role) == []


@pytest.mark.parametrize(
    ("props", "message"),
    [
        (
            {"aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"x": "y"}}]}},
            "is an aggregated ClusterRole",
        ),
        (
            {"metadata": {"name": "r", "labels": {"rbac.authorization.k8s.io/aggregate-to-admin": "true"}}},
            "adds its rules to the built-in 'admin' role",
        ),
        (
            {"metadata": {"name": "r", "labels": {"rbac.authorization.k8s.io/aggregate-to-edit": "true"}}},
            "adds its rules to the built-in 'edit' role",
        ),
    ],
)
def test_aggregation_into_or_from_other_roles_is_refused(props: dict[str, Any], message: str) -> None:
    role = {"kind": "ClusterRole", "metadata": {"name": "r"}, "rules": [], **props}
    for resource_type in (f"{RBAC}:ClusterRole", "kubernetes:rbac.authorization.k8s.io/v1:ClusterRolePatch"):
        found = check("no-aggregated-cluster-role", resource_type, role)
        assert any(message in m for m in found), found
    assert check("no-aggregated-cluster-role", f"{RBAC}:ClusterRole", {"kind": "ClusterRole", "rules": []}) == []


def test_cluster_role_binding_allow_list_matches_the_real_name_only() -> None:
    resource_type = f"{RBAC}:ClusterRoleBinding"
    named = _binding("ClusterRoleBinding", "view-pods")
    named["metadata"]["name"] = "crb"
    allow = {"allowedClusterRoleBindings": ["crb"]}
    assert "grants cluster-wide rights" in check("no-cluster-role-binding", resource_type, named)[0]
    assert check("no-cluster-role-binding", resource_type, named, config=allow) == []
    # The logical name matches the list, but the object gets another (generated) name.
    generated = {"kind": "ClusterRoleBinding", "metadata": {}, "roleRef": {"name": "view-pods"}}
    found = check("no-cluster-role-binding", resource_type, generated, resource_name="crb", config=allow)
    assert found and "(generated from 'crb')" in found[0]
    # A real name that differs from an allow-listed logical name is refused.
    other = _binding("ClusterRoleBinding", "view-pods")
    other["metadata"]["name"] = "something-else"
    assert check("no-cluster-role-binding", resource_type, other, resource_name="crb", config=allow)
    patch = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBindingPatch"
    assert check("no-cluster-role-binding", patch, other)
