"""GKE cluster component, as the dev and prod stacks declare it."""

from __future__ import annotations

import json

import yaml

from components.gcp.kubeconfig import gke_kubeconfig
from tests.conftest import OWN_RANGE, only, program
from tools import harness


def cluster(stack: str = "dev", **overrides: object) -> dict:
    return only(program(stack, **overrides).of_type("gcp:container/cluster:Cluster")).inputs


def test_default_node_pool_is_removed() -> None:
    inputs = cluster()
    assert inputs["removeDefaultNodePool"] is True
    assert inputs["initialNodeCount"] == 1


def test_nodes_are_private_and_the_ip_endpoint_admits_only_the_authorized_networks() -> None:
    inputs = cluster(masterAuthorizedNetworks=json.dumps([OWN_RANGE]))
    assert inputs["privateClusterConfig"]["enablePrivateNodes"] is True
    assert inputs["masterAuthorizedNetworksConfig"] == {
        "gcpPublicCidrsAccessEnabled": False,
        "cidrBlocks": [{"cidrBlock": OWN_RANGE, "displayName": "kubepar-0"}],
    }
    # The shipped stacks list none: the IP endpoint admits nobody from outside Google's network.
    assert cluster()["masterAuthorizedNetworksConfig"] == {"gcpPublicCidrsAccessEnabled": False, "cidrBlocks": []}


def test_people_and_ci_reach_the_api_through_the_iam_authorised_dns_endpoint() -> None:
    assert cluster()["controlPlaneEndpointsConfig"] == {
        "dnsEndpointConfig": {"allowExternalTraffic": True},
        "ipEndpointsConfig": {"enabled": True},
    }
    capture = program("dev")
    provider = only([p for p in capture.providers if p.type == "pulumi:providers:kubernetes"])
    server = yaml.safe_load(provider.inputs["kubeconfig"])["clusters"][0]["cluster"]
    # The DNS endpoint's certificate is publicly trusted: no cluster CA in the kubeconfig.
    assert server == {"server": f"https://{harness.MOCK_DNS_ENDPOINT}"}
    cluster_name = only(capture.of_type("gcp:container/cluster:Cluster")).state["name"]
    assert capture.outputs["kubectlSetup"] == (
        f"gcloud container clusters get-credentials {cluster_name} "
        "--location europe-west1-b --project kubepar-dev --dns-endpoint"
    )


def test_a_refresh_after_the_default_pool_is_gone_cannot_replace_the_cluster() -> None:
    record = only(program("dev").of_type("gcp:container/cluster:Cluster"))
    # node_config is replace-on-change and reports the first remaining pool after
    # the default pool's removal: the cluster must not diff it (nor the count).
    assert {"nodeConfig", "initialNodeCount"} <= set(record.ignore_changes)
    # What is ignored describes the default pool only; the pools declare their own.
    assert set(record.inputs["nodeConfig"]) == {
        "serviceAccount",
        "oauthScopes",
        "shieldedInstanceConfig",
        "workloadMetadataConfig",
    }
    # Nothing else the program sets is ignored: every other input still diffs.
    assert set(record.ignore_changes) == {"nodeConfig", "initialNodeCount"}


def test_workload_identity_uses_the_project_pool() -> None:
    assert cluster()["workloadIdentityConfig"] == {"workloadPool": "kubepar-dev.svc.id.goog"}


def test_dataplane_v2_enforces_network_policy_without_the_legacy_addon() -> None:
    inputs = cluster()
    assert inputs["datapathProvider"] == "ADVANCED_DATAPATH"
    assert "networkPolicy" not in inputs


def test_no_client_certificate_and_no_legacy_abac() -> None:
    inputs = cluster()
    assert inputs["masterAuth"]["clientCertificateConfig"] == {"issueClientCertificate": False}
    assert inputs["enableLegacyAbac"] is False
    assert inputs["enableShieldedNodes"] is True


def test_deletion_protection_follows_stack_config() -> None:
    assert cluster("dev")["deletionProtection"] is False
    assert cluster("prod")["deletionProtection"] is True


def test_release_channel_follows_stack_config() -> None:
    assert cluster("dev")["releaseChannel"] == {"channel": "REGULAR"}
    assert cluster("prod")["releaseChannel"] == {"channel": "STABLE"}


def test_nodes_run_as_a_dedicated_account_with_one_role() -> None:
    capture = program("dev")
    account = only(capture.of_type("gcp:serviceaccount/account:Account"))
    roles = capture.of_type("gcp:projects/iAMMember:IAMMember")
    assert [r.inputs["role"] for r in roles] == ["roles/container.defaultNodeServiceAccount"]
    assert roles[0].inputs["member"] == f"serviceAccount:{account.state['email']}"
    assert cluster()["nodeConfig"]["serviceAccount"] == account.state["email"]


def test_kubeconfig_uses_the_gcloud_exec_plugin_and_holds_no_token() -> None:
    document = yaml.safe_load(gke_kubeconfig("c1", "192.0.2.1", "Q0E="))
    user = document["users"][0]["user"]
    assert set(user) == {"exec"}
    assert user["exec"]["command"] == "gke-gcloud-auth-plugin"
    assert user["exec"]["provideClusterInfo"] is True
    assert document["clusters"][0]["cluster"]["server"] == "https://192.0.2.1"


def test_kubernetes_provider_comes_from_the_cluster_with_a_stable_identity() -> None:
    capture = program("dev")
    provider = only([p for p in capture.providers if p.type == "pulumi:providers:kubernetes"])
    cluster = only(capture.of_type("gcp:container/cluster:Cluster"))
    assert provider.inputs["clusterIdentifier"] == f"{cluster.name}-id"
    kubeconfig = yaml.safe_load(provider.inputs["kubeconfig"])
    assert kubeconfig["users"][0]["user"]["exec"]["command"] == "gke-gcloud-auth-plugin"


def test_existing_platform_uses_the_kubectl_context() -> None:
    provider = only([p for p in program("local").providers if p.type == "pulumi:providers:kubernetes"])
    assert "kubeconfig" not in provider.inputs
    context = only([p for p in program("local", kubeContext="kind-kind").providers if "kubernetes" in p.type])
    assert context.inputs["context"] == "kind-kind"


def test_upgrades_happen_only_in_the_weekend_window_by_default() -> None:
    window = cluster()["maintenancePolicy"]["recurringWindow"]
    assert window == {
        "startTime": "2025-01-04T01:00:00Z",
        "endTime": "2025-01-04T07:00:00Z",
        "recurrence": "FREQ=WEEKLY;BYDAY=SA,SU",
    }


def test_maintenance_window_follows_config_across_midnight() -> None:
    window = cluster(maintenanceWindow="TU,TH 21:30")["maintenancePolicy"]["recurringWindow"]
    assert window["recurrence"] == "FREQ=WEEKLY;BYDAY=TU,TH"
    assert (window["startTime"], window["endTime"]) == ("2025-01-04T21:30:00Z", "2025-01-05T03:30:00Z")


def test_the_stack_enables_the_apis_it_uses_and_never_disables_them() -> None:
    services = program("dev").of_type("gcp:projects/service:Service")
    assert {s.inputs["service"] for s in services} == {
        "compute.googleapis.com",
        "container.googleapis.com",
        "iam.googleapis.com",
        "cloudresourcemanager.googleapis.com",
        "containerfilesystem.googleapis.com",
        "storage.googleapis.com",
        "sts.googleapis.com",
    }
    for service in services:
        assert service.inputs["disableOnDestroy"] is False
        assert service.inputs["project"] == "kubepar-dev"


def test_cluster_and_network_wait_for_the_apis_and_the_node_account_grant() -> None:
    capture = program("dev")
    urns = {(r.type, r.name): r.urn for r in capture.resources}
    gke = only(capture.of_type("gcp:container/cluster:Cluster"))
    network = only(capture.of_type("gcp:compute/network:Network"))
    api_urns = {r.urn for r in capture.of_type("gcp:projects/service:Service")}
    assert api_urns <= set(gke.dependencies)
    assert api_urns <= set(network.dependencies)
    # The grant, then the one-time propagation wait, then the cluster.
    wait = only([r for r in capture.resources if r.name == "kubepar-nodes-ready"])
    assert urns[("gcp:projects/iAMMember:IAMMember", "kubepar-nodes-role")] in wait.dependencies
    assert wait.urn in gke.dependencies
    assert wait.inputs["seconds"] >= 30


def test_iam_wait_sleeps_only_when_created() -> None:
    from components.gcp import propagation

    provider = propagation._WaitProvider()
    same = provider.diff("id", {"grant": "a", "seconds": 60}, {"grant": "a", "seconds": 90})
    new_grant = provider.diff("id", {"grant": "a", "seconds": 60}, {"grant": "b", "seconds": 60})
    assert same.changes is False
    assert new_grant.changes is True
    assert new_grant.replaces == ["grant"]


def test_deletion_protection_protects_the_cluster_in_pulumi_too() -> None:
    protected = only(program("prod").of_type("gcp:container/cluster:Cluster"))
    unprotected = only(program("dev").of_type("gcp:container/cluster:Cluster"))
    assert (protected.protect, protected.inputs["deletionProtection"]) == (True, True)
    assert (unprotected.protect, unprotected.inputs["deletionProtection"]) == (False, False)


def test_kubeconfig_uses_the_same_identity_as_the_gcp_provider() -> None:
    document = yaml.safe_load(gke_kubeconfig("c", "192.0.2.1", "Y2E="))
    assert document["users"][0]["user"]["exec"]["args"] == ["--use_application_default_credentials"]


def test_the_worker_count_updates_in_place_and_scripts_replace_their_config_map() -> None:
    # pulumi-kubernetes replaces a ConfigMap whose data changes unless its
    # provider allows mutable ConfigMaps and the ConfigMap is not immutable:
    # a replaced settings ConfigMap would change RStudio's pod spec.
    for stack in ("dev", "local"):
        capture = program(stack)
        provider = only([p for p in capture.providers if p.type == "pulumi:providers:kubernetes"])
        assert provider.inputs["enableConfigMapMutable"] == "true"
        maps = {r.name: r.inputs for r in capture.of_type("kubernetes:core/v1:ConfigMap")}
        assert maps["kubepar-files-settings"]["immutable"] is False
        assert maps["kubepar-files-scripts"]["immutable"] is True
