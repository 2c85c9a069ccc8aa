"""Admission rules: what the pack can see, and the cluster's own backstops, stay in place.

Owns: refusing resource types the pack does not know (custom resources that
make workloads or doors through in-cluster controllers: Helm controllers,
GitOps applications, rollouts, job sets, meshes' and ingress controllers'
routes, CNI-specific policies), unless allow-listed by type; admission
webhooks that send requests outside the cluster; and Namespaces or
NamespacePatches that switch off or lower Pod Security.
Invariant: every object of the stack is of a type some rule of this pack
reasons about, or one a reviewer has named in ``allowedResourceTypes``.
"""

from __future__ import annotations

from pulumi_policy import ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from .common import describe, is_kind, kind_of, rule, string_list

# Kubernetes types the pack reasons about, by (API group, Kind), any version, Patch or not.
KNOWN_KUBERNETES = {
    ("core", kind)
    for kind in (
        "Namespace",
        "ServiceAccount",
        "ConfigMap",
        "Secret",
        "PersistentVolumeClaim",
        "PersistentVolume",
        "Service",
        "Pod",
        "ReplicationController",
        "ResourceQuota",
        "LimitRange",
    )
} | {
    ("apps", "Deployment"),
    ("apps", "StatefulSet"),
    ("apps", "DaemonSet"),
    ("apps", "ReplicaSet"),
    ("batch", "Job"),
    ("batch", "CronJob"),
    ("networking.k8s.io", "NetworkPolicy"),
    ("networking.k8s.io", "Ingress"),
    ("policy", "PodDisruptionBudget"),
    ("rbac.authorization.k8s.io", "Role"),
    ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "RoleBinding"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("storage.k8s.io", "StorageClass"),
    ("scheduling.k8s.io", "PriorityClass"),
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
    # The Gateway API's routes: no-unguarded-door refuses them unless allowed.
    *(("gateway.networking.k8s.io", kind) for kind in ("Gateway", "HTTPRoute", "GRPCRoute", "TCPRoute", "TLSRoute")),
    # Client-side renderers: their objects are registered, and checked, one by one.
    ("helm.sh", "Chart"),
    ("yaml", "ConfigFile"),
    ("yaml", "ConfigGroup"),
    ("kustomize", "Directory"),
    # Server-side: no-helm-release refuses it unless allowed.
    ("helm.sh", "Release"),
}
# Other providers' types kubepar declares and the pack's GKE and cost rules read.
KNOWN_TYPES = {
    "gcp:compute/network:Network",
    "gcp:compute/subnetwork:Subnetwork",
    "gcp:compute/router:Router",
    "gcp:compute/routerNat:RouterNat",
    "gcp:container/cluster:Cluster",
    "gcp:container/nodePool:NodePool",
    "gcp:projects/service:Service",
    "gcp:projects/iAMMember:IAMMember",
    "gcp:projects/iAMBinding:IAMBinding",
    "gcp:serviceaccount/account:Account",
    "gcp:serviceaccount/key:Key",
    "gcp:storage/bucket:Bucket",
    "gcp:storage/bucketIAMMember:BucketIAMMember",
    "gcp:storage/bucketIAMBinding:BucketIAMBinding",
    "gcp:storage/bucketAccessControl:BucketAccessControl",
    "gcp:storage/defaultObjectAccessControl:DefaultObjectAccessControl",
    "gcp:storage/objectAccessControl:ObjectAccessControl",
    "gcp:storage/bucketACL:BucketACL",
    "gcp:storage/defaultObjectACL:DefaultObjectACL",
    "gcp:projects/iAMPolicy:IAMPolicy",
    "gcp:serviceaccount/iAMMember:IAMMember",
    "gcp:serviceaccount/iAMBinding:IAMBinding",
    "random:index/randomPassword:RandomPassword",
    # engine hub: the seed of the hub's keys, generated once (components/k8s/hub.py).
    "random:index/randomId:RandomId",
    # engine hub's HTTPS door (components/gcp/hub_door.py): its reserved address, its A record, and
    # the front's right to answer the certificate's DNS challenge in that one zone.
    "gcp:compute/address:Address",
    "gcp:dns/recordSet:RecordSet",
    "gcp:dns/dnsManagedZoneIamMember:DnsManagedZoneIamMember",
    # kubepar's one-time IAM wait before the cluster (components/gcp/propagation.py).
    "pulumi-python:dynamic:Resource",
}
# The engine's own (stack, providers, stack references) and kubepar's components.
KNOWN_PREFIXES = ("pulumi:", "kubepar:")

POD_SECURITY = "pod-security.kubernetes.io/"
LEVELS = {"privileged": 0, "baseline": 1, "restricted": 2}
# kubepar's namespace: enforce baseline (rocker's init needs root), warn and audit restricted.
REQUIRED_LEVELS = {"enforce": "baseline", "warn": "restricted", "audit": "restricted"}


def _known(resource_type: str) -> bool:
    if resource_type in KNOWN_TYPES or resource_type.startswith(KNOWN_PREFIXES):
        return True
    found = kind_of(resource_type)
    return found is not None and (found[0].split("/")[0], found[1]) in KNOWN_KUBERNETES


def _known_types(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if _known(args.resource_type) or args.resource_type in (args.get_config().get("allowedResourceTypes") or []):
        return
    report(
        f"{describe(args)} is of type {args.resource_type}, which this pack does not know: objects of custom "
        "types may make workloads, doors or policies through controllers in the cluster, where no rule sees "
        "them. Use a type the pack checks, or add the type to allowedResourceTypes in the policy config "
        "after reviewing what its controller does.",
        None,
    )


def _webhooks(args: ResourceValidationArgs, report: ReportViolation) -> None:
    kinds = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")
    if not is_kind(args.resource_type, *kinds, group="admissionregistration.k8s.io"):
        return
    for webhook in (args.props or {}).get("webhooks") or []:
        url = (webhook.get("clientConfig") or {}).get("url")
        if url:
            report(
                f"{describe(args)} sends requests (webhook '{webhook.get('name')}') to {url}, outside the "
                "cluster: every object it matches, Secrets included, leaves the cluster, and its answer can "
                "rewrite or admit anything. Point it at an in-cluster Service, or remove it.",
                None,
            )


def _pod_security(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not is_kind(args.resource_type, "Namespace", group="core"):
        return
    patch = args.resource_type.endswith("Patch")
    labels = ((args.props or {}).get("metadata") or {}).get("labels") or {}
    for mode, lowest in REQUIRED_LEVELS.items():
        key = f"{POD_SECURITY}{mode}"
        version_key = f"{key}-version"
        if version_key in labels and labels.get(version_key) != "latest":
            report(
                f"{describe(args)} pins {version_key} to {labels.get(version_key)!r}: an old version of the "
                "standard checks less. Remove the label (or set it to latest).",
                None,
            )
        if patch and key not in labels:
            continue  # a patch that does not touch the label leaves it as it is
        value = labels.get(key)
        if LEVELS.get(str(value), -1) < LEVELS[lowest]:
            shown = "removes" if value in (None, "") else f"sets {value!r} on"
            report(
                f"{describe(args)} {shown} {key}: Pod Security, the cluster's backstop under this pack, would "
                f"{mode} less than '{lowest}'. Keep {key}: {lowest} (or stricter).",
                None,
            )


POLICIES: list[ResourceValidationPolicy] = [
    rule(
        "known-resource-types",
        "Every resource is of a type this pack reasons about, or one named in allowedResourceTypes: custom "
        "resources can make workloads and doors through in-cluster controllers the pack cannot see.",
        _known_types,
        config={"allowedResourceTypes": string_list([])},
    ),
    rule(
        "no-external-admission-webhook",
        "No admission webhook sends requests to a URL outside the cluster.",
        _webhooks,
    ),
    rule(
        "pod-security-labels",
        "Namespaces keep Pod Security: enforce baseline or stricter, warn and audit restricted, no old "
        "version pinned; no NamespacePatch lowers or removes them.",
        _pod_security,
    ),
]
