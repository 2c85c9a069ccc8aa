"""GKE rules: a hardened cluster, and node pools held to the same rules wherever they are declared.

Owns: the Cluster (default pool removed, private nodes, Workload Identity,
shielded nodes, no legacy ABAC or client certificate, a release channel,
authorized networks within the shared floor, deletion protection for
protected stacks) and every node pool: separate NodePool resources and the
pools declared inline in a Cluster's ``nodePools`` alike.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from components.ground.machines import ARM_SERIES, FAMILIES, arm_problem, family_of

from .common import range_problem, rule, stack_of, string_list

CLUSTER = "gcp:container/cluster:Cluster"
NODE_POOL = "gcp:container/nodePool:NodePool"
Check = Callable[[Mapping[str, Any]], str | None]
PROTECTED_STACKS = {"protectedStacks": string_list(["prod"])}


def pools(args: ResourceValidationArgs) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(description, props) of every node pool the resource declares: itself, or a Cluster's inline pools."""
    props = args.props or {}
    if args.resource_type == NODE_POOL:
        yield f"GKE node pool '{args.name}'", props
    elif args.resource_type == CLUSTER:
        for index, pool in enumerate(props.get("nodePools") or []):
            yield f"GKE cluster '{args.name}' inline node pool '{pool.get('name') or index}'", pool


def cluster_rule(check: Check) -> Callable[[ResourceValidationArgs, ReportViolation], None]:
    def run(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type == CLUSTER:
            problem = check(args.props or {})
            if problem:
                report(f"GKE cluster '{args.name}' {problem}", None)

    return run


def pool_rule(check: Check) -> Callable[[ResourceValidationArgs, ReportViolation], None]:
    def run(args: ResourceValidationArgs, report: ReportViolation) -> None:
        for where, props in pools(args):
            problem = check(props)
            if problem:
                report(f"{where} {problem}", None)

    return run


def _node_config(props: Mapping[str, Any]) -> Mapping[str, Any]:
    return props.get("nodeConfig") or {}


def _authorized_networks(props: Mapping[str, Any]) -> str | None:
    config = props.get("masterAuthorizedNetworksConfig")
    if not isinstance(config, Mapping):
        # Without the block the IP endpoint answers every address; with it and
        # no ranges, none from outside Google's network (the DNS endpoint stays).
        return (
            "has no master authorized networks block: its IP endpoint answers the whole internet. "
            "Declare master_authorized_networks_config (kubepar:masterAuthorizedNetworks may stay empty)."
        )
    blocks = [block.get("cidrBlock") for block in config.get("cidrBlocks") or []]
    if config.get("gcpPublicCidrsAccessEnabled"):
        return "lets every Google Cloud address reach its API (gcpPublicCidrsAccessEnabled). Turn it off."
    problem = range_problem(blocks)
    return f"authorized networks {problem}. List only your own addresses." if problem else None


def _metadata(props: Mapping[str, Any]) -> str | None:
    if (_node_config(props).get("workloadMetadataConfig") or {}).get("mode") == "GKE_METADATA":
        return None
    return "exposes the node metadata server to pods. Set workload_metadata_config.mode GKE_METADATA."


def _secure_boot(props: Mapping[str, Any]) -> str | None:
    if (_node_config(props).get("shieldedInstanceConfig") or {}).get("enableSecureBoot") is True:
        return None
    return "boots nodes without secure boot. Set shielded_instance_config.enable_secure_boot."


# Accounts Google creates in every project, most with project Editor or wide
# service rights: Compute Engine's default (also what an empty or "default"
# account means), App Engine's default, the legacy Cloud Build account, the
# Google APIs service agent, and every per-service agent (service-<number>@...).
_GOOGLE_CREATED_ACCOUNT = re.compile(
    r"default|[0-9]+-compute@developer\.gserviceaccount\.com|[^@]+@appspot\.gserviceaccount\.com"
    r"|[0-9]+@cloudbuild\.gserviceaccount\.com|[0-9]+@cloudservices\.gserviceaccount\.com"
    r"|service-[0-9]+@[^@]+\.gserviceaccount\.com",
    re.IGNORECASE,
)


def _default_account(account: str) -> bool:
    """True for a Google-created default account (or none, which means Compute Engine's)."""
    return not account.strip() or _GOOGLE_CREATED_ACCOUNT.fullmatch(account.strip()) is not None


def _node_service_account(props: Mapping[str, Any]) -> str | None:
    account = str(_node_config(props).get("serviceAccount") or "")
    if _default_account(account):
        return (
            "runs as a default service account Google creates in every project (Compute Engine's or App "
            "Engine's default, Cloud Build's, a service agent: project Editor or wide service rights). "
            "Use a dedicated node account."
        )
    return None


# GKE's boot disk when a pool names none.
GKE_DEFAULT_DISK_TYPE = "pd-balanced"


def _runnable_machine(props: Mapping[str, Any]) -> str | None:
    """The pool's nodes can boot and can run kubepar's (amd64) pods."""
    machine = str(_node_config(props).get("machineType") or "")
    if not machine:
        return None  # GKE's default, e2-medium
    family = family_of(machine)
    if family in ARM_SERIES:
        # The same words as config's refusal (machines.py).
        return f"runs {machine}: {arm_problem(family)}."
    disk = str(_node_config(props).get("diskType") or GKE_DEFAULT_DISK_TYPE)
    needed = FAMILIES[family].boot_disk if family in FAMILIES else None
    if needed is not None and needed.startswith("hyperdisk") and not disk.startswith("hyperdisk"):
        return f"boots {machine} from {disk}, but {family} machines boot only from Hyperdisk. Set disk_type {needed}."
    return None


def _repair_upgrade(props: Mapping[str, Any]) -> str | None:
    management = props.get("management") or {}
    if management.get("autoRepair") is True and management.get("autoUpgrade") is True:
        return None
    return "has auto-repair or auto-upgrade off. Turn both on."


def _public_pool_nodes(props: Mapping[str, Any]) -> str | None:
    # A pool's own network config overrides the cluster's private nodes.
    if (props.get("networkConfig") or {}).get("enablePrivateNodes") is False:
        return "gives its nodes public addresses (network_config.enable_private_nodes false). Remove it."
    return None


def _network_policy_enforced(props: Mapping[str, Any]) -> str | None:
    if props.get("datapathProvider") == "ADVANCED_DATAPATH":
        return None
    if (props.get("networkPolicy") or {}).get("enabled") is True:
        return None
    return (
        "does not enforce NetworkPolicy (legacy datapath without network_policy): the stack's isolation "
        "would exist only on paper. Set datapath_provider ADVANCED_DATAPATH (Dataplane V2)."
    )


def _dns_endpoint(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != CLUSTER:
        return
    endpoints = (args.props or {}).get("controlPlaneEndpointsConfig") or {}
    external = (endpoints.get("dnsEndpointConfig") or {}).get("allowExternalTraffic") is True
    access = args.get_config().get("controlPlaneAccess") or "dns"
    if external and access != "dns":
        report(
            f"GKE cluster '{args.name}' opens its DNS-based endpoint to external traffic, but this stack's "
            f"chosen way in is '{access}' (controlPlaneAccess). Turn allow_external_traffic off, or set "
            "controlPlaneAccess to dns in the policy config.",
            None,
        )


def _auto_provisioning(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Pools GKE creates on its own (node auto-provisioning) get these defaults: the same rules apply."""
    if args.resource_type != CLUSTER:
        return
    autoscaling = (args.props or {}).get("clusterAutoscaling") or {}
    if autoscaling.get("enabled") is not True:
        return
    defaults = autoscaling.get("autoProvisioningDefaults") or {}
    where = f"GKE cluster '{args.name}' node auto-provisioning defaults"
    account = str(defaults.get("serviceAccount") or "")
    problems = []
    if _default_account(account):
        problems.append("run new pools as a default service account Google creates (project Editor)")
    scopes = [str(scope) for scope in defaults.get("oauthScopes") or []]
    legacy = [scope for scope in scopes if not scope.startswith("https://www.googleapis.com/auth/")]
    if legacy:
        problems.append(f"grant scopes {legacy} by alias")
    if (defaults.get("shieldedInstanceConfig") or {}).get("enableSecureBoot") is not True:
        problems.append("boot new pools without secure boot")
    management = defaults.get("management") or {}
    if management.get("autoRepair") is False or management.get("autoUpgrade") is False:
        problems.append("turn auto-repair or auto-upgrade off")
    for problem in problems:
        report(f"{where} {problem}. Set auto_provisioning_defaults as kubepar's own pools are set.", None)


def _deletion_protection(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != CLUSTER:
        return
    stack = stack_of(args.urn)
    if stack in (args.get_config().get("protectedStacks") or []) and args.props.get("deletionProtection") is not True:
        report(
            f"GKE cluster '{args.name}' in stack '{stack}' has no deletion protection. "
            "Set kubepar:deletionProtection true.",
            None,
        )


def _is(value: bool, problem: str) -> str | None:
    return None if value else problem


POLICIES: list[ResourceValidationPolicy] = [
    rule(
        "gke-default-pool-removed",
        "GKE clusters remove the default node pool (it cannot be changed without replacing the cluster).",
        cluster_rule(
            lambda p: _is(
                p.get("removeDefaultNodePool") is True, "keeps its default node pool. Set remove_default_node_pool."
            )
        ),
    ),
    rule(
        "gke-private-nodes",
        "GKE nodes have private addresses only.",
        cluster_rule(
            lambda p: _is(
                (p.get("privateClusterConfig") or {}).get("enablePrivateNodes") is True,
                "gives nodes public addresses. Enable private nodes (Cloud NAT provides egress).",
            )
        ),
    ),
    rule(
        "gke-workload-identity",
        "Workload Identity is on for the cluster, and every node pool (separate or inline) uses GKE_METADATA.",
        [
            cluster_rule(
                lambda p: _is(
                    bool((p.get("workloadIdentityConfig") or {}).get("workloadPool")),
                    "has Workload Identity off: pods could use the node's credentials. Set workload_identity_config.",
                )
            ),
            pool_rule(_metadata),
        ],
    ),
    rule(
        "gke-shielded-nodes",
        "Shielded nodes on the cluster and secure boot on every node pool (separate or inline).",
        [
            cluster_rule(
                lambda p: _is(
                    p.get("enableShieldedNodes") is True, "has shielded nodes off. Set enable_shielded_nodes."
                )
            ),
            pool_rule(_secure_boot),
        ],
    ),
    rule(
        "gke-legacy-abac-off",
        "Legacy ABAC is off: RBAC alone decides access.",
        cluster_rule(lambda p: _is(not p.get("enableLegacyAbac"), "has legacy ABAC on. Set enable_legacy_abac false.")),
    ),
    rule(
        "gke-no-client-certificate",
        "No client certificate is issued: access goes through IAM.",
        cluster_rule(
            lambda p: _is(
                not ((p.get("masterAuth") or {}).get("clientCertificateConfig") or {}).get("issueClientCertificate"),
                "issues a client certificate (a credential that cannot be revoked). Turn it off.",
            )
        ),
    ),
    rule(
        "gke-release-channel",
        "The cluster follows a release channel, so GKE keeps it patched.",
        cluster_rule(
            lambda p: _is(
                (p.get("releaseChannel") or {}).get("channel") in ("RAPID", "REGULAR", "STABLE"),
                "follows no release channel. Set kubepar:releaseChannel.",
            )
        ),
    ),
    rule(
        "gke-master-authorized-networks",
        "The API endpoint answers only authorized networks within the shared floor (no /0, alone or together).",
        cluster_rule(_authorized_networks),
    ),
    rule(
        "gke-node-service-account",
        "Node pools (separate or inline) run as a dedicated service account.",
        pool_rule(_node_service_account),
    ),
    rule(
        "gke-pool-machine-runnable",
        "Node pools (separate or inline) boot from a disk their machine family takes, on x86 machines.",
        pool_rule(_runnable_machine),
    ),
    rule(
        "gke-node-auto-repair-upgrade",
        "Node pools (separate or inline) repair and upgrade themselves.",
        pool_rule(_repair_upgrade),
    ),
    rule(
        "gke-private-pool-nodes",
        "No node pool (separate or inline) gives its own nodes public addresses.",
        pool_rule(_public_pool_nodes),
    ),
    rule(
        "gke-network-policy-enforced",
        "The cluster enforces NetworkPolicy (Dataplane V2, or a network policy provider).",
        cluster_rule(_network_policy_enforced),
    ),
    rule(
        "gke-dns-endpoint-access",
        "The DNS-based endpoint takes external traffic only when it is the stack's chosen way in "
        "(controlPlaneAccess, default dns: IAM authorises every request).",
        _dns_endpoint,
        config={"controlPlaneAccess": {"type": "string", "enum": ["dns", "ip"], "default": "dns"}},
    ),
    rule(
        "gke-auto-provisioning-defaults",
        "Node auto-provisioning, when on, creates pools under kubepar's pool rules: a dedicated service "
        "account, secure boot, auto-repair and auto-upgrade.",
        _auto_provisioning,
    ),
    rule(
        "gke-deletion-protection",
        "Clusters of protected stacks (protectedStacks, default prod) have deletion protection on.",
        _deletion_protection,
        config=PROTECTED_STACKS,
    ),
]
