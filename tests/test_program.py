"""The whole program, per stack, with that stack's real config file."""

from __future__ import annotations

import json
from collections import Counter

import kubernetes_validate
import pytest
import yaml

from components.gcp import apis
from components.ground import cost
from components.ground.hub_rights import HUB_ROLE_NAME, same_rules
from tests.conftest import OWN_RANGE, STACKS, containers, only, program, stack_config
from tools import harness

# What each stack declares, by type and logical name: a rename shows up here.
GKE_NAMES = {
    ("gcp:compute/network:Network", "kubepar-vpc"),
    ("gcp:compute/subnetwork:Subnetwork", "kubepar-subnet"),
    ("gcp:compute/router:Router", "kubepar-router"),
    ("gcp:compute/routerNat:RouterNat", "kubepar-nat"),
    ("gcp:serviceaccount/account:Account", "kubepar-nodes"),
    ("gcp:projects/iAMMember:IAMMember", "kubepar-nodes-role"),
    ("gcp:container/cluster:Cluster", "kubepar-gke"),
    ("gcp:container/nodePool:NodePool", "system-pool"),
    ("gcp:container/nodePool:NodePool", "workers-pool"),
    *(("gcp:projects/service:Service", f"kubepar-apis-{api}") for api in apis.SERVICES),
    ("pulumi-python:dynamic:Resource", "kubepar-nodes-ready"),
    ("pulumi-python:dynamic:Resource", "kubepar-results-grants-ready"),
    # Sweep results: one bucket per stack, object access for the sweeps' and the session's accounts.
    ("gcp:storage/bucket:Bucket", "kubepar-results-bucket"),
    ("gcp:storage/bucketIAMMember:BucketIAMMember", "kubepar-results-sweeps"),
    ("gcp:storage/bucketIAMMember:BucketIAMMember", "kubepar-results-session"),
}
SHARED_NAMES = {
    ("random:index/randomPassword:RandomPassword", "password"),
    ("kubernetes:core/v1:Namespace", "kubepar-namespace"),
    ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "kubepar-default-deny"),
    ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "kubepar-dns"),
    ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "scheduler-egress"),
    ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "worker-egress"),
    ("kubernetes:core/v1:ConfigMap", "kubepar-files-scripts"),
    ("kubernetes:core/v1:ConfigMap", "kubepar-files-settings"),
    ("kubernetes:core/v1:ServiceAccount", "kubepar-scheduler"),
    ("kubernetes:core/v1:ServiceAccount", "kubepar-worker"),
    ("kubernetes:core/v1:ServiceAccount", "kubepar-sweep"),
    ("kubernetes:apps/v1:Deployment", "scheduler-deployment"),
    ("kubernetes:core/v1:Service", "scheduler-endpoint"),
    ("kubernetes:core/v1:Service", "scheduler-ui"),
    ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "scheduler-from-clients"),
    ("kubernetes:apps/v1:Deployment", "worker-deployment"),
    # One home per stack, whatever the engine: switching engines keeps it.
    ("kubernetes:core/v1:PersistentVolumeClaim", "kubepar-home-claim"),
    ("kubernetes:policy/v1:PodDisruptionBudget", "scheduler-budget"),
}
R_NAMES = SHARED_NAMES | {
    ("kubernetes:core/v1:Secret", "scheduler-password"),
    ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "worker-no-ingress"),
}
DASK_NAMES = SHARED_NAMES | {
    ("kubernetes:core/v1:ServiceAccount", "kubepar-notebook"),
    ("kubernetes:core/v1:Secret", "notebook-password"),
    ("kubernetes:policy/v1:PodDisruptionBudget", "notebook-budget"),
    ("kubernetes:apps/v1:Deployment", "notebook-deployment"),
    ("kubernetes:core/v1:Service", "notebook-ui"),
    ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "notebook-from-users"),
    ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "notebook-egress"),
    ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "scheduler-from-cluster"),
    ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "worker-from-peers"),
}
PUBLIC_NAMES = {("kubernetes:networking.k8s.io/v1:NetworkPolicy", "scheduler-from-users")}
LOCAL_NAMES = {("kubernetes:core/v1:PersistentVolumeClaim", "kubepar-results-claim")}
# dev's example sweep, keyed by its name.
SWEEP_NAMES = {
    # One immutable ConfigMap per run: the run id (checked in test_sweep.py) ends its name.
    ("kubernetes:core/v1:ConfigMap", "sweep-sim-files-<run>"),
    ("kubernetes:batch/v1:Job", "sweep-sim-job"),
    ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "sweep-sim-no-ingress"),
    ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "sweep-sim-egress"),
}
# The shipped stacks set no allowedSourceRanges: no LoadBalancer, so nobody may come in from outside.
DASK_PRIVATE_NAMES = (DASK_NAMES - {("kubernetes:networking.k8s.io/v1:NetworkPolicy", "notebook-from-users")}) | {
    ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "notebook-no-ingress")
}
_NP = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
HUB_NAMES = {
    ("random:index/randomId:RandomId", "hub-seed"),
    ("kubernetes:core/v1:Namespace", "kubepar-namespace"),
    ("kubernetes:core/v1:Namespace", "kubepar-hub-users"),
    ("kubernetes:core/v1:ConfigMap", "kubepar-files-scripts"),
    ("kubernetes:core/v1:ConfigMap", "kubepar-files-settings"),
    ("kubernetes:core/v1:ConfigMap", "kubepar-hub-user-scripts"),
    ("kubernetes:core/v1:ResourceQuota", "kubepar-hub-quota"),
    ("kubernetes:rbac.authorization.k8s.io/v1:Role", "kubepar-hub-role"),
    ("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", "kubepar-hub-role-binding"),
    ("kubernetes:core/v1:ServiceAccount", "kubepar-hub-user-account"),
    ("kubernetes:core/v1:ServiceAccount", "kubepar-hub"),
    ("kubernetes:core/v1:ServiceAccount", "kubepar-proxy"),
    ("kubernetes:core/v1:ServiceAccount", "kubepar-sweep"),
    ("kubernetes:core/v1:Secret", "kubepar-hub-secret"),
    ("kubernetes:core/v1:PersistentVolumeClaim", "kubepar-hub-db"),
    ("kubernetes:core/v1:PersistentVolumeClaim", "kubepar-home-claim"),
    ("kubernetes:apps/v1:Deployment", "hub-deployment"),
    ("kubernetes:apps/v1:Deployment", "proxy-deployment"),
    ("kubernetes:core/v1:Service", "hub-endpoint"),
    ("kubernetes:core/v1:Service", "proxy-endpoint"),
    ("kubernetes:core/v1:Service", "proxy-ui"),
    *(
        (_NP, name)
        for name in (
            "kubepar-default-deny",
            "kubepar-dns",
            "hub-from-clients",
            "hub-egress",
            "proxy-from-clients",
            "proxy-egress",
            "kubepar-hub-users-default-deny",
            "kubepar-hub-users-dns",
            "kubepar-hub-sessions-from-hub",
            "kubepar-hub-sessions-egress",
            "kubepar-hub-worker-internet",
            "kubepar-hub-dask-scheduler-internet",
            "kubepar-hub-hub-to-sessions",
            "kubepar-hub-proxy-to-sessions",
            "kubepar-hub-hub-from-sessions",
        )
    ),
}
GKE_HUB_NAMES = (GKE_NAMES - {("gcp:storage/bucketIAMMember:BucketIAMMember", "kubepar-results-session")}) | HUB_NAMES
EXPECTED_NAMES = {
    "hub": GKE_HUB_NAMES,
    "kwok-hub": HUB_NAMES | LOCAL_NAMES,
    "local": R_NAMES | LOCAL_NAMES,
    "kwok": R_NAMES | LOCAL_NAMES,
    "dev": GKE_NAMES | R_NAMES | SWEEP_NAMES,
    "prod": GKE_NAMES | R_NAMES,
    "dask-dev": GKE_NAMES | DASK_PRIVATE_NAMES,
}
EXPOSED = {"allowedSourceRanges": json.dumps([OWN_RANGE]), "domain": "lab.example.org", "dnsZone": "lab-zone"}


@pytest.mark.parametrize(
    ("stack", "added", "removed"),
    [
        ("dev", {"https-from-users", "https-egress", "scheduler-from-cluster"}, set()),
        ("dask-dev", {"https-from-users", "https-egress", "notebook-from-clients"}, {"notebook-no-ingress"}),
    ],
)
def test_a_door_adds_exactly_the_fronts_doors_and_the_sessions_door_for_the_front(
    stack: str, added: set[str], removed: set[str]
) -> None:
    def policies(**config: str) -> set[str]:
        return {r.name for r in program(stack, **config).resources if r.type == _NP}

    assert policies(**EXPOSED) - policies() == added
    assert policies() - policies(**EXPOSED) == removed


@pytest.mark.parametrize("stack", STACKS)
def test_stack_declares_exactly_the_expected_resources(stack: str) -> None:
    capture = program(stack)
    runs = [sweep["run"] for sweep in (capture.outputs.get("sweeps") or {}).values()]

    def generic(name: str) -> str:
        run = next((run for run in runs if name.endswith(f"-{run}")), None)
        return name if run is None else name.removesuffix(run) + "<run>"

    assert {(r.type, generic(r.name)) for r in capture.resources} == EXPECTED_NAMES[stack]


def test_resource_counts_per_type_for_dev() -> None:
    counts = Counter(r.type for r in program("dev").resources)
    assert counts["gcp:container/nodePool:NodePool"] == 2
    assert counts["kubernetes:apps/v1:Deployment"] == 2
    # default-deny, DNS; scheduler: clients, egress; workers and the sweep: no ingress, egress.
    assert counts["kubernetes:networking.k8s.io/v1:NetworkPolicy"] == 8
    assert counts["kubernetes:core/v1:Service"] == 2


def test_local_stack_creates_nothing_in_gcp() -> None:
    assert not [r for r in program("local").resources if r.type.startswith("gcp:")]


@pytest.mark.parametrize("stack", STACKS)
def test_every_kubernetes_object_validates_against_the_schema(stack: str) -> None:
    documents = harness.kubernetes_documents(program(stack))
    assert documents
    for document in documents:
        kubernetes_validate.validate(document, "1.33", strict=True)


@pytest.mark.parametrize("stack", STACKS)
def test_no_cluster_wide_rbac_anywhere_and_the_hubs_role_is_the_only_role(stack: str) -> None:
    documents = harness.kubernetes_documents(program(stack))
    kinds = Counter(doc["kind"] for doc in documents)
    assert not kinds["ClusterRoleBinding"] and not kinds["ClusterRole"]
    hub = stack_config(stack).get("kubepar:engine") == "hub"
    assert (kinds["Role"], kinds["RoleBinding"]) == ((1, 1) if hub else (0, 0))
    if hub:
        role = only([doc for doc in documents if doc["kind"] == "Role"])
        binding = only([doc for doc in documents if doc["kind"] == "RoleBinding"])
        assert role["metadata"]["name"] == HUB_ROLE_NAME and role["metadata"]["namespace"].endswith("-users")
        assert same_rules(role["rules"])
        assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": HUB_ROLE_NAME}
        hub_pod = next(
            doc["spec"]["template"]["spec"]
            for doc in documents
            if doc["kind"] == "Deployment" and doc["metadata"]["labels"]["app.kubernetes.io/component"] == "hub"
        )
        assert [subject["name"] for subject in binding["subjects"]] == [hub_pod["serviceAccountName"]]


@pytest.mark.parametrize("stack", STACKS)
def test_every_object_carries_the_recommended_labels(stack: str) -> None:
    for document in harness.kubernetes_documents(program(stack)):
        object_labels = document["metadata"]["labels"]
        assert object_labels["app.kubernetes.io/name"] == "kubepar"
        assert object_labels["app.kubernetes.io/instance"] == stack


@pytest.mark.parametrize("stack", STACKS)
def test_every_container_requests_what_it_limits(stack: str) -> None:
    for document in program(stack).kubernetes("Deployment"):
        for container in containers(document):
            resources = container["resources"]
            assert resources["requests"] == resources["limits"], container["name"]
            assert set(resources["limits"]) == {"cpu", "memory", "ephemeral-storage"}


@pytest.mark.parametrize("stack", STACKS)
def test_no_pod_mounts_a_service_account_token(stack: str) -> None:
    capture = program(stack)
    for account in capture.kubernetes("ServiceAccount"):
        assert account["automountServiceAccountToken"] is False
    with_token = [
        document["metadata"]["labels"]["app.kubernetes.io/component"]
        for document in capture.kubernetes("Deployment")
        if document["spec"]["template"]["spec"]["automountServiceAccountToken"] is not False
    ]
    # The hub starts the users' pods: it alone holds a token (of an account bound to its one Role).
    assert with_token == (["hub"] if stack_config(stack).get("kubepar:engine") == "hub" else [])


@pytest.mark.parametrize("stack", [s for s in STACKS if stack_config(s).get("kubepar:engine") != "hub"])
def test_password_is_a_secret_everywhere(stack: str) -> None:
    capture = program(stack)
    secret = only(capture.of_type("kubernetes:core/v1:Secret"))
    assert "stringData" in secret.secret_paths
    assert "password" in capture.secret_outputs
    password = next(r for r in capture.resources if r.type == "random:index/randomPassword:RandomPassword").state[
        "result"
    ]
    rendered = yaml.safe_dump_all(harness.kubernetes_documents(capture))
    assert password not in rendered
    plain_outputs = {k: v for k, v in capture.outputs.items() if k not in capture.secret_outputs}
    assert password not in repr(plain_outputs)


def test_configured_password_replaces_the_generated_one() -> None:
    capture = program("local", password={"secret": "a-long-enough-passphrase"})
    assert not capture.of_type("random:index/randomPassword:RandomPassword")
    assert "password" in capture.secret_outputs
    assert capture.outputs["password"] == "a-long-enough-passphrase"


def test_scaling_workers_renames_nothing_and_leaves_rstudio_alone() -> None:
    before = program("dev")
    after = program("dev", workers=11)
    assert {(r.type, r.name) for r in before.resources} == {(r.type, r.name) for r in after.resources}
    rstudio = [
        d
        for d in before.kubernetes("Deployment")
        if d["metadata"]["labels"]["app.kubernetes.io/component"] == "scheduler"
    ]
    rstudio_after = [
        d
        for d in after.kubernetes("Deployment")
        if d["metadata"]["labels"]["app.kubernetes.io/component"] == "scheduler"
    ]
    assert rstudio == rstudio_after
    settings = [c for c in after.kubernetes("ConfigMap") if c["metadata"]["name"] == "kubepar-settings"]
    assert settings[0]["data"]["workers"] == "11\n"


def test_outputs_name_namespace_workers_and_r_version() -> None:
    outputs = program("dev").outputs
    assert outputs["namespace"] == "kubepar"
    assert outputs["workers"] == 4
    assert outputs["rVersion"] == "4.6.1"
    assert outputs["url"] == "http://localhost:8787"
    assert program("dev", **EXPOSED).outputs["url"] == "https://lab.example.org"
    assert outputs["user"] == "rstudio"
    assert "kubeconfig" in program("dev").secret_outputs


def test_local_stack_prints_the_port_forward_command() -> None:
    outputs = program("local").outputs
    assert outputs["portForward"].startswith("kubectl -n kubepar port-forward svc/scheduler-ui-")
    assert outputs["portForward"].endswith(" 8787:8787")
    assert outputs["url"] == "http://localhost:8787"
    named = program("local", kubeContext="kind-science").outputs["portForward"]
    assert named.startswith("kubectl --context kind-science -n kubepar port-forward svc/scheduler-ui-")


@pytest.mark.parametrize(("stack", "prefix"), [("dev", ""), ("dask-dev", ""), ("dask-dev", "dashboard")])
def test_a_gke_stacks_port_forward_targets_its_own_cluster(stack: str, prefix: str) -> None:
    # With two stacks, `make forward STACK=prod` must not reach whatever kubectl points at.
    outputs = program(stack).outputs
    cluster = outputs["cluster"]
    project = "kubepar-dev"
    forward = outputs[f"{prefix}PortForward" if prefix else "portForward"]
    assert forward.startswith(f"kubectl --context gke_{project}_europe-west1-b_{cluster} -n kubepar port-forward ")
    # The context is the one kubectlSetup's gcloud command writes for this cluster.
    assert f"get-credentials {cluster} --location europe-west1-b --project {project}" in outputs["kubectlSetup"]


def test_dask_stack_outputs_notebook_and_dashboard_addresses() -> None:
    private = program("dask-dev").outputs
    assert private["url"] == "http://localhost:8888" and private["dashboardUrl"] == "http://localhost:8787"
    outputs = program("dask-dev", **EXPOSED).outputs
    assert outputs["engine"] == "dask"
    # One door, HTTPS: the dashboard is reached through JupyterLab, not a door of its own.
    assert outputs["url"] == "https://lab.example.org"
    assert "dashboardUrl" not in outputs
    assert outputs["daskVersion"] == "2026.7.1"
    assert "password" in program("dask-dev").secret_outputs


def test_a_gke_stack_outputs_its_hourly_cost_item_by_item() -> None:
    estimate = program("dev").outputs["estimatedCost"]
    table = cost.prices()
    e2 = table["machines"]["e2"]
    # One on-demand e2-standard-4 system node; dev's 4 one-CPU workers fit 3 a node: 2 Spot nodes.
    assert estimate["nodes"] == {"system": 1, "worker": 2}
    assert estimate["items"]["system nodes"] == pytest.approx(4 * e2["vcpu"] + 16 * e2["memory"], abs=1e-4)
    assert estimate["items"]["worker nodes"] == pytest.approx(
        2 * (4 * e2["spot_vcpu"] + 16 * e2["spot_memory"]), abs=1e-4
    )
    # pd-balanced boot disks and the 20Gi home volume, a month's price per hour. The system node's
    # 50 GB leaves pods 15.5Gi (5 GB eviction threshold, 23.5 GB reserved, 6 GiB of OS partitions),
    # which holds the session's 15.1Gi (64Mi logs, 4Gi writable, 2Gi /tmp, 4Gi packages, the
    # sidecar's 5Gi). A worker node holds two sweep tasks by CPU (1 CPU and the sidecar's 250m each,
    # of 3520m), 11.1Gi each: 22.1Gi, which a 60 GB disk (21Gi) does not leave and 70 GB (26.5Gi) does.
    assert estimate["items"]["disks"] == pytest.approx((50 + 2 * 70 + 20) * 0.10 / 730, abs=1e-4)
    assert estimate["items"]["nat"] == pytest.approx(3 * table["nat_per_vm"], abs=1e-4)
    assert estimate["items"]["cluster"] == table["gke_cluster_fee"] == 0.10
    assert estimate["items"]["load balancer"] == 0
    assert estimate["usdPerHour"] == pytest.approx(sum(estimate["items"].values()), abs=0.001)
    # Monthly is hourly times 730, not divided.
    assert estimate["usdPerMonthIfLeftRunning"] == round(sum(estimate["items"].values()) * 730)
    assert table["date"] in estimate["prices"]
    assert any("egress" in item for item in estimate["leavesOut"])
    assert any("flow logs" in item for item in estimate["leavesOut"])


def test_the_estimate_counts_the_system_nodes_the_session_pods_need() -> None:
    # JupyterLab (2 CPU, 6Gi and the bucket's sidecar) and the Dask scheduler
    # (2 CPU, 6Gi) do not fit together on one e2-standard-4 (3520m left after
    # GKE's reservations and DaemonSets): two system nodes.
    estimate = program("dask-dev").outputs["estimatedCost"]
    assert estimate["nodes"]["system"] == 2
    e2 = cost.prices()["machines"]["e2"]
    assert estimate["items"]["system nodes"] == pytest.approx(2 * (4 * e2["vcpu"] + 16 * e2["memory"]), abs=1e-4)
    # One system node holds them both on an e2-standard-8.
    larger = program("dask-dev", systemMachineType="e2-standard-8").outputs["estimatedCost"]
    assert larger["nodes"]["system"] == 1


def test_the_estimate_follows_spot_regional_and_the_load_balancer() -> None:
    zonal = program("dev").outputs["estimatedCost"]
    # Pools autoscale on whole-pool totals: a region spreads the same nodes over three zones.
    regional = program("dev", location="europe-west1").outputs["estimatedCost"]
    assert regional["items"] == zonal["items"]
    on_demand = program("dev", spot="false").outputs["estimatedCost"]
    assert on_demand["items"]["worker nodes"] > 3 * zonal["items"]["worker nodes"]
    exposed = program("dev", **EXPOSED).outputs["estimatedCost"]
    assert exposed["items"]["load balancer"] == cost.prices()["load_balancer_rule"]
    # Dask behind the HTTPS front has one door too: one LoadBalancer.
    dask_exposed = program("dask-dev", **EXPOSED).outputs["estimatedCost"]
    assert dask_exposed["items"]["load balancer"] == cost.prices()["load_balancer_rule"]
    assert program("dev", workers="0").outputs["estimatedCost"]["items"]["worker nodes"] == 0
    assert "estimatedCost" not in program("local").outputs
