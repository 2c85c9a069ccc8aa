"""kubepar guardrails: the rules of the CrossGuard policy pack.

Owns: every rule, its description, enforcement level and configuration
schema. Does not: construct the PolicyPack (``__main__.py`` does; the
constructor starts a server and never returns), so tests import this module.

Resources arrive with engine (camelCase) property names, as in a preview.
Each message names the resource and says how to fix it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

MANDATORY = EnforcementLevel.MANDATORY
ADVISORY = EnforcementLevel.ADVISORY

WORKLOAD_TYPES = {
    "kubernetes:apps/v1:Deployment",
    "kubernetes:apps/v1:StatefulSet",
    "kubernetes:apps/v1:DaemonSet",
    "kubernetes:apps/v1:ReplicaSet",
    "kubernetes:batch/v1:Job",
    "kubernetes:batch/v1:CronJob",
    "kubernetes:core/v1:Pod",
}
CLUSTER = "gcp:container/cluster:Cluster"
NODE_POOL = "gcp:container/nodePool:NodePool"
SERVICE = "kubernetes:core/v1:Service"
COMPONENT_LABEL = "app.kubernetes.io/component"
POOL_LABEL = "kubepar.dev/pool"
OPEN_TO_ALL = {ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")}


# ---------------------------------------------------------------- helpers


def _describe(args: ResourceValidationArgs) -> str:
    props = args.props or {}
    kind = props.get("kind") or args.resource_type.rsplit(":", 1)[-1]
    name = (props.get("metadata") or {}).get("name") or args.name
    return f"{kind} '{name}'"


def _stack(urn: str) -> str:
    """The stack name inside a URN: urn:pulumi:<stack>::<project>::..."""
    return urn.split("::", 1)[0].rsplit(":", 1)[-1]


def pod_template(props: Mapping[str, Any], resource_type: str) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """(pod metadata, pod spec) of a workload's props."""
    spec = props.get("spec") or {}
    if resource_type == "kubernetes:core/v1:Pod":
        return props.get("metadata") or {}, spec
    if resource_type == "kubernetes:batch/v1:CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    template = spec.get("template") or {}
    return template.get("metadata") or {}, template.get("spec") or {}


def containers(pod_spec: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield from pod_spec.get("initContainers") or []
    yield from pod_spec.get("containers") or []


def _workloads(
    validate: Callable[[ResourceValidationArgs, ReportViolation, Mapping[str, Any], Mapping[str, Any]], None],
):
    """Wrap a rule so it sees (pod metadata, pod spec) of workload resources only."""

    def run(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type in WORKLOAD_TYPES:
            metadata, spec = pod_template(args.props or {}, args.resource_type)
            validate(args, report, metadata, spec)

    return run


def _only(resource_type: str, validate: Callable[[ResourceValidationArgs, ReportViolation], None]):
    def run(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type == resource_type:
            validate(args, report)

    return run


def _networks(values: Any) -> list[Any]:
    found = []
    for value in values or []:
        try:
            found.append(ipaddress.ip_network(str(value), strict=False))
        except ValueError:
            continue
    return found


def machine_vcpus(machine_type: str) -> int | None:
    """vCPUs from a GCE machine type name (shared-core e2 types count 2)."""
    if machine_type in ("e2-micro", "e2-small", "e2-medium"):
        return 2
    custom = re.fullmatch(r"(?:[a-z0-9]+-)?custom-(\d+)-\d+(?:-ext)?", machine_type)
    if custom:
        return int(custom[1])
    named = re.fullmatch(r"[a-z][a-z0-9]*-[a-z]+-(\d+)[a-z]*", machine_type)
    return int(named[1]) if named else None


# ---------------------------------------------------------------- Kubernetes: RBAC


def _no_cluster_admin(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type.endswith(("v1:ClusterRoleBinding", "v1:RoleBinding")):
        role = (args.props.get("roleRef") or {}).get("name")
        if role == "cluster-admin":
            report(
                f"{_describe(args)} binds cluster-admin. kubepar's pods need no Kubernetes API access; "
                "delete the binding, or bind a namespaced Role with only the verbs needed.",
                None,
            )


def _no_wildcard_rbac(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type.endswith(("v1:ClusterRole", "v1:Role")):
        for rule in args.props.get("rules") or []:
            for field in ("verbs", "resources", "apiGroups"):
                if "*" in (rule.get(field) or []) and field != "apiGroups":
                    report(
                        f"{_describe(args)} grants '*' in {field}. List the exact {field} it needs.",
                        None,
                    )


def _no_cluster_role_binding(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type.endswith("v1:ClusterRoleBinding"):
        name = (args.props.get("metadata") or {}).get("name") or args.name
        allowed = args.get_config().get("allowedClusterRoleBindings") or []
        if name not in allowed and args.name not in allowed:
            report(
                f"{_describe(args)} grants cluster-wide rights. Use a RoleBinding in the stack's namespace, "
                "or add its name to allowedClusterRoleBindings in the policy config.",
                None,
            )


# ---------------------------------------------------------------- Kubernetes: workloads


def _resources(args: ResourceValidationArgs, report: ReportViolation, _meta: Any, spec: Mapping[str, Any]) -> None:
    for container in containers(spec):
        resources = container.get("resources") or {}
        for section in ("requests", "limits"):
            missing = [k for k in ("cpu", "memory") if k not in (resources.get(section) or {})]
            if missing:
                report(
                    f"{_describe(args)} container '{container.get('name')}' has no {section} for "
                    f"{' and '.join(missing)}. Set both requests and limits (kubepar sets them equal).",
                    None,
                )


def _pinned_image(args: ResourceValidationArgs, report: ReportViolation, _meta: Any, spec: Mapping[str, Any]) -> None:
    for container in containers(spec):
        image = str(container.get("image") or "")
        if "@sha256:" in image:
            continue
        last = image.rsplit("/", 1)[-1]
        tag = last.split(":", 1)[1] if ":" in last else ""
        if not tag or tag == "latest":
            report(
                f"{_describe(args)} container '{container.get('name')}' uses image '{image}' without a "
                "fixed tag. Pin a version (rocker/r-ver:4.5.1), never :latest.",
                None,
            )


def _hardened(args: ResourceValidationArgs, report: ReportViolation, _meta: Any, spec: Mapping[str, Any]) -> None:
    pod_context = spec.get("securityContext") or {}
    pod_seccomp = (pod_context.get("seccompProfile") or {}).get("type")
    for container in containers(spec):
        name = container.get("name")
        context = container.get("securityContext") or {}
        where = f"{_describe(args)} container '{name}'"
        if context.get("privileged"):
            report(f"{where} is privileged. Remove privileged: true.", None)
        if context.get("allowPrivilegeEscalation") is not False:
            report(f"{where} may escalate privileges. Set allowPrivilegeEscalation: false.", None)
        seccomp = (context.get("seccompProfile") or {}).get("type") or pod_seccomp
        if seccomp != "RuntimeDefault":
            report(
                f"{where} has no RuntimeDefault seccomp profile. Set seccompProfile.type: RuntimeDefault.",
                None,
            )
        if "ALL" not in ((context.get("capabilities") or {}).get("drop") or []):
            report(f"{where} keeps the default capabilities. Drop ALL and add back only what it needs.", None)


def _non_root(
    args: ResourceValidationArgs, report: ReportViolation, meta: Mapping[str, Any], spec: Mapping[str, Any]
) -> None:
    component = (meta.get("labels") or {}).get(COMPONENT_LABEL)
    exempt = args.get_config().get("rootAllowedComponents") or []
    if component in exempt:
        return
    pod_context = spec.get("securityContext") or {}
    for container in containers(spec):
        context = {**pod_context, **(container.get("securityContext") or {})}
        if context.get("runAsNonRoot") is not True or context.get("runAsUser") == 0:
            report(
                f"{_describe(args)} container '{container.get('name')}' may run as root. "
                "Set runAsNonRoot: true and a non-zero runAsUser.",
                None,
            )


def _token_not_mounted(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type == "kubernetes:core/v1:ServiceAccount":
        if args.props.get("automountServiceAccountToken") is not False:
            report(
                f"{_describe(args)} mounts its token into every pod. Set automountServiceAccountToken: false.",
                None,
            )
        return
    if args.resource_type in WORKLOAD_TYPES:
        meta, spec = pod_template(args.props, args.resource_type)
        opted_in = (meta.get("annotations") or {}).get("kubepar.dev/api-token") == "true"
        if not opted_in and spec.get("automountServiceAccountToken") is not False:
            report(
                f"{_describe(args)} mounts a ServiceAccount token. Set automountServiceAccountToken: false, "
                "or annotate the pod kubepar.dev/api-token: 'true' if it really calls the API.",
                None,
            )


# ---------------------------------------------------------------- Kubernetes: Services


def _load_balancer_ranges(args: ResourceValidationArgs, report: ReportViolation) -> None:
    spec = args.props.get("spec") or {}
    if spec.get("type") != "LoadBalancer":
        return
    ranges = spec.get("loadBalancerSourceRanges") or []
    if not ranges:
        report(
            f"{_describe(args)} is a LoadBalancer open to the internet. Set loadBalancerSourceRanges "
            "(kubepar:allowedSourceRanges) to your own addresses, or use ClusterIP and port-forward.",
            None,
        )
    for network in _networks(ranges):
        if network in OPEN_TO_ALL:
            report(
                f"{_describe(args)} allows {network} in loadBalancerSourceRanges: the whole internet. "
                "List only your own addresses.",
                None,
            )


def _private_ports(args: ResourceValidationArgs, report: ReportViolation) -> None:
    spec = args.props.get("spec") or {}
    if spec.get("type") not in ("LoadBalancer", "NodePort"):
        return
    private = set(args.get_config().get("privatePorts") or [])
    for port in spec.get("ports") or []:
        exposed = {port.get("port"), port.get("targetPort")} & private
        if exposed:
            report(
                f"{_describe(args)} exposes port {sorted(exposed)[0]} outside the cluster. The R worker and Dask "
                "scheduler ports run code for whoever connects: keep them on a ClusterIP Service.",
                None,
            )


def _namespaces_have_network_policy(args: StackValidationArgs, report: ReportViolation) -> None:
    workload_namespaces: dict[str, str] = {}
    covered: set[str] = set()
    for resource in args.resources:
        namespace = ((resource.props or {}).get("metadata") or {}).get("namespace")
        if resource.resource_type in WORKLOAD_TYPES and namespace:
            workload_namespaces.setdefault(namespace, resource.urn)
        if resource.resource_type == "kubernetes:networking.k8s.io/v1:NetworkPolicy" and namespace:
            covered.add(namespace)
    for namespace, urn in sorted(workload_namespaces.items()):
        if namespace not in covered:
            report(
                f"Namespace '{namespace}' runs workloads but has no NetworkPolicy: every pod accepts "
                "traffic from anywhere in the cluster. Add a default-deny policy.",
                urn,
            )


# ---------------------------------------------------------------- GKE


def _props_rule(resource_type: str, what: str, check: Callable[[Mapping[str, Any]], str | None]):
    """A rule on one resource type whose check returns the problem (or None)."""

    def run(args: ResourceValidationArgs, report: ReportViolation) -> None:
        problem = check(args.props or {})
        if problem:
            report(f"{what} '{args.name}' {problem}", None)

    return _only(resource_type, run)


def _cluster_rule(check: Callable[[Mapping[str, Any]], str | None]):
    return _props_rule(CLUSTER, "GKE cluster", check)


def _pool_rule(check: Callable[[Mapping[str, Any]], str | None]):
    return _props_rule(NODE_POOL, "GKE node pool", check)


def _authorized_networks(props: Mapping[str, Any]) -> str | None:
    blocks = (props.get("masterAuthorizedNetworksConfig") or {}).get("cidrBlocks") or []
    networks = _networks(block.get("cidrBlock") for block in blocks)
    if not networks:
        return (
            "has no master authorized networks: its API answers the whole internet. "
            "Set kubepar:masterAuthorizedNetworks."
        )
    if any(n in OPEN_TO_ALL for n in networks):
        return "authorizes 0.0.0.0/0 to reach its API. List only your own addresses."
    return None


def _metadata_mode(props: Mapping[str, Any]) -> str | None:
    return ((props.get("nodeConfig") or {}).get("workloadMetadataConfig") or {}).get("mode")


def _node_service_account(props: Mapping[str, Any]) -> str | None:
    account = str((props.get("nodeConfig") or {}).get("serviceAccount") or "")
    if not account or account == "default" or account.endswith("-compute@developer.gserviceaccount.com"):
        return "runs as the default compute service account (project Editor). Use a dedicated node account."
    return None


def _deletion_protection(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != CLUSTER:
        return
    protected = args.get_config().get("protectedStacks") or []
    if _stack(args.urn) in protected and args.props.get("deletionProtection") is not True:
        report(
            f"GKE cluster '{args.name}' in stack '{_stack(args.urn)}' has no deletion protection. "
            "Set kubepar:deletionProtection true.",
            None,
        )


def _is_worker_pool(props: Mapping[str, Any]) -> bool:
    return ((props.get("nodeConfig") or {}).get("labels") or {}).get(POOL_LABEL) == "workers"


def _worker_vcpu_cap(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != NODE_POOL or not _is_worker_pool(args.props):
        return
    node = args.props.get("nodeConfig") or {}
    vcpus = machine_vcpus(str(node.get("machineType") or ""))
    max_nodes = (args.props.get("autoscaling") or {}).get("totalMaxNodeCount")
    cap = args.get_config().get("maxWorkerVcpus")
    if vcpus is None or max_nodes is None or cap is None:
        return
    total = int(max_nodes) * vcpus
    if total > cap:
        report(
            f"GKE node pool '{args.name}' can grow to {int(max_nodes)} x {vcpus} = {total} vCPUs, over the "
            f"cap of {cap}. Lower kubepar:workers or raise maxWorkerVcpus in the policy config.",
            None,
        )


def _spot_outside_prod(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != NODE_POOL or not _is_worker_pool(args.props):
        return
    if _stack(args.urn) in (args.get_config().get("protectedStacks") or []):
        return
    if (args.props.get("nodeConfig") or {}).get("spot") is not True:
        report(
            f"GKE node pool '{args.name}' runs on-demand workers outside production. "
            "Spot VMs cost 60-91% less: set kubepar:spot true.",
            None,
        )


# ---------------------------------------------------------------- the rules


def _rule(
    name: str,
    description: str,
    validate: Any,
    level: EnforcementLevel = MANDATORY,
    config: dict[str, dict[str, Any]] | None = None,
) -> ResourceValidationPolicy:
    return ResourceValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=level,
        config_schema=PolicyConfigSchema(properties=config) if config else None,
    )


PROTECTED_STACKS = {"protectedStacks": {"type": "array", "items": {"type": "string"}, "default": ["prod"]}}

RESOURCE_POLICIES: list[ResourceValidationPolicy] = [
    _rule(
        "no-cluster-admin-binding",
        "No RoleBinding or ClusterRoleBinding to cluster-admin.",
        _no_cluster_admin,
    ),
    _rule(
        "no-wildcard-rbac",
        "Roles and ClusterRoles list exact verbs and resources, never '*'.",
        _no_wildcard_rbac,
    ),
    _rule(
        "no-cluster-role-binding",
        "No ClusterRoleBinding unless allow-listed: kubepar needs no cluster-wide rights.",
        _no_cluster_role_binding,
        config={"allowedClusterRoleBindings": {"type": "array", "items": {"type": "string"}, "default": []}},
    ),
    _rule(
        "container-resources",
        "Every container sets CPU and memory requests and limits.",
        _workloads(_resources),
    ),
    _rule("pinned-image-tag", "Every image has a fixed tag or digest, never :latest.", _workloads(_pinned_image)),
    _rule(
        "container-hardening",
        "Containers are unprivileged, cannot escalate, use RuntimeDefault seccomp and drop ALL capabilities.",
        _workloads(_hardened),
    ),
    _rule(
        "non-root",
        "Containers run as non-root, except components listed in rootAllowedComponents "
        "(the RStudio scheduler: rocker's init needs root, then drops to the rstudio user).",
        _workloads(_non_root),
        config={"rootAllowedComponents": {"type": "array", "items": {"type": "string"}, "default": ["scheduler"]}},
    ),
    _rule(
        "service-account-token-not-mounted",
        "ServiceAccount tokens are not mounted unless the pod opts in with kubepar.dev/api-token.",
        _token_not_mounted,
    ),
    _rule(
        "load-balancer-source-ranges",
        "LoadBalancer Services set loadBalancerSourceRanges, never 0.0.0.0/0 or ::/0.",
        _only(SERVICE, _load_balancer_ranges),
    ),
    _rule(
        "no-public-worker-port",
        "The R worker port and the Dask scheduler port are never on a LoadBalancer or NodePort.",
        _only(SERVICE, _private_ports),
        config={"privatePorts": {"type": "array", "items": {"type": "integer"}, "default": [11562, 8786]}},
    ),
    _rule(
        "gke-default-pool-removed",
        "GKE clusters remove the default node pool (it cannot be changed without replacing the cluster).",
        _cluster_rule(
            lambda p: (
                None
                if p.get("removeDefaultNodePool") is True
                else "keeps its default node pool. Set remove_default_node_pool."
            )
        ),
    ),
    _rule(
        "gke-private-nodes",
        "GKE nodes have private addresses only.",
        _cluster_rule(
            lambda p: (
                None
                if (p.get("privateClusterConfig") or {}).get("enablePrivateNodes") is True
                else "gives nodes public addresses. Enable private nodes (Cloud NAT provides egress)."
            )
        ),
    ),
    _rule(
        "gke-workload-identity",
        "Workload Identity is on for the cluster, and every node pool uses GKE_METADATA.",
        [
            _cluster_rule(
                lambda p: (
                    None
                    if (p.get("workloadIdentityConfig") or {}).get("workloadPool")
                    else "has Workload Identity off: pods could use the node's credentials. "
                    "Set workload_identity_config."
                )
            ),
            _pool_rule(
                lambda p: (
                    None
                    if _metadata_mode(p) == "GKE_METADATA"
                    else "exposes the node metadata server to pods. Set workload_metadata_config.mode GKE_METADATA."
                )
            ),
        ],
    ),
    _rule(
        "gke-shielded-nodes",
        "Shielded nodes on the cluster and secure boot on every node pool.",
        [
            _cluster_rule(
                lambda p: (
                    None
                    if p.get("enableShieldedNodes") is True
                    else "has shielded nodes off. Set enable_shielded_nodes."
                )
            ),
            _pool_rule(
                lambda p: (
                    None
                    if ((p.get("nodeConfig") or {}).get("shieldedInstanceConfig") or {}).get("enableSecureBoot") is True
                    else "boots nodes without secure boot. Set shielded_instance_config.enable_secure_boot."
                )
            ),
        ],
    ),
    _rule(
        "gke-legacy-abac-off",
        "Legacy ABAC is off: RBAC alone decides access.",
        _cluster_rule(
            lambda p: "has legacy ABAC on. Set enable_legacy_abac false." if p.get("enableLegacyAbac") else None
        ),
    ),
    _rule(
        "gke-no-client-certificate",
        "No client certificate is issued: access goes through IAM.",
        _cluster_rule(
            lambda p: (
                "issues a client certificate (a credential that cannot be revoked). Turn it off."
                if ((p.get("masterAuth") or {}).get("clientCertificateConfig") or {}).get("issueClientCertificate")
                else None
            )
        ),
    ),
    _rule(
        "gke-release-channel",
        "The cluster follows a release channel, so GKE keeps it patched.",
        _cluster_rule(
            lambda p: (
                None
                if (p.get("releaseChannel") or {}).get("channel") in ("RAPID", "REGULAR", "STABLE")
                else "follows no release channel. Set kubepar:releaseChannel."
            )
        ),
    ),
    _rule(
        "gke-master-authorized-networks",
        "The API endpoint answers only authorized networks, never 0.0.0.0/0.",
        _cluster_rule(_authorized_networks),
    ),
    _rule(
        "gke-node-service-account",
        "Node pools run as a dedicated service account.",
        _pool_rule(_node_service_account),
    ),
    _rule(
        "gke-node-auto-repair-upgrade",
        "Node pools repair and upgrade themselves.",
        _pool_rule(
            lambda p: (
                None
                if (p.get("management") or {}).get("autoRepair") is True
                and (p.get("management") or {}).get("autoUpgrade") is True
                else "has auto-repair or auto-upgrade off. Turn both on."
            )
        ),
    ),
    _rule(
        "gke-deletion-protection",
        "Clusters of protected stacks (protectedStacks, default prod) have deletion protection on.",
        _deletion_protection,
        config=PROTECTED_STACKS,
    ),
    _rule(
        "cost-worker-pool-vcpu-cap",
        "The worker pool's maximum nodes x vCPUs stays under maxWorkerVcpus.",
        _worker_vcpu_cap,
        level=ADVISORY,
        config={"maxWorkerVcpus": {"type": "integer", "default": 256}},
    ),
    _rule(
        "cost-spot-workers-outside-prod",
        "Worker pools outside protected stacks use Spot VMs.",
        _spot_outside_prod,
        level=ADVISORY,
        config=PROTECTED_STACKS,
    ),
]

STACK_POLICIES: list[StackValidationPolicy] = [
    StackValidationPolicy(
        name="namespace-network-policy",
        description="Every namespace with workloads has a NetworkPolicy.",
        validate=_namespaces_have_network_policy,
        enforcement_level=MANDATORY,
    ),
]

ALL_POLICIES: list[ResourceValidationPolicy | StackValidationPolicy] = [*RESOURCE_POLICIES, *STACK_POLICIES]


def config_defaults(policy: ResourceValidationPolicy | StackValidationPolicy) -> dict[str, Any]:
    """The default config a policy sees when the pack runs without --policy-pack-config."""
    schema = policy.config_schema
    if schema is None:
        return {}
    return {key: spec["default"] for key, spec in schema.properties.items() if "default" in spec}
