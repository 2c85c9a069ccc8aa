"""The whole pack: on every stack's real resources, after one-field mutations, and as the CLI starts it."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pulumi_policy import EnforcementLevel

from policies import kubepar_policies as kp
from tests.conftest import ROOT, STACKS, program
from tests.policies.helpers import (
    CLUSTER,
    DEPLOYMENT,
    EXPOSED,
    NETWORK_POLICY,
    POOL,
    SERVICE,
    component,
    mutated,
    violations,
)
from tools import harness

JOB = "kubernetes:batch/v1:Job"


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_passes_every_mandatory_rule(stack: str) -> None:
    assert violations(program(stack), EnforcementLevel.MANDATORY) == []


@pytest.mark.parametrize("stack", ["dev", "dask-dev"])
def test_dev_stacks_are_within_the_advisory_cost_rules(stack: str) -> None:
    assert violations(program(stack), EnforcementLevel.ADVISORY) == []


def test_on_demand_workers_outside_prod_get_advice() -> None:
    found = violations(program("dev", spot=False), EnforcementLevel.ADVISORY)
    assert any("runs on-demand workers outside production" in m for m in found)


def _set(path: str, value: Any) -> Any:
    def change(props: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = props
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[last] = value

    return change


def _container(path: str, value: Any) -> Any:
    return _set(f"spec.template.spec.containers.0.{path}", value)


def _public_worker_service(props: dict[str, Any]) -> None:
    props["spec"]["type"] = "LoadBalancer"
    props["spec"]["loadBalancerSourceRanges"] = ["203.0.113.0/24"]


def _allow_all_ingress(props: dict[str, Any]) -> None:
    props["spec"]["ingress"] = [{}]


def _scheduler_endpoint(r: harness.Recorded) -> bool:
    return r.inputs["metadata"].get("name") == "kubepar-scheduler"


@pytest.mark.parametrize(
    ("stack", "resource_type", "pick", "change", "rule"),
    [
        (
            "dev+exposed",
            SERVICE,
            lambda r: r.inputs["spec"]["type"] == "LoadBalancer",
            _set("spec.loadBalancerSourceRanges", ["0.0.0.0/1", "128.0.0.0/1"]),
            "load-balancer-source-ranges",
        ),
        ("dev", SERVICE, _scheduler_endpoint, _public_worker_service, "no-public-worker-port"),
        ("dev", SERVICE, _scheduler_endpoint, _set("spec.externalIPs", ["198.51.100.1"]), "no-external-ips"),
        ("dev", DEPLOYMENT, component("worker"), _container("resources.limits", {"cpu": "1"}), "container-resources"),
        ("dev", DEPLOYMENT, component("worker"), _container("image", "rocker/r-ver:latest"), "pinned-image-tag"),
        ("dev", DEPLOYMENT, component("worker"), _container("securityContext.runAsUser", 0), "non-root"),
        (
            "dev",
            DEPLOYMENT,
            component("worker"),
            _container("securityContext.capabilities.add", ["SYS_ADMIN"]),
            "container-hardening",
        ),
        ("dev", DEPLOYMENT, component("scheduler"), _container("image", "ubuntu:24.04"), "non-root"),
        ("dev", DEPLOYMENT, component("worker"), _set("spec.template.spec.hostNetwork", True), "no-host-access"),
        (
            "dev",
            DEPLOYMENT,
            component("scheduler"),
            _set("spec.template.spec.automountServiceAccountToken", True),
            "service-account-token-not-mounted",
        ),
        (
            "dev",
            NETWORK_POLICY,
            lambda r: r.name == "kubepar-default-deny",
            _allow_all_ingress,
            "namespace-network-policy",
        ),
        (
            "dev",
            POOL,
            lambda r: r.name == "workers-pool",
            _set("nodeConfig.shieldedInstanceConfig.enableSecureBoot", False),
            "gke-shielded-nodes",
        ),
        (
            "dev",
            POOL,
            lambda r: r.name == "system-pool",
            _set("nodeConfig.serviceAccount", "default"),
            "gke-node-service-account",
        ),
        ("dev", CLUSTER, lambda r: True, _set("privateClusterConfig.enablePrivateNodes", False), "gke-private-nodes"),
        (
            "dev",
            CLUSTER,
            lambda r: True,
            _set("masterAuthorizedNetworksConfig.cidrBlocks", [{"cidrBlock": "0.0.0.0/0"}]),
            "gke-master-authorized-networks",
        ),
        ("prod", CLUSTER, lambda r: True, _set("deletionProtection", False), "gke-deletion-protection"),
        ("dev", JOB, lambda r: True, _set("spec.podFailurePolicy", {"rules": []}), "indexed-job-ignores-disruptions"),
        ("dev", JOB, lambda r: True, _set("spec.template.spec.containers.0.securityContext.runAsUser", 0), "non-root"),
        (
            "dev",
            JOB,
            lambda r: True,
            _set("spec.template.spec.automountServiceAccountToken", True),
            "service-account-token-not-mounted",
        ),
        ("dask-dev", SERVICE, _scheduler_endpoint, _public_worker_service, "no-public-worker-port"),
        (
            "dask-dev",
            DEPLOYMENT,
            component("notebook"),
            _set("spec.template.spec.automountServiceAccountToken", True),
            "service-account-token-not-mounted",
        ),
    ],
)
def test_one_field_changed_makes_the_matching_rule_fire(
    stack: str, resource_type: str, pick: Any, change: Any, rule: str
) -> None:
    found = mutated(stack, resource_type, pick, change)
    assert found, "the mutation went unnoticed"
    assert any(m.startswith(f"{rule}: ") for m in found), found


def test_a_configured_worker_port_stays_private_with_the_default_pack_config() -> None:
    capture = program("dev", workerPort="12000", **EXPOSED)
    found = mutated("dev", SERVICE, _scheduler_endpoint, _public_worker_service)
    assert any(m.startswith("no-public-worker-port: ") for m in found)
    # A copy: the render is shared by every test that asks for the same stack (tests/conftest.py checks).
    clone = harness.Capture(resources=copy.deepcopy(capture.resources))
    endpoint = next(r for r in clone.resources if r.type == SERVICE and _scheduler_endpoint(r))
    ui = next(r for r in clone.resources if r.type == SERVICE and r.inputs["spec"]["type"] == "LoadBalancer")
    # The public door pointed at the scheduler's named worker port (the front is the door's only pod).
    ui.inputs["spec"]["selector"] = endpoint.inputs["spec"]["selector"]
    ui.inputs["spec"]["ports"][0]["targetPort"] = "r-workers"
    assert endpoint.inputs["spec"]["ports"][0]["port"] == 12000
    found = violations(clone, EnforcementLevel.MANDATORY)
    assert any("private port 12000" in m for m in found), found


def test_every_rule_has_a_description_and_a_level() -> None:
    for policy in kp.ALL_POLICIES:
        assert policy.description
        assert policy.enforcement_level in (EnforcementLevel.MANDATORY, EnforcementLevel.ADVISORY)


def test_policy_names_are_unique_and_every_rule_is_in_one_family() -> None:
    names = [policy.name for policy in kp.ALL_POLICIES]
    assert len(names) == len(set(names))
    in_families = [policy.name for family in kp.FAMILIES.values() for policy in family]
    assert sorted(in_families) == sorted(names)


def test_every_rule_is_named_by_a_test_and_in_the_guardrails_page() -> None:
    sources = "".join(path.read_text() for path in Path(__file__).parent.glob("test_*.py"))
    page = (ROOT / "docs" / "guardrails.md").read_text()
    for policy in kp.ALL_POLICIES:
        assert f'"{policy.name}"' in sources, f"no test names {policy.name}"
        assert f"`{policy.name}`" in page, f"docs/guardrails.md does not list {policy.name}"


def test_the_pack_constructs_and_serves() -> None:
    # What `pulumi preview --policy-pack policies` starts: it prints its port, then serves.
    pack = subprocess.Popen(
        [sys.executable, "__main__.py"],
        cwd=ROOT / "policies",
        # As in policies/venv, where the Makefile's kubepar.pth puts the project on the path.
        env={**os.environ, "PYTHONPATH": str(ROOT)},
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


@pytest.mark.parametrize("stack", ["local", "dev", "prod"])
def test_the_redis_backend_passes_every_mandatory_rule(stack: str) -> None:
    assert violations(program(stack, rBackend="redis"), EnforcementLevel.MANDATORY) == []


def test_the_queue_port_may_never_be_public() -> None:
    capture = program("dev", rBackend="redis")
    clone = harness.Capture(resources=[copy.deepcopy(r) for r in capture.resources])
    queue = next(
        r for r in clone.resources if r.type == SERVICE and r.inputs["metadata"].get("name") == "kubepar-queue"
    )
    _public_worker_service(queue.inputs)
    found = violations(clone, EnforcementLevel.MANDATORY)
    assert any(m.startswith("no-public-worker-port: ") and "6379" in m for m in found), found
    assert any(m.startswith("no-public-private-port-in-stack: ") for m in found), found
