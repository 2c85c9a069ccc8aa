"""The hub's Kubernetes rights: the one Role in kubepar, shared by the stack and the policy pack.

Owns: the Role's name and its exact rules, as the Kubernetes API spells them.
The hub (KubeSpawner and kubepar's spawn hook) calls exactly these: pods and
home claims for sessions; events to report a start's progress; the per-user
worker Deployment, its Service and its NetworkPolicy (created by the hook,
replaced when a leftover of an earlier session still holds the name); the
users' quota, read to refuse a start that cannot fit. No Secrets, no exec,
no ServiceAccounts, nothing cluster-wide.
Invariant: the pack allows a Role with these rights only under this name,
with exactly these rules; the stack declares exactly this.
"""

from __future__ import annotations

HUB_ROLE_NAME = "kubepar-hub"
"""The Role (in the users' namespace) and its RoleBinding to the hub's ServiceAccount."""

HUB_ROLE_RULES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    # (API group, resource, verbs), in the order the Role lists them.
    ("", "pods", ("get", "list", "watch", "create", "delete")),
    ("", "persistentvolumeclaims", ("get", "list", "watch", "create", "delete")),
    ("", "events", ("get", "list", "watch")),
    ("", "services", ("get", "create", "delete")),
    ("", "resourcequotas", ("get",)),
    ("apps", "deployments", ("get", "create", "delete")),
    ("networking.k8s.io", "networkpolicies", ("get", "create", "delete")),
)


def role_rules() -> list[dict[str, list[str]]]:
    """The rules as a Role's ``rules`` (camelCase, as the API and the pack see them)."""
    return [
        {"apiGroups": [group], "resources": [resource], "verbs": list(verbs)}
        for group, resource, verbs in HUB_ROLE_RULES
    ]


def same_rules(rules: list[dict[str, object]]) -> bool:
    """Whether ``rules`` grant exactly HUB_ROLE_RULES: each resource once, with exactly its verbs."""
    seen: dict[tuple[str, str], tuple[str, ...]] = {}
    for entry in rules:
        groups = list(entry.get("apiGroups") or [""])  # type: ignore[call-overload]
        resources = list(entry.get("resources") or [])  # type: ignore[call-overload]
        if entry.get("resourceNames") or entry.get("nonResourceURLs") or len(groups) != 1:
            return False
        for resource in resources:
            key = (str(groups[0]), str(resource))
            if key in seen:
                return False
            seen[key] = tuple(sorted(str(verb) for verb in entry.get("verbs") or []))  # type: ignore[attr-defined]
    wanted = {(group, resource): tuple(sorted(verbs)) for group, resource, verbs in HUB_ROLE_RULES}
    return seen == wanted


def acme_account_id(stack: str) -> str:
    """The Google service account of the hub's HTTPS front (6-30 characters, project-unique)."""
    return f"kubepar-{stack}-acme"[:30].rstrip("-")


def acme_account_email(stack: str, project: str) -> str:
    return f"{acme_account_id(stack)}@{project}.iam.gserviceaccount.com"
