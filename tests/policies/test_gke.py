"""GKE rules: the cluster, and node pools wherever they are declared."""

from __future__ import annotations

from typing import Any

import pytest

from tests.policies.helpers import CLUSTER, POOL, check

GOOD_POOL: dict[str, Any] = {
    "name": "extra",
    "management": {"autoRepair": True, "autoUpgrade": True},
    "nodeConfig": {
        "serviceAccount": "nodes@p.iam.gserviceaccount.com",
        "workloadMetadataConfig": {"mode": "GKE_METADATA"},
        "shieldedInstanceConfig": {"enableSecureBoot": True},
    },
}


def _pool(**changes: Any) -> dict[str, Any]:
    pool = {**GOOD_POOL, "nodeConfig": {**GOOD_POOL["nodeConfig"]}}
    for key, value in changes.items():
        if key in ("management",):
            pool[key] = value
        else:
            pool["nodeConfig"][key] = value
    return pool


@pytest.mark.parametrize(
    ("rule", "good", "bad", "message"),
    [
        ("gke-default-pool-removed", {"removeDefaultNodePool": True}, {}, "keeps its default node pool"),
        (
            "gke-private-nodes",
            {"privateClusterConfig": {"enablePrivateNodes": True}},
            {"privateClusterConfig": {"enablePrivateNodes": False}},
            "gives nodes public addresses",
        ),
        (
            "gke-workload-identity",
            {"workloadIdentityConfig": {"workloadPool": "p.svc.id.goog"}},
            {},
            "has Workload Identity off",
        ),
        ("gke-shielded-nodes", {"enableShieldedNodes": True}, {}, "has shielded nodes off"),
        ("gke-legacy-abac-off", {"enableLegacyAbac": False}, {"enableLegacyAbac": True}, "has legacy ABAC on"),
        (
            "gke-no-client-certificate",
            {"masterAuth": {"clientCertificateConfig": {"issueClientCertificate": False}}},
            {"masterAuth": {"clientCertificateConfig": {"issueClientCertificate": True}}},
            "issues a client certificate",
        ),
        (
            "gke-release-channel",
            {"releaseChannel": {"channel": "STABLE"}},
            {"releaseChannel": {"channel": "UNSPECIFIED"}},
            "follows no release channel",
        ),
    ],
)
def test_cluster_rule_passes_good_and_names_the_fix_for_bad(
    rule: str, good: dict[str, Any], bad: dict[str, Any], message: str
) -> None:
    assert check(rule, CLUSTER, good) == []
    assert any(message in m for m in check(rule, CLUSTER, bad))


@pytest.mark.parametrize(
    ("networks", "message"),
    [
        (["0.0.0.0/0"], "0.0.0.0/0 (the whole internet)"),
        # IPv4-mapped IPv6 is IPv4 to Kubernetes and Go: the whole IPv4 internet.
        (["::ffff:0:0/96"], "0.0.0.0/0 (the whole internet)"),
        (["0.0.0.0/1", "128.0.0.0/1"], "together they open 0.0.0.0/0"),
        (["::/1", "8000::/1"], "together they open ::/0"),
        (["10.0.0.0/8"], "wider than /16"),
        ([" 203.0.113.0/24"], "has padded entries"),
    ],
)
def test_authorized_networks_are_held_to_the_shared_floor(networks: list[str], message: str) -> None:
    cluster = {"masterAuthorizedNetworksConfig": {"cidrBlocks": [{"cidrBlock": n} for n in networks]}}
    found = check("gke-master-authorized-networks", CLUSTER, cluster)
    assert any(message in m for m in found), found


def test_a_cluster_without_the_authorized_networks_block_answers_everyone_and_is_refused() -> None:
    found = check("gke-master-authorized-networks", CLUSTER, {})
    assert any("has no master authorized networks block" in m for m in found), found
    # The block with no ranges closes the IP endpoint to outside addresses: the DNS endpoint is the way in.
    assert (
        check("gke-master-authorized-networks", CLUSTER, {"masterAuthorizedNetworksConfig": {"cidrBlocks": []}}) == []
    )


def test_public_google_cloud_addresses_may_not_reach_the_api() -> None:
    config = {"cidrBlocks": [{"cidrBlock": "203.0.113.0/24"}]}
    assert check("gke-master-authorized-networks", CLUSTER, {"masterAuthorizedNetworksConfig": config}) == []
    config["gcpPublicCidrsAccessEnabled"] = True  # type: ignore[assignment]
    found = check("gke-master-authorized-networks", CLUSTER, {"masterAuthorizedNetworksConfig": config})
    assert "gcpPublicCidrsAccessEnabled" in found[0]


@pytest.mark.parametrize(
    ("node", "message"),
    [
        ({"machineType": "n4-standard-4", "diskType": "pd-balanced"}, "boot only from Hyperdisk"),
        ({"machineType": "c4-highmem-8"}, "from pd-balanced, but c4 machines boot only from Hyperdisk"),
        ({"machineType": "n4-custom-4-16384", "diskType": "pd-ssd"}, "boot only from Hyperdisk"),
        ({"machineType": "t2a-standard-4", "diskType": "pd-balanced"}, "Arm (arm64)"),
        ({"machineType": "c4a-standard-8", "diskType": "hyperdisk-balanced"}, "Arm (arm64)"),
    ],
)
def test_a_pool_whose_machines_cannot_boot_or_run_the_pods_is_refused(node: dict[str, Any], message: str) -> None:
    found = check("gke-pool-machine-runnable", POOL, _pool(**node))
    assert len(found) == 1 and message in found[0], found


@pytest.mark.parametrize(
    "node",
    [
        {"machineType": "e2-standard-4", "diskType": "pd-balanced"},
        {"machineType": "n4-standard-4", "diskType": "hyperdisk-balanced"},
        {"machineType": "c3-standard-4"},
        {},
    ],
)
def test_a_pool_of_runnable_machines_passes(node: dict[str, Any]) -> None:
    assert check("gke-pool-machine-runnable", POOL, _pool(**node)) == []


# Every kind of account Google creates in a project, each with project Editor or wide rights.
DEFAULT_ACCOUNTS = (
    "default",
    "123-compute@developer.gserviceaccount.com",
    "kubepar-dev@appspot.gserviceaccount.com",
    "KUBEPAR-DEV@APPSPOT.GSERVICEACCOUNT.COM",
    "123@cloudbuild.gserviceaccount.com",
    "123@cloudservices.gserviceaccount.com",
    "service-123@container-engine-robot.iam.gserviceaccount.com",
    "service-123@gcp-sa-cloudbuild.iam.gserviceaccount.com",
)


@pytest.mark.parametrize(
    "account",
    ["nodes@kubepar-dev.iam.gserviceaccount.com", "kubepar-dev-nodes@kubepar-dev.iam.gserviceaccount.com"],
)
def test_a_dedicated_node_account_passes(account: str) -> None:
    assert check("gke-node-service-account", POOL, _pool(serviceAccount=account)) == []


@pytest.mark.parametrize(
    ("rule", "change", "message"),
    [
        ("gke-workload-identity", {"workloadMetadataConfig": {"mode": "GCE_METADATA"}}, "exposes the node metadata"),
        ("gke-shielded-nodes", {"shieldedInstanceConfig": {"enableSecureBoot": False}}, "without secure boot"),
        *(
            ("gke-node-service-account", {"serviceAccount": account}, "default service account")
            for account in DEFAULT_ACCOUNTS
        ),
        ("gke-node-auto-repair-upgrade", {"management": {"autoRepair": True}}, "auto-repair or auto-upgrade off"),
    ],
)
def test_pool_rules_hold_for_separate_and_inline_pools(rule: str, change: dict[str, Any], message: str) -> None:
    assert check(rule, POOL, _pool()) == []
    assert any(message in m for m in check(rule, POOL, _pool(**change)))
    # The same pool declared inline in a Cluster's node_pools.
    cluster: dict[str, Any] = {
        "removeDefaultNodePool": True,
        "workloadIdentityConfig": {"workloadPool": "p.svc.id.goog"},
        "enableShieldedNodes": True,
        "nodePools": [_pool(), _pool(**change)],
    }
    found = check(rule, CLUSTER, cluster)
    assert any("inline node pool 'extra'" in m and message in m for m in found), found
    cluster["nodePools"] = [_pool()]
    assert check(rule, CLUSTER, cluster) == []


def test_deletion_protection_is_required_only_for_protected_stacks() -> None:
    cluster = {"deletionProtection": False}
    assert check("gke-deletion-protection", CLUSTER, cluster, stack="dev") == []
    found = check("gke-deletion-protection", CLUSTER, cluster, stack="prod")
    assert "in stack 'prod' has no deletion protection" in found[0]


# ------------------------------------------------------------- third pass: pools, datapath, endpoints, NAP


@pytest.mark.parametrize("where", ["separate", "inline"])
def test_a_pool_that_gives_its_nodes_public_addresses_is_refused(where: str) -> None:
    pool = {**GOOD_POOL, "networkConfig": {"enablePrivateNodes": False}}
    resource_type, props = (POOL, pool) if where == "separate" else (CLUSTER, {"nodePools": [pool]})
    found = check("gke-private-pool-nodes", resource_type, props)
    assert len(found) == 1 and "gives its nodes public addresses" in found[0], found
    private = {**GOOD_POOL, "networkConfig": {"enablePrivateNodes": True}}
    assert check("gke-private-pool-nodes", POOL, private) == []
    assert check("gke-private-pool-nodes", POOL, GOOD_POOL) == []


@pytest.mark.parametrize(
    "props",
    [{}, {"datapathProvider": "LEGACY_DATAPATH"}, {"networkPolicy": {"enabled": False, "provider": "CALICO"}}],
)
def test_a_cluster_that_does_not_enforce_network_policy_is_refused(props: dict[str, Any]) -> None:
    found = check("gke-network-policy-enforced", CLUSTER, props)
    assert len(found) == 1 and "does not enforce NetworkPolicy" in found[0], found


@pytest.mark.parametrize(
    "props", [{"datapathProvider": "ADVANCED_DATAPATH"}, {"networkPolicy": {"enabled": True, "provider": "CALICO"}}]
)
def test_a_cluster_that_enforces_network_policy_passes(props: dict[str, Any]) -> None:
    assert check("gke-network-policy-enforced", CLUSTER, props) == []


EXTERNAL_DNS = {"controlPlaneEndpointsConfig": {"dnsEndpointConfig": {"allowExternalTraffic": True}}}


def test_the_dns_endpoint_takes_external_traffic_only_when_it_is_the_way_in() -> None:
    assert check("gke-dns-endpoint-access", CLUSTER, EXTERNAL_DNS) == []
    found = check("gke-dns-endpoint-access", CLUSTER, EXTERNAL_DNS, config={"controlPlaneAccess": "ip"})
    assert len(found) == 1 and "chosen way in is 'ip'" in found[0], found
    closed = {"controlPlaneEndpointsConfig": {"dnsEndpointConfig": {"allowExternalTraffic": False}}}
    assert check("gke-dns-endpoint-access", CLUSTER, closed, config={"controlPlaneAccess": "ip"}) == []


GOOD_NAP = {
    "serviceAccount": "nodes@p.iam.gserviceaccount.com",
    "oauthScopes": ["https://www.googleapis.com/auth/cloud-platform"],
    "shieldedInstanceConfig": {"enableSecureBoot": True},
    "management": {"autoRepair": True, "autoUpgrade": True},
}


@pytest.mark.parametrize(
    ("defaults", "problem"),
    [
        ({}, "default service account"),
        *(({**GOOD_NAP, "serviceAccount": account}, "default service account") for account in DEFAULT_ACCOUNTS),
        ({**GOOD_NAP, "oauthScopes": ["cloud-platform"]}, "by alias"),
        ({**GOOD_NAP, "shieldedInstanceConfig": {}}, "without secure boot"),
        ({**GOOD_NAP, "management": {"autoRepair": False, "autoUpgrade": True}}, "auto-repair or auto-upgrade off"),
    ],
)
def test_auto_provisioned_pools_are_held_to_the_pool_rules(defaults: dict[str, Any], problem: str) -> None:
    props = {"clusterAutoscaling": {"enabled": True, "autoProvisioningDefaults": defaults}}
    found = check("gke-auto-provisioning-defaults", CLUSTER, props)
    assert any(problem in m for m in found), found


def test_good_or_absent_auto_provisioning_passes() -> None:
    on = {"clusterAutoscaling": {"enabled": True, "autoProvisioningDefaults": GOOD_NAP}}
    assert check("gke-auto-provisioning-defaults", CLUSTER, on) == []
    off = {"clusterAutoscaling": {"enabled": False}}
    assert check("gke-auto-provisioning-defaults", CLUSTER, off) == []
