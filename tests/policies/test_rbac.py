"""RBAC rules: every type and version that grants rights, Patch variants included."""

from __future__ import annotations

from typing import Any

import pytest

from components.ground.hub_rights import HUB_ROLE_NAME, role_rules
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


@pytest.mark.parametrize(
    "labels",
    [
        # Aggregation happens only on "true"; other labels set to "true" aggregate nothing.
        {"rbac.authorization.k8s.io/aggregate-to-admin": "false"},
        {"example.com/aggregate-to-admin": "true", "team": "true"},
    ],
)
def test_labels_that_aggregate_nothing_pass(labels: dict[str, str]) -> None:
    role = {"kind": "ClusterRole", "metadata": {"name": "r", "labels": labels}, "rules": []}
    assert check("no-aggregated-cluster-role", f"{RBAC}:ClusterRole", role) == []


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


# ------------------------------------------------------------- what makes built-in admin dangerous


def _role(kind: str, *rules: dict[str, Any], name: str = "r") -> dict[str, Any]:
    return {"kind": kind, "metadata": {"name": name}, "rules": list(rules)}


@pytest.mark.parametrize("kind", ["Role", "ClusterRole", "RolePatch", "ClusterRolePatch"])
@pytest.mark.parametrize(
    ("rule", "phrase"),
    [
        ({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}, "get on secrets"),
        ({"apiGroups": [""], "resources": ["secrets"], "verbs": ["list", "watch"]}, "list, watch on secrets"),
        ({"resources": ["secrets"], "verbs": ["watch"]}, "watch on secrets"),
        ({"apiGroups": ["*"], "resources": ["Secrets"], "verbs": ["list"]}, "list on secrets"),
        ({"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]}, "on pods/exec"),
        ({"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["get"]}, "on pods/exec"),
        ({"apiGroups": [""], "resources": ["*/exec"], "verbs": ["create"]}, "on pods/exec"),
        ({"apiGroups": [""], "resources": ["pods/attach"], "verbs": ["create"]}, "on pods/attach"),
        ({"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]}, "create on secrets"),
        ({"apiGroups": [""], "resources": ["pods/ephemeralcontainers"], "verbs": ["patch"]}, "ephemeralcontainers"),
        ({"apiGroups": [""], "resources": ["*/ephemeralcontainers"], "verbs": ["update"]}, "ephemeralcontainers"),
        ({"apiGroups": [""], "resources": ["namespaces"], "verbs": ["patch"]}, "patch on namespaces"),
        ({"apiGroups": [""], "resources": ["pods/portforward"], "verbs": ["create"]}, "on pods/portforward"),
        ({"apiGroups": [""], "resources": ["pods"], "verbs": ["create"]}, "create on pods"),
        ({"apiGroups": [""], "resources": ["pods"], "verbs": ["patch"]}, "patch on pods"),
        ({"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["create"]}, "create on deployments"),
        ({"apiGroups": ["apps"], "resources": ["daemonsets"], "verbs": ["update"]}, "update on daemonsets"),
        ({"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": ["create"]}, "create on cronjobs"),
        ({"apiGroups": ["*"], "resources": ["statefulsets"], "verbs": ["create"]}, "create on statefulsets"),
        ({"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]}, "serviceaccounts/token"),
        ({"apiGroups": [""], "resources": ["nodes/proxy"], "verbs": ["get"]}, "get on nodes/proxy"),
        (
            {
                "apiGroups": ["certificates.k8s.io"],
                "resources": ["certificatesigningrequests/approval"],
                "verbs": ["update"],
            },
            "certificatesigningrequests/approval",
        ),
        ({"apiGroups": ["certificates.k8s.io"], "resources": ["signers"], "verbs": ["approve"]}, "approve on signers"),
        ({"apiGroups": ["certificates.k8s.io"], "resources": ["signers"], "verbs": ["sign"]}, "sign on signers"),
        (
            {
                "apiGroups": ["admissionregistration.k8s.io"],
                "resources": ["mutatingwebhookconfigurations"],
                "verbs": ["create"],
            },
            "mutatingwebhookconfigurations",
        ),
        (
            {
                "apiGroups": ["admissionregistration.k8s.io"],
                "resources": ["validatingwebhookconfigurations"],
                "verbs": ["delete"],
            },
            "validatingwebhookconfigurations",
        ),
        ({"apiGroups": [""], "resources": ["persistentvolumes"], "verbs": ["create"]}, "create on persistentvolumes"),
    ],
)
def test_rights_that_make_admin_dangerous_are_refused(kind: str, rule: dict[str, Any], phrase: str) -> None:
    found = check("no-dangerous-rbac-rights", f"{RBAC}:{kind}", _role(kind, rule))
    assert len(found) == 1 and phrase in found[0], found
    assert "allowedRoles" in found[0]


@pytest.mark.parametrize(
    "rule",
    [
        {"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "create", "update"]},
        {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list"]},
        {"apiGroups": ["apps"], "resources": ["deployments/scale"], "verbs": ["update"]},
        # Secrets of another API group are not Secrets.
        {"apiGroups": ["example.com"], "resources": ["secrets"], "verbs": ["get"]},
        {"apiGroups": [""], "resources": ["persistentvolumes"], "verbs": ["get", "list"]},
        {"apiGroups": [""], "resources": ["namespaces", "pods/ephemeralcontainers"], "verbs": ["get", "list"]},
        {"apiGroups": ["certificates.k8s.io"], "resources": ["certificatesigningrequests"], "verbs": ["create"]},
    ],
)
def test_narrow_rights_pass(rule: dict[str, Any]) -> None:
    assert check("no-dangerous-rbac-rights", f"{RBAC}:Role", _role("Role", rule)) == []


def test_a_dangerous_role_passes_only_when_allow_listed_by_its_real_name() -> None:
    rule = {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}
    allowed = {"allowedRoles": ["secret-reader"]}
    assert (
        check("no-dangerous-rbac-rights", f"{RBAC}:Role", _role("Role", rule, name="secret-reader"), config=allowed)
        == []
    )
    assert check("no-dangerous-rbac-rights", f"{RBAC}:Role", _role("Role", rule, name="other"), config=allowed) != []
    unnamed = {"kind": "Role", "metadata": {}, "rules": [rule]}
    assert check("no-dangerous-rbac-rights", f"{RBAC}:Role", unnamed, config=allowed) != []


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        ("Group", "system:serviceaccounts"),
        ("Group", "system:serviceaccounts:kubepar"),
        ("Group", "system:authenticated"),
        ("Group", "system:unauthenticated"),
        ("Group", "system:masters"),
        ("Group", "system:nodes"),
        ("Group", "system:bootstrappers:kubeadm:default-node-token"),
        ("User", "system:anonymous"),
    ],
)
def test_subjects_that_mean_many_are_refused(kind: str, name: str) -> None:
    binding = _binding("RoleBinding", "view-pods", subjects=[{"kind": kind, "name": name}])
    found = check("no-built-in-role-binding", f"{RBAC}:RoleBinding", binding)
    assert any(f"grants rights to '{name}'" in m for m in found), found


@pytest.mark.parametrize(
    "subject",
    [
        {"kind": "ServiceAccount", "name": "kubepar-scheduler", "namespace": "kubepar"},
        {"kind": "User", "name": "system:serviceaccount:kubepar:kubepar-scheduler"},
        {"kind": "Group", "name": "data-team"},
    ],
)
def test_one_account_or_a_team_passes(subject: dict[str, str]) -> None:
    binding = _binding("RoleBinding", "view-pods", subjects=[subject])
    assert check("no-built-in-role-binding", f"{RBAC}:RoleBinding", binding) == []


def _hub_rules(extra: dict[str, Any] | None = None, drop: str | None = None) -> list[dict[str, Any]]:
    rules = [rule for rule in role_rules() if rule["resources"][0] != drop]
    return [*rules, *([extra] if extra else [])]


def test_the_hubs_role_passes_by_name_and_exact_rules_and_nothing_like_it_does() -> None:
    def found(kind: str, name: str, rules: list[dict[str, Any]]) -> list[str]:
        document = {"kind": kind, "metadata": {"name": name}, "rules": rules}
        return check("no-dangerous-rbac-rights", f"{RBAC}:{kind}", document)

    assert found("Role", HUB_ROLE_NAME, _hub_rules()) == []
    # The same rules under another name, or as a ClusterRole (cluster-wide), are refused.
    assert found("Role", "kubepar-hub-2", _hub_rules())
    assert found("ClusterRole", HUB_ROLE_NAME, _hub_rules())
    # The hub's name with one right more (reading Secrets) is refused, naming the hub's rules.
    more = found("Role", HUB_ROLE_NAME, _hub_rules({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}))
    assert more and "hub_rights.py" in more[0]
    # One rule fewer is not the hub's Role either: it still creates pods, so it must match exactly.
    assert found("Role", HUB_ROLE_NAME, _hub_rules(drop="deployments"))
