"""The guardrails policy pack: each rule alone, then on the real program's resources."""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)

from tests.conftest import ROOT, STACKS, program

sys.path.insert(0, str(ROOT / "policies"))
import kubepar_policies as kp

import render  # isort: skip

POLICIES = {policy.name: policy for policy in kp.ALL_POLICIES}


def _options() -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])


def check(
    name: str,
    resource_type: str,
    props: dict[str, Any],
    *,
    stack: str = "dev",
    resource_name: str = "thing",
    config: dict[str, Any] | None = None,
) -> list[str]:
    """Messages one rule reports for one resource, with the rule's default config."""
    policy = POLICIES[name]
    settings = {**kp.config_defaults(policy), **(config or {})}
    urn = f"urn:pulumi:{stack}::kubepar::{resource_type}::{resource_name}"
    args = ResourceValidationArgs(resource_type, props, urn, resource_name, _options(), None, settings)
    found: list[str] = []
    policy.validate(args, lambda message, _urn=None: found.append(message))
    return found


def stack_check(resources: list[render.Recorded]) -> list[str]:
    found: list[str] = []
    policy_resources = [
        PolicyResource(r.type, r.inputs, r.urn, r.name, _options(), None, None, [], {}) for r in resources
    ]
    for policy in kp.STACK_POLICIES:
        policy.validate(StackValidationArgs(policy_resources), lambda message, _urn=None: found.append(message))
    return found


def violations(capture: render.Capture, level: EnforcementLevel) -> list[str]:
    found: list[str] = []
    for policy in kp.RESOURCE_POLICIES:
        if policy.enforcement_level != level:
            continue
        for record in capture.resources:
            stack = record.urn.split("::")[0].rsplit(":", 1)[-1]
            found += [
                f"{policy.name}: {m}"
                for m in check(policy.name, record.type, record.inputs, stack=stack, resource_name=record.name)
            ]
    if level == EnforcementLevel.MANDATORY:
        found += stack_check(capture.resources)
    return found


def deployment(**container: Any) -> dict[str, Any]:
    base = {
        "name": "c",
        "image": "rocker/r-ver:4.5.1",
        "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 1000,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    base.update(container)
    return {
        "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "kubepar"},
        "spec": {
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/component": "worker"}},
                "spec": {"automountServiceAccountToken": False, "containers": [base]},
            }
        },
    }


DEPLOYMENT = "kubernetes:apps/v1:Deployment"
CLUSTER = "gcp:container/cluster:Cluster"
POOL = "gcp:container/nodePool:NodePool"


# ------------------------------------------------------------- each rule: one pass, one fail


@pytest.mark.parametrize(
    ("rule", "resource_type", "good", "bad", "message"),
    [
        (
            "no-cluster-admin-binding",
            "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
            {"kind": "RoleBinding", "metadata": {"name": "rb"}, "roleRef": {"name": "view"}},
            {"kind": "RoleBinding", "metadata": {"name": "rb"}, "roleRef": {"name": "cluster-admin"}},
            "RoleBinding 'rb' binds cluster-admin",
        ),
        (
            "no-wildcard-rbac",
            "kubernetes:rbac.authorization.k8s.io/v1:Role",
            {"kind": "Role", "metadata": {"name": "r"}, "rules": [{"verbs": ["get"], "resources": ["pods"]}]},
            {"kind": "Role", "metadata": {"name": "r"}, "rules": [{"verbs": ["*"], "resources": ["pods"]}]},
            "Role 'r' grants '*' in verbs",
        ),
        (
            "load-balancer-source-ranges",
            "kubernetes:core/v1:Service",
            {
                "kind": "Service",
                "metadata": {"name": "s"},
                "spec": {"type": "LoadBalancer", "loadBalancerSourceRanges": ["203.0.113.0/24"]},
            },
            {
                "kind": "Service",
                "metadata": {"name": "s"},
                "spec": {"type": "LoadBalancer", "loadBalancerSourceRanges": ["0.0.0.0/0"]},
            },
            "Service 's' allows 0.0.0.0/0 in loadBalancerSourceRanges",
        ),
        (
            "load-balancer-source-ranges",
            "kubernetes:core/v1:Service",
            {"kind": "Service", "metadata": {"name": "s"}, "spec": {"type": "ClusterIP"}},
            {"kind": "Service", "metadata": {"name": "s"}, "spec": {"type": "LoadBalancer"}},
            "Service 's' is a LoadBalancer open to the internet",
        ),
        (
            "no-public-worker-port",
            "kubernetes:core/v1:Service",
            {
                "kind": "Service",
                "metadata": {"name": "s"},
                "spec": {"type": "ClusterIP", "ports": [{"port": 11562}]},
            },
            {
                "kind": "Service",
                "metadata": {"name": "s"},
                "spec": {"type": "NodePort", "ports": [{"port": 11562}]},
            },
            "Service 's' exposes port 11562 outside the cluster",
        ),
        (
            "service-account-token-not-mounted",
            "kubernetes:core/v1:ServiceAccount",
            {"kind": "ServiceAccount", "metadata": {"name": "sa"}, "automountServiceAccountToken": False},
            {"kind": "ServiceAccount", "metadata": {"name": "sa"}},
            "ServiceAccount 'sa' mounts its token into every pod",
        ),
        (
            "container-resources",
            DEPLOYMENT,
            deployment(),
            deployment(resources={"limits": {"cpu": "1"}}),
            "has no requests for cpu and memory",
        ),
        (
            "pinned-image-tag",
            DEPLOYMENT,
            deployment(),
            deployment(image="rocker/r-ver:latest"),
            "uses image 'rocker/r-ver:latest'",
        ),
        (
            "pinned-image-tag",
            DEPLOYMENT,
            deployment(image="ghcr.io/dask/dask@sha256:abc"),
            deployment(image="registry:5000/r"),
            "without a fixed tag",
        ),
        (
            "container-hardening",
            DEPLOYMENT,
            deployment(),
            deployment(securityContext={"privileged": True}),
            "container 'c' is privileged",
        ),
        (
            "non-root",
            DEPLOYMENT,
            deployment(),
            deployment(securityContext={"runAsUser": 0}),
            "container 'c' may run as root",
        ),
        (
            "gke-default-pool-removed",
            "gcp:container/cluster:Cluster",
            {"removeDefaultNodePool": True},
            {},
            "GKE cluster 'thing' keeps its default node pool",
        ),
        (
            "gke-master-authorized-networks",
            "gcp:container/cluster:Cluster",
            {"masterAuthorizedNetworksConfig": {"cidrBlocks": [{"cidrBlock": "203.0.113.0/24"}]}},
            {"masterAuthorizedNetworksConfig": {"cidrBlocks": [{"cidrBlock": "0.0.0.0/0"}]}},
            "authorizes 0.0.0.0/0",
        ),
        (
            "gke-node-service-account",
            "gcp:container/nodePool:NodePool",
            {"nodeConfig": {"serviceAccount": "nodes@p.iam.gserviceaccount.com"}},
            {"nodeConfig": {"serviceAccount": "123-compute@developer.gserviceaccount.com"}},
            "runs as the default compute service account",
        ),
        (
            "gke-private-nodes",
            CLUSTER,
            {"privateClusterConfig": {"enablePrivateNodes": True}},
            {"privateClusterConfig": {"enablePrivateNodes": False}},
            "GKE cluster 'thing' gives nodes public addresses",
        ),
        (
            "gke-workload-identity",
            CLUSTER,
            {"workloadIdentityConfig": {"workloadPool": "p.svc.id.goog"}},
            {},
            "GKE cluster 'thing' has Workload Identity off",
        ),
        (
            "gke-workload-identity",
            POOL,
            {"nodeConfig": {"workloadMetadataConfig": {"mode": "GKE_METADATA"}}},
            {"nodeConfig": {"workloadMetadataConfig": {"mode": "GCE_METADATA"}}},
            "GKE node pool 'thing' exposes the node metadata server to pods",
        ),
        (
            "gke-shielded-nodes",
            CLUSTER,
            {"enableShieldedNodes": True},
            {},
            "GKE cluster 'thing' has shielded nodes off",
        ),
        (
            "gke-shielded-nodes",
            POOL,
            {"nodeConfig": {"shieldedInstanceConfig": {"enableSecureBoot": True}}},
            {"nodeConfig": {"shieldedInstanceConfig": {"enableSecureBoot": False}}},
            "GKE node pool 'thing' boots nodes without secure boot",
        ),
        ("gke-legacy-abac-off", CLUSTER, {"enableLegacyAbac": False}, {"enableLegacyAbac": True}, "has legacy ABAC on"),
        (
            "gke-no-client-certificate",
            CLUSTER,
            {"masterAuth": {"clientCertificateConfig": {"issueClientCertificate": False}}},
            {"masterAuth": {"clientCertificateConfig": {"issueClientCertificate": True}}},
            "issues a client certificate",
        ),
        (
            "gke-release-channel",
            CLUSTER,
            {"releaseChannel": {"channel": "STABLE"}},
            {"releaseChannel": {"channel": "UNSPECIFIED"}},
            "follows no release channel",
        ),
        (
            "cost-spot-workers-outside-prod",
            POOL,
            {"nodeConfig": {"spot": True, "labels": {"kubepar.dev/pool": "workers"}}},
            {"nodeConfig": {"spot": False, "labels": {"kubepar.dev/pool": "workers"}}},
            "runs on-demand workers outside production",
        ),
        (
            "gke-node-auto-repair-upgrade",
            "gcp:container/nodePool:NodePool",
            {"management": {"autoRepair": True, "autoUpgrade": True}},
            {"management": {"autoRepair": True, "autoUpgrade": False}},
            "has auto-repair or auto-upgrade off",
        ),
    ],
)
def test_rule_passes_good_and_names_the_fix_for_bad(
    rule: str, resource_type: str, good: dict[str, Any], bad: dict[str, Any], message: str
) -> None:
    assert check(rule, resource_type, good) == []
    found = check(rule, resource_type, bad)
    assert any(message in m for m in found), found


def test_cluster_role_binding_needs_an_allow_list_entry() -> None:
    binding = {"kind": "ClusterRoleBinding", "metadata": {"name": "crb"}, "roleRef": {"name": "view"}}
    resource_type = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding"
    assert "grants cluster-wide rights" in check("no-cluster-role-binding", resource_type, binding)[0]
    assert (
        check("no-cluster-role-binding", resource_type, binding, config={"allowedClusterRoleBindings": ["crb"]}) == []
    )


def test_scheduler_is_the_only_component_allowed_root_by_default() -> None:
    root_pod = deployment(securityContext={"runAsUser": 0})
    root_pod["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"] = "scheduler"
    assert check("non-root", DEPLOYMENT, root_pod) == []
    assert check("non-root", DEPLOYMENT, root_pod, config={"rootAllowedComponents": []})


def test_deletion_protection_is_required_only_for_protected_stacks() -> None:
    cluster = {"deletionProtection": False}
    assert check("gke-deletion-protection", "gcp:container/cluster:Cluster", cluster, stack="dev") == []
    found = check("gke-deletion-protection", "gcp:container/cluster:Cluster", cluster, stack="prod")
    assert "in stack 'prod' has no deletion protection" in found[0]


def test_worker_pool_vcpu_cap_is_a_configurable_threshold() -> None:
    pool = {
        "autoscaling": {"totalMaxNodeCount": 10},
        "nodeConfig": {
            "machineType": "n2-standard-8",
            "labels": {"kubepar.dev/pool": "workers"},
            "spot": True,
        },
    }
    assert check("cost-worker-pool-vcpu-cap", "gcp:container/nodePool:NodePool", pool) == []
    found = check("cost-worker-pool-vcpu-cap", "gcp:container/nodePool:NodePool", pool, config={"maxWorkerVcpus": 64})
    assert "can grow to 10 x 8 = 80 vCPUs, over the cap of 64" in found[0]


def test_namespace_without_network_policy_is_reported() -> None:
    assert [policy.name for policy in kp.STACK_POLICIES] == ["namespace-network-policy"]
    records = [r for r in program("local").resources if "NetworkPolicy" not in r.type]
    found = stack_check(records)
    assert found == [
        "Namespace 'kubepar' runs workloads but has no NetworkPolicy: every pod accepts traffic "
        "from anywhere in the cluster. Add a default-deny policy."
    ]


# ------------------------------------------------------------- the real program


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_passes_every_mandatory_rule(stack: str) -> None:
    assert violations(program(stack), EnforcementLevel.MANDATORY) == []


def test_dev_is_within_the_advisory_cost_rules() -> None:
    assert violations(program("dev"), EnforcementLevel.ADVISORY) == []


def test_on_demand_workers_outside_prod_get_advice() -> None:
    found = violations(program("dev", spot=False), EnforcementLevel.ADVISORY)
    assert any("runs on-demand workers outside production" in m for m in found)


def _mutated(
    stack: str,
    resource_type: str,
    pick: Callable[[render.Recorded], bool],
    change: Callable[[dict[str, Any]], None],
) -> list[str]:
    capture = program(stack)
    clone = render.Capture(resources=[copy.deepcopy(r) for r in capture.resources])
    target = next(r for r in clone.resources if r.type == resource_type and pick(r))
    change(target.inputs)
    return violations(clone, EnforcementLevel.MANDATORY)


def _component(name: str) -> Callable[[render.Recorded], bool]:
    return lambda r: r.inputs["metadata"]["labels"].get("app.kubernetes.io/component") == name


def _rstudio_public(props: dict[str, Any]) -> None:
    props["spec"]["loadBalancerSourceRanges"] = ["0.0.0.0/0"]


def _worker_service_public(props: dict[str, Any]) -> None:
    props["spec"]["type"] = "LoadBalancer"
    props["spec"]["loadBalancerSourceRanges"] = ["203.0.113.0/24"]


def _drop_limit(props: dict[str, Any]) -> None:
    del props["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"]


def _latest(props: dict[str, Any]) -> None:
    props["spec"]["template"]["spec"]["containers"][0]["image"] = "rocker/r-ver:latest"


def _root_worker(props: dict[str, Any]) -> None:
    props["spec"]["template"]["spec"]["containers"][0]["securityContext"]["runAsUser"] = 0


def _mount_token(props: dict[str, Any]) -> None:
    props["spec"]["template"]["spec"]["automountServiceAccountToken"] = True


def _no_secure_boot(props: dict[str, Any]) -> None:
    props["nodeConfig"]["shieldedInstanceConfig"]["enableSecureBoot"] = False


def _public_nodes(props: dict[str, Any]) -> None:
    props["privateClusterConfig"]["enablePrivateNodes"] = False


def _world_api(props: dict[str, Any]) -> None:
    props["masterAuthorizedNetworksConfig"]["cidrBlocks"].append({"cidrBlock": "0.0.0.0/0"})


def _no_protection(props: dict[str, Any]) -> None:
    props["deletionProtection"] = False


def _default_account(props: dict[str, Any]) -> None:
    props["nodeConfig"]["serviceAccount"] = "default"


@pytest.mark.parametrize(
    ("stack", "resource_type", "pick", "change", "rule"),
    [
        (
            "dev",
            "kubernetes:core/v1:Service",
            lambda r: r.inputs["spec"]["type"] == "LoadBalancer",
            _rstudio_public,
            "load-balancer-source-ranges",
        ),
        (
            "dev",
            "kubernetes:core/v1:Service",
            lambda r: r.inputs["metadata"].get("name") == "kubepar-scheduler",
            _worker_service_public,
            "no-public-worker-port",
        ),
        ("dev", DEPLOYMENT, _component("worker"), _drop_limit, "container-resources"),
        ("dev", DEPLOYMENT, _component("worker"), _latest, "pinned-image-tag"),
        ("dev", DEPLOYMENT, _component("worker"), _root_worker, "non-root"),
        ("dev", DEPLOYMENT, _component("scheduler"), _mount_token, "service-account-token-not-mounted"),
        (
            "dev",
            "gcp:container/nodePool:NodePool",
            lambda r: r.name == "workers-pool",
            _no_secure_boot,
            "gke-shielded-nodes",
        ),
        (
            "dev",
            "gcp:container/nodePool:NodePool",
            lambda r: r.name == "system-pool",
            _default_account,
            "gke-node-service-account",
        ),
        ("dev", "gcp:container/cluster:Cluster", lambda r: True, _public_nodes, "gke-private-nodes"),
        (
            "dev",
            "gcp:container/cluster:Cluster",
            lambda r: True,
            _world_api,
            "gke-master-authorized-networks",
        ),
        ("prod", "gcp:container/cluster:Cluster", lambda r: True, _no_protection, "gke-deletion-protection"),
        (
            "dask-dev",
            "kubernetes:core/v1:Service",
            lambda r: r.inputs["metadata"].get("name") == "kubepar-scheduler",
            _worker_service_public,
            "no-public-worker-port",
        ),
        ("dask-dev", DEPLOYMENT, _component("notebook"), _mount_token, "service-account-token-not-mounted"),
    ],
)
def test_one_field_changed_makes_the_matching_rule_fire(
    stack: str, resource_type: str, pick: Any, change: Any, rule: str
) -> None:
    found = _mutated(stack, resource_type, pick, change)
    assert found, "the mutation went unnoticed"
    assert all(m.startswith(f"{rule}: ") for m in found), found


def test_adding_a_cluster_admin_binding_fires_both_rbac_rules() -> None:
    capture = program("local")
    binding = render.Recorded(
        type="kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
        name="oops",
        urn="urn:pulumi:local::kubepar::kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding::oops",
        inputs={
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "oops"},
            "roleRef": {"name": "cluster-admin"},
        },
        secret_paths=[],
        state={},
    )
    clone = render.Capture(resources=[*capture.resources, binding])
    found = violations(clone, EnforcementLevel.MANDATORY)
    assert sorted(m.split(":")[0] for m in found) == ["no-cluster-admin-binding", "no-cluster-role-binding"]


def test_every_rule_has_a_description_and_a_level() -> None:
    for policy in kp.ALL_POLICIES:
        assert policy.description
        assert policy.enforcement_level in (EnforcementLevel.MANDATORY, EnforcementLevel.ADVISORY)


def test_policy_names_are_unique() -> None:
    names = [policy.name for policy in kp.ALL_POLICIES]
    assert len(names) == len(set(names))


def test_the_pack_constructs_and_serves() -> None:
    # What `pulumi preview --policy-pack policies` starts: it prints its port, then serves.
    import subprocess

    pack = subprocess.Popen(
        [sys.executable, "__main__.py"],
        cwd=ROOT / "policies",
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert pack.stdout is not None
        first_line = pack.stdout.readline().strip()
        assert first_line.isdigit(), first_line
        assert pack.poll() is None
    finally:
        pack.kill()
        pack.wait(timeout=10)


def test_every_rule_has_a_pass_and_fail_case_here() -> None:
    source = Path(__file__).read_text()
    for policy in kp.ALL_POLICIES:
        assert f'"{policy.name}"' in source, f"no test names {policy.name}"
