"""RBAC rules: no object of the stack hands out Kubernetes API rights kubepar never needs.

Owns: every resource type that creates or changes RBAC (Role, ClusterRole,
RoleBinding, ClusterRoleBinding, any API version, and their Patch variants).
kubepar's pods call no Kubernetes API, so the stack has no RBAC object of its
own; these rules stop a contribution that adds one carelessly.
"""

from __future__ import annotations

from pulumi_policy import ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from .common import describe, is_kind, object_name, rule, string_list

RBAC_GROUP = "rbac.authorization.k8s.io"
# Kubernetes' own user-facing roles: each grants broad rights (admin and edit
# include reading Secrets and running code in any pod of the namespace).
BUILT_IN_ROLES = ("cluster-admin", "admin", "edit")
# Verbs that let a holder grant itself more than it has.
ESCALATING_VERBS = ("escalate", "bind", "impersonate")
# Groups that mean "everyone" or "superuser".
BROAD_GROUPS = ("system:masters", "system:authenticated", "system:unauthenticated")
AGGREGATE_LABEL = "rbac.authorization.k8s.io/aggregate-to-"


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
        if name in BROAD_GROUPS or name == "system:anonymous":
            report(f"{describe(args)} grants rights to '{name}', which is everyone or a superuser group.", None)


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
        "and no rights for everyone or system:masters.",
        _built_in_binding,
    ),
    rule(
        "no-wildcard-or-escalating-rbac",
        "Roles and ClusterRoles list exact verbs and resources, never '*', and never escalate, bind or impersonate.",
        _role_rules,
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
