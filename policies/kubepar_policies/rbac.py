"""RBAC rules: no object of the stack hands out Kubernetes API rights kubepar never needs.

Owns: every resource type that creates or changes RBAC (Role, ClusterRole,
RoleBinding, ClusterRoleBinding, any API version, and their Patch variants).
kubepar's pods call no Kubernetes API, but for the hub (engine hub), which
starts the users' pods through one namespaced Role: that Role is allowed by
name and exact rules (components/ground/hub_rights.py), and any other Role or
ClusterRole with its rights is still refused.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from components.ground.hub_rights import HUB_ROLE_NAME, same_rules

from .common import describe, is_kind, object_name, rule, string_list

RBAC_GROUP = "rbac.authorization.k8s.io"
# Kubernetes' own user-facing roles: each grants broad rights (admin and edit
# include reading Secrets and running code in any pod of the namespace).
BUILT_IN_ROLES = ("cluster-admin", "admin", "edit")
# Verbs that let a holder grant itself more than it has.
ESCALATING_VERBS = ("escalate", "bind", "impersonate")
# Kubernetes' built-in groups ("system:" prefix) all mean many at once:
# everyone (system:authenticated, system:unauthenticated), every service account
# of the cluster or of a namespace (system:serviceaccounts[:<ns>]), every node,
# every bootstrap token, the superusers (system:masters).
BUILT_IN_GROUP_PREFIX = "system:"
ANONYMOUS_USER = "system:anonymous"
AGGREGATE_LABEL = "rbac.authorization.k8s.io/aggregate-to-"
ALL = "*"
WRITE_VERBS = ("create", "update", "patch")
READ_VERBS = ("get", "list", "watch")
# What makes built-in admin dangerous, as (API group, resource, verbs, what it gives):
# None as verbs means any verb. A workload runs as any ServiceAccount of its
# namespace, so creating one is using every account's rights.
DANGEROUS_RIGHTS: tuple[tuple[str, str, tuple[str, ...] | None, str], ...] = (
    ("", "secrets", READ_VERBS, "reads Secrets (every password and token in the namespace)"),
    # The token controller fills a created kubernetes.io/service-account-token Secret for the account it names.
    ("", "secrets", ("create",), "creates token Secrets, which mint tokens of any service account"),
    ("", "pods/ephemeralcontainers", ("update", "patch"), "adds a container of any image to a running pod"),
    # Pod Security admission reads a namespace's labels: whoever rewrites them switches it off.
    ("", "namespaces", ("update", "patch"), "relabels namespaces (switches Pod Security off)"),
    ("", "pods/exec", None, "runs commands in running pods"),
    ("", "pods/attach", None, "attaches to running pods"),
    ("", "pods/portforward", None, "opens any pod's ports"),
    ("", "serviceaccounts/token", None, "mints tokens of any service account"),
    ("", "nodes/proxy", None, "reaches every kubelet's API (commands in any pod of the node)"),
    ("", "persistentvolumes", WRITE_VERBS, "creates volumes onto any node path or disk"),
    *(
        (group, resource, WRITE_VERBS, "creates workloads, which run as any service account of the namespace")
        for group, resource in (
            ("", "pods"),
            ("", "replicationcontrollers"),
            ("apps", "deployments"),
            ("apps", "replicasets"),
            ("apps", "statefulsets"),
            ("apps", "daemonsets"),
            ("batch", "jobs"),
            ("batch", "cronjobs"),
        )
    ),
    ("certificates.k8s.io", "certificatesigningrequests/approval", None, "approves certificate requests"),
    ("certificates.k8s.io", "signers", ("approve", "sign"), "approves or signs certificates for any identity"),
    *(
        ("admissionregistration.k8s.io", resource, (*WRITE_VERBS, "delete"), "rewrites or waves through every request")
        for resource in (
            "mutatingwebhookconfigurations",
            "validatingwebhookconfigurations",
            "validatingadmissionpolicies",
            "validatingadmissionpolicybindings",
            "mutatingadmissionpolicies",
            "mutatingadmissionpolicybindings",
        )
    ),
)


def _is_binding(resource_type: str) -> bool:
    return is_kind(resource_type, "RoleBinding", "ClusterRoleBinding", group=RBAC_GROUP)


def _is_role(resource_type: str) -> bool:
    return is_kind(resource_type, "Role", "ClusterRole", group=RBAC_GROUP)


def _built_in_binding(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not _is_binding(args.resource_type):
        return
    role = str((args.props.get("roleRef") or {}).get("name") or "")
    if role in BUILT_IN_ROLES or role.startswith("system:"):
        report(
            f"{describe(args)} binds the built-in role '{role}'. kubepar's pods need no Kubernetes API access; "
            "delete the binding, or bind a namespaced Role with only the verbs needed.",
            None,
        )
    for subject in args.props.get("subjects") or []:
        name = str(subject.get("name") or "")
        kind = str(subject.get("kind") or "")
        group = kind not in ("User", "ServiceAccount")
        if (group and name.startswith(BUILT_IN_GROUP_PREFIX)) or name == ANONYMOUS_USER:
            report(
                f"{describe(args)} grants rights to '{name}', a built-in group: everyone, every service account "
                "of a namespace or the cluster, every node, or the superusers. Name the one ServiceAccount instead.",
                None,
            )


def _role_rules(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not _is_role(args.resource_type):
        return
    for entry in args.props.get("rules") or []:
        for field in ("verbs", "resources", "nonResourceURLs"):
            if any("*" in str(item) for item in entry.get(field) or []):
                report(f"{describe(args)} grants '*' in {field}. List the exact {field} it needs.", None)
        escalating = sorted(set(entry.get("verbs") or []) & set(ESCALATING_VERBS))
        if escalating:
            report(
                f"{describe(args)} grants {', '.join(escalating)}: its holder can give itself any right. "
                "Remove those verbs.",
                None,
            )


def _matches(items: list[str], wanted: str) -> bool:
    """Whether an RBAC list (apiGroups, verbs) holds ``wanted`` or '*'."""
    return ALL in items or wanted in items


def _resource_matches(resources: list[str], wanted: str) -> bool:
    """RBAC's own resource matching: exact, '*', or '*/<subresource>'."""
    if ALL in resources or wanted in resources:
        return True
    _, _, subresource = wanted.partition("/")
    return bool(subresource) and f"*/{subresource}" in resources


def granted(rules: list[dict[str, Any]]) -> list[str]:
    """What of DANGEROUS_RIGHTS these rules grant, one phrase per right."""
    found: list[str] = []
    for entry in rules:
        # RBAC names are case-sensitive and lowercase; a capitalised one is read as the right it names.
        groups = [str(group).lower() for group in entry.get("apiGroups") or [""]]
        resources = [str(resource).lower() for resource in entry.get("resources") or []]
        verbs = [str(verb).lower() for verb in entry.get("verbs") or []]
        for group, resource, dangerous_verbs, gives in DANGEROUS_RIGHTS:
            if not _matches(groups, group) or not _resource_matches(resources, resource):
                continue
            hit = verbs if dangerous_verbs is None else [v for v in dangerous_verbs if _matches(verbs, v)]
            if hit and (phrase := f"{', '.join(sorted(set(hit)))} on {resource} ({gives})") not in found:
                found.append(phrase)
    return found


def _dangerous_rights(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not _is_role(args.resource_type):
        return
    name = object_name(args)
    if name is not None and name in (args.get_config().get("allowedRoles") or []):
        return
    rules = list(args.props.get("rules") or [])
    hub_role = is_kind(args.resource_type, "Role", group=RBAC_GROUP) and name == HUB_ROLE_NAME
    if hub_role and same_rules(rules):
        # The hub's one Role, namespaced, exactly as components/ground/hub_rights.py declares it.
        return
    rights = granted(rules)
    if rights and hub_role:
        report(
            f"{describe(args)} is named as the hub's Role but does not grant exactly its rules "
            f"(components/ground/hub_rights.py): it grants {'; '.join(rights)}. Give it exactly those rules.",
            None,
        )
    elif rights:
        report(
            f"{describe(args)} grants {'; '.join(rights)}. kubepar's pods call no Kubernetes API; remove these "
            "rights, or set metadata.name and add that name to allowedRoles in the policy config.",
            None,
        )


def _aggregation(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not is_kind(args.resource_type, "ClusterRole", group=RBAC_GROUP):
        return
    if args.props.get("aggregationRule"):
        report(
            f"{describe(args)} is an aggregated ClusterRole: it inherits the rules of every ClusterRole whose "
            "labels match, built-in ones included. List its rules instead.",
            None,
        )
    labels = (args.props.get("metadata") or {}).get("labels") or {}
    for label, value in labels.items():
        if str(label).startswith(AGGREGATE_LABEL) and str(value) == "true":
            target = str(label)[len(AGGREGATE_LABEL) :]
            report(
                f"{describe(args)} adds its rules to the built-in '{target}' role ({label}). Remove the label.",
                None,
            )


def _cluster_role_binding(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not is_kind(args.resource_type, "ClusterRoleBinding", group=RBAC_GROUP):
        return
    allowed = args.get_config().get("allowedClusterRoleBindings") or []
    # Only the name the object really gets counts: a logical name says nothing
    # about what lands in the cluster, and a generated name cannot be listed.
    name = object_name(args)
    if name is None or name not in allowed:
        shown = name or f"(generated from '{args.name}')"
        report(
            f"ClusterRoleBinding {shown} grants cluster-wide rights. Use a RoleBinding in the stack's namespace, "
            "or set metadata.name and add that name to allowedClusterRoleBindings in the policy config.",
            None,
        )


POLICIES: list[ResourceValidationPolicy] = [
    rule(
        "no-built-in-role-binding",
        "No binding, any API version or Patch, to cluster-admin, admin, edit or a system: role, "
        "and no rights for a built-in group (everyone, all service accounts, system:masters, ...).",
        _built_in_binding,
    ),
    rule(
        "no-wildcard-or-escalating-rbac",
        "Roles and ClusterRoles list exact verbs and resources, never '*', and never escalate, bind or impersonate.",
        _role_rules,
    ),
    rule(
        "no-dangerous-rbac-rights",
        "Roles and ClusterRoles grant none of what makes admin dangerous (Secrets, exec, attach, port-forward, "
        "workloads, tokens, nodes/proxy, certificate approval, admission webhooks, PersistentVolumes) "
        "unless allow-listed by name.",
        _dangerous_rights,
        config={"allowedRoles": string_list([])},
    ),
    rule(
        "no-aggregated-cluster-role",
        "No aggregated ClusterRole, and no ClusterRole that aggregates itself into a built-in role.",
        _aggregation,
    ),
    rule(
        "no-cluster-role-binding",
        "No ClusterRoleBinding unless its metadata.name is allow-listed: kubepar needs no cluster-wide rights.",
        _cluster_role_binding,
        config={"allowedClusterRoleBindings": string_list([])},
    ),
]
