"""The dangerous-rights table of the RBAC rule, row by row, verb by verb, with the negative case beside each.

The rows are written out here, not read from the rule: a row deleted from
the rule, or a verb, group or resource changed in it, fails the row's own
case. Source of the rows: Kubernetes' "RBAC good practices" (privilege
escalation risks: Secrets, workload creation, PersistentVolume creation,
nodes/proxy, escalate/bind/impersonate, CSR approval, token request,
admission webhooks) and the Pod Security label on namespaces.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.policies.helpers import RBAC, check

WRITE = ("create", "update", "patch")
WORKLOADS = "creates workloads, which run as any service account of the namespace"
ADMISSION = "rewrites or waves through every request"
# (API group, resource, the verbs that make it dangerous or None for any verb, what the report says it gives).
ROWS: list[tuple[str, str, tuple[str, ...] | None, str]] = [
    ("", "secrets", ("get", "list", "watch"), "reads Secrets (every password and token in the namespace)"),
    ("", "secrets", ("create",), "creates token Secrets, which mint tokens of any service account"),
    ("", "pods/ephemeralcontainers", ("update", "patch"), "adds a container of any image to a running pod"),
    ("", "namespaces", ("update", "patch"), "relabels namespaces (switches Pod Security off)"),
    ("", "pods/exec", None, "runs commands in running pods"),
    ("", "pods/attach", None, "attaches to running pods"),
    ("", "pods/portforward", None, "opens any pod's ports"),
    ("", "serviceaccounts/token", None, "mints tokens of any service account"),
    ("", "nodes/proxy", None, "reaches every kubelet's API (commands in any pod of the node)"),
    ("", "persistentvolumes", WRITE, "creates volumes onto any node path or disk"),
    ("", "pods", WRITE, WORKLOADS),
    ("", "replicationcontrollers", WRITE, WORKLOADS),
    ("apps", "deployments", WRITE, WORKLOADS),
    ("apps", "replicasets", WRITE, WORKLOADS),
    ("apps", "statefulsets", WRITE, WORKLOADS),
    ("apps", "daemonsets", WRITE, WORKLOADS),
    ("batch", "jobs", WRITE, WORKLOADS),
    ("batch", "cronjobs", WRITE, WORKLOADS),
    ("certificates.k8s.io", "certificatesigningrequests/approval", None, "approves certificate requests"),
    ("certificates.k8s.io", "signers", ("approve", "sign"), "approves or signs certificates for any identity"),
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations", (*WRITE, "delete"), ADMISSION),
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations", (*WRITE, "delete"), ADMISSION),
    ("admissionregistration.k8s.io", "validatingadmissionpolicies", (*WRITE, "delete"), ADMISSION),
    ("admissionregistration.k8s.io", "validatingadmissionpolicybindings", (*WRITE, "delete"), ADMISSION),
    ("admissionregistration.k8s.io", "mutatingadmissionpolicies", (*WRITE, "delete"), ADMISSION),
    ("admissionregistration.k8s.io", "mutatingadmissionpolicybindings", (*WRITE, "delete"), ADMISSION),
]
# Verbs tried on rows that name none (any verb is dangerous there): the usual ones, and a made-up one.
ANY_VERBS = ("get", "create", "delete", "frobnicate")
# A verb Kubernetes has that none of the write-only rows lists.
HARMLESS_VERB = "deletecollection"


def _cases() -> list[tuple[str, str, str, str]]:
    return [
        (group, resource, verb, gives)
        for group, resource, verbs, gives in ROWS
        for verb in (verbs if verbs is not None else ANY_VERBS)
    ]


def _role(group: str, resource: str, verb: str) -> dict[str, Any]:
    rules = [{"apiGroups": [group], "resources": [resource], "verbs": [verb]}]
    return {"kind": "Role", "metadata": {"name": "r"}, "rules": rules}


def _reports(group: str, resource: str, verb: str) -> list[str]:
    return check("no-dangerous-rbac-rights", f"{RBAC}:Role", _role(group, resource, verb))


@pytest.mark.parametrize(("group", "resource", "verb", "gives"), _cases())
def test_each_dangerous_verb_of_each_row_is_refused_saying_what_it_gives(
    group: str, resource: str, verb: str, gives: str
) -> None:
    found = _reports(group, resource, verb)
    assert any(f"grants {verb} on {resource} ({gives})" in message for message in found), found


@pytest.mark.parametrize(("group", "resource", "verb", "gives"), _cases())
def test_the_same_right_in_another_api_group_is_not_that_right(
    group: str, resource: str, verb: str, gives: str
) -> None:
    # The exact group: core's "" is not "apps", and a custom group with the same plural is harmless.
    other = "example.com" if group else "apps"
    assert not any(f" on {resource} (" in message for message in _reports(other, resource, verb))


@pytest.mark.parametrize(("group", "resource", "verbs", "gives"), [row for row in ROWS if row[2] is not None])
def test_a_verb_the_row_does_not_list_is_not_that_right(
    group: str, resource: str, verbs: tuple[str, ...], gives: str
) -> None:
    assert HARMLESS_VERB not in verbs
    assert not any(f"({gives})" in message for message in _reports(group, resource, HARMLESS_VERB))


def test_a_resource_no_row_names_passes_with_every_verb() -> None:
    for verb in ("get", "create", "update", "patch", "delete"):
        assert _reports("", "configmaps", verb) == []
    assert _reports("apps", "controllerrevisions", "create") == []


@pytest.mark.parametrize(
    ("resources", "verb", "phrase"),
    [
        # RBAC's own matching: '*/<subresource>' is every resource's subresource.
        (["*/exec"], "create", "create on pods/exec"),
        # Names are lowercase in RBAC; a capitalised one is read as the right it names.
        (["Secrets"], "GET", "get on secrets"),
    ],
)
def test_rights_written_another_way_are_still_those_rights(resources: list[str], verb: str, phrase: str) -> None:
    role = {
        "kind": "Role",
        "metadata": {"name": "r"},
        "rules": [{"apiGroups": [""], "resources": resources, "verbs": [verb]}],
    }
    assert any(phrase in message for message in check("no-dangerous-rbac-rights", f"{RBAC}:Role", role))


def test_a_rule_without_api_groups_is_the_core_group() -> None:
    role = {"kind": "Role", "metadata": {"name": "r"}, "rules": [{"resources": ["secrets"], "verbs": ["list"]}]}
    assert any("list on secrets" in m for m in check("no-dangerous-rbac-rights", f"{RBAC}:Role", role))


def test_several_verbs_of_one_row_are_reported_once_sorted() -> None:
    role = {
        "kind": "Role",
        "metadata": {"name": "r"},
        "rules": [
            {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["patch", "create"]},
            {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["patch", "create"]},
        ],
    }
    (message,) = check("no-dangerous-rbac-rights", f"{RBAC}:Role", role)
    assert message.count("create, patch on deployments") == 1
