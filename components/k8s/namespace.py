"""Namespace: the stack's namespace, its ServiceAccounts and a default-deny policy.

Owns: the Namespace (with Pod Security admission labels), one ServiceAccount
per workload role, a NetworkPolicy that denies all ingress and egress unless
another policy allows it, and one that lets every pod reach the cluster DNS.
Does not: bind any role. kubepar needs no Kubernetes API access from inside
its pods, so there is no Role, RoleBinding or ClusterRoleBinding anywhere.
Invariant: no ServiceAccount token is mounted into any pod.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components.k8s.labels import labels, namespace_labels, object_meta


@dataclass(frozen=True, kw_only=True)
class NamespaceArgs:
    name: pulumi.Input[str]
    """Namespace name; users type it in kubectl, so it is fixed, not generated."""
    stack: str
    """Stack name, for labels."""
    roles: tuple[str, ...]
    """One ServiceAccount per engine role (component name)."""
    workload_identity: dict[str, str] = field(default_factory=dict)
    """Component -> Google service account: that role's ServiceAccount gets a fixed name
    (``kubepar-<component>``, which the Google account's binding names) and GKE's annotation."""


class Namespace(pulumi.ComponentResource):
    name: pulumi.Output[str]
    service_accounts: dict[str, pulumi.Output[str]]
    """ServiceAccount name per role (component name)."""

    def __init__(self, name: str, args: NamespaceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kubepar:k8s:Namespace", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={
                "name": args.name,
                "labels": {
                    **namespace_labels(args.stack),
                    # Baseline, not restricted: rocker's RStudio init must start as root.
                    # Restricted is still reported, so drift shows up as warnings.
                    "pod-security.kubernetes.io/enforce": "baseline",
                    "pod-security.kubernetes.io/warn": "restricted",
                    "pod-security.kubernetes.io/audit": "restricted",
                },
            },
            opts=child,
        )
        self.name = namespace.metadata.name

        self.service_accounts = {}
        for role in args.roles:
            google = args.workload_identity.get(role)
            account = k8s.core.v1.ServiceAccount(
                f"{name}-{role}",
                metadata=object_meta(
                    self.name,
                    labels(args.stack, role),
                    name=f"kubepar-{role}" if google else None,
                    annotations={"iam.gke.io/gcp-service-account": google} if google else None,
                ),
                # No pod of ours talks to the Kubernetes API.
                automount_service_account_token=False,
                opts=child,
            )
            self.service_accounts[role] = account.metadata.name

        isolate(name, self.name, args.stack, child)

        self.register_outputs({"name": self.name, "service_accounts": self.service_accounts})


def isolate(prefix: str, namespace: pulumi.Input[str], stack: str, opts: pulumi.ResourceOptions) -> None:
    """``<prefix>-default-deny`` (nothing in or out unless another policy allows it) and ``<prefix>-dns``
    (every pod of ``namespace`` resolves names through the cluster DNS, and reaches nothing else in kube-system)."""
    k8s.networking.v1.NetworkPolicy(
        f"{prefix}-default-deny",
        metadata=object_meta(namespace, namespace_labels(stack)),
        spec={"pod_selector": {}, "policy_types": ["Ingress", "Egress"]},
        opts=opts,
    )
    k8s.networking.v1.NetworkPolicy(
        f"{prefix}-dns",
        metadata=object_meta(namespace, namespace_labels(stack)),
        # kube-dns on GKE and most distributions.
        spec={
            "pod_selector": {},
            "policy_types": ["Egress"],
            "egress": [
                {
                    "to": [
                        {
                            "namespace_selector": {"match_labels": {"kubernetes.io/metadata.name": "kube-system"}},
                            "pod_selector": {"match_labels": {"k8s-app": "kube-dns"}},
                        }
                    ],
                    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                }
            ],
        },
        opts=opts,
    )
