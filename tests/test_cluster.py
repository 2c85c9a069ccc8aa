"""GKE cluster component, as the dev and prod stacks declare it."""

from __future__ import annotations

import yaml

from components.providers import gke_kubeconfig
from tests.conftest import only, program


def cluster(stack: str = "dev", **overrides: object) -> dict:
    return only(program(stack, **overrides).of_type("gcp:container/cluster:Cluster")).inputs


def test_default_node_pool_is_removed() -> None:
    inputs = cluster()
    assert inputs["removeDefaultNodePool"] is True
    assert inputs["initialNodeCount"] == 1


def test_nodes_are_private_and_the_endpoint_is_restricted() -> None:
    inputs = cluster()
    assert inputs["privateClusterConfig"]["enablePrivateNodes"] is True
    assert inputs["masterAuthorizedNetworksConfig"]["cidrBlocks"] == [
        {"cidrBlock": "203.0.113.0/24", "displayName": "kubepar-0"}
    ]


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
    assert kubeconfig["clusters"][0]["cluster"]["server"] == "https://192.0.2.10"


def test_existing_platform_uses_the_kubectl_context() -> None:
    provider = only([p for p in program("local").providers if p.type == "pulumi:providers:kubernetes"])
    assert "kubeconfig" not in provider.inputs
    context = only([p for p in program("local", kubeContext="kind-kind").providers if "kubernetes" in p.type])
    assert context.inputs["context"] == "kind-kind"
