"""Workload rules: the same container rules for every kind that runs a pod, init containers included."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pulumi_policy import ResourceValidationArgs

from components.ground.rocker import ROCKER_INIT_CAPABILITIES
from tests.policies.helpers import (
    POLICIES,
    WORKLOAD_KINDS,
    check,
    container,
    kp,
    options,
    pod_spec,
    workload,
)
from tools.harness.pack import collector

SCHEDULER = {"app.kubernetes.io/component": "scheduler"}


def _rstudio(**fields: Any) -> dict[str, Any]:
    """RStudio's main container as kubepar renders it: root, with rocker's init capabilities."""
    security = {
        "runAsUser": 0,
        "runAsNonRoot": False,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"], "add": list(ROCKER_INIT_CAPABILITIES)},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    return container(**{"name": "scheduler", "image": "rocker/rstudio:4.5.1", "securityContext": security, **fields})


def _messages(rule: str, kind: str, spec: dict[str, Any], **kwargs: Any) -> list[str]:
    resource_type, props = workload(kind, spec, **kwargs)
    return check(rule, resource_type, props)


def _security(**changes: Any) -> dict[str, Any]:
    context = copy.deepcopy(container()["securityContext"])
    context.update(changes)
    return context


# Each row: a rule and a pod spec that breaks it, in a main container and in an init container.
BROKEN = [
    (
        "container-resources",
        {"resources": {"limits": {"cpu": "1"}}},
        "has no requests for cpu, memory and ephemeral-storage",
    ),
    (
        "container-resources",
        {"resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}}},
        "has no requests for ephemeral-storage",
    ),
    ("pinned-image-tag", {"image": "rocker/r-ver:latest"}, "without a fixed tag"),
    ("pinned-image-tag", {"image": "registry:5000/r"}, "without a fixed tag"),
    ("container-hardening", {"securityContext": _security(privileged=True)}, "is privileged"),
    ("container-hardening", {"securityContext": _security(allowPrivilegeEscalation=True)}, "may escalate"),
    ("non-root", {"securityContext": _security(runAsUser=0)}, "may run as root"),
    ("non-root", {"securityContext": _security(runAsNonRoot=False)}, "may run as root"),
]


@pytest.mark.parametrize("kind", WORKLOAD_KINDS)
@pytest.mark.parametrize(("rule", "change", "message"), BROKEN)
@pytest.mark.parametrize("where", ["containers", "initContainers"])
def test_every_workload_kind_and_container_is_checked(
    kind: str, rule: str, change: dict[str, Any], message: str, where: str
) -> None:
    assert _messages(rule, kind, pod_spec()) == []
    broken = container(name="bad", **change)
    spec = pod_spec(container(), broken) if where == "containers" else pod_spec(initContainers=[broken])
    found = _messages(rule, kind, spec)
    assert any(message in m and "container 'bad'" in m for m in found), found


def test_ephemeral_containers_are_hardened_too() -> None:
    debug = container(name="debug", securityContext=_security(privileged=True))
    del debug["resources"]  # ephemeral containers cannot set resources
    spec = pod_spec(ephemeralContainers=[debug])
    assert any("container 'debug' is privileged" in m for m in _messages("container-hardening", "Pod", spec))
    assert _messages("container-resources", "Pod", spec) == []


@pytest.mark.parametrize("kind", WORKLOAD_KINDS)
@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (pod_spec(hostNetwork=True), "sets hostNetwork"),
        (pod_spec(hostPID=True), "sets hostPID"),
        (pod_spec(hostIPC=True), "sets hostIPC"),
        (pod_spec(volumes=[{"name": "root", "hostPath": {"path": "/"}}]), "mounts the node's /"),
        (pod_spec(container(ports=[{"containerPort": 80, "hostPort": 80}])), "binds host port 80"),
        (pod_spec(initContainers=[container(ports=[{"containerPort": 1, "hostPort": 9}])]), "binds host port 9"),
        (pod_spec(securityContext={"windowsOptions": {"hostProcess": True}}), "Windows host process"),
    ],
)
def test_host_access_of_any_kind_is_refused(kind: str, spec: dict[str, Any], message: str) -> None:
    found = _messages("no-host-access", kind, spec)
    assert any(message in m for m in found), found


def test_a_pod_without_host_access_passes() -> None:
    spec = pod_spec(volumes=[{"name": "tmp", "emptyDir": {}}])
    assert _messages("no-host-access", "Deployment", spec) == []


@pytest.mark.parametrize(
    ("spec", "labels", "annotations", "message"),
    [
        (
            pod_spec(container(securityContext=_security(capabilities={"drop": ["ALL"], "add": ["SYS_ADMIN"]}))),
            None,
            None,
            "adds capabilities SYS_ADMIN",
        ),
        (
            pod_spec(container(securityContext=_security(capabilities={"drop": ["ALL"], "add": ["cap_net_raw"]}))),
            None,
            None,
            "adds capabilities NET_RAW",
        ),
        # The RStudio exception's capabilities, on a pod that is not RStudio.
        (
            pod_spec(container(securityContext=_security(capabilities={"drop": ["ALL"], "add": ["CHOWN"]}))),
            None,
            None,
            "adds capabilities CHOWN",
        ),
        # RStudio itself may add only its own list.
        (
            pod_spec(
                _rstudio(
                    securityContext={
                        **_rstudio()["securityContext"],
                        "capabilities": {"drop": ["ALL"], "add": ["CHOWN", "SYS_ADMIN"]},
                    }
                )
            ),
            SCHEDULER,
            None,
            "adds capabilities SYS_ADMIN",
        ),
        (pod_spec(container(securityContext=_security(procMount="Unmasked"))), None, None, "unmasks /proc"),
        (
            pod_spec(container(securityContext=_security(seccompProfile={"type": "Unconfined"}))),
            None,
            None,
            "has seccomp 'Unconfined'",
        ),
        (
            pod_spec(
                container(securityContext={k: v for k, v in _security().items() if k != "seccompProfile"}),
                securityContext={"seccompProfile": {"type": "Unconfined"}},
            ),
            None,
            None,
            "has seccomp 'Unconfined'",
        ),
        (
            pod_spec(container(securityContext=_security(appArmorProfile={"type": "Unconfined"}))),
            None,
            None,
            "runs without AppArmor",
        ),
        (
            pod_spec(securityContext={"appArmorProfile": {"type": "Unconfined"}}),
            None,
            None,
            "runs without AppArmor",
        ),
        (pod_spec(), None, {"container.apparmor.security.beta.kubernetes.io/c": "unconfined"}, "runs without AppArmor"),
        (
            pod_spec(container(securityContext=_security(seLinuxOptions={"type": "spc_t"}))),
            None,
            None,
            "uses SELinux type 'spc_t'",
        ),
    ],
)
def test_hardening_holds_against_every_way_around_it(
    spec: dict[str, Any], labels: dict[str, str] | None, annotations: dict[str, str] | None, message: str
) -> None:
    for kind in ("Deployment", "CronJobPatch", "Pod"):
        found = _messages("container-hardening", kind, spec, labels=labels, annotations=annotations)
        assert any(message in m for m in found), (kind, found)


def test_allowed_additions_pass() -> None:
    bind = pod_spec(container(securityContext=_security(capabilities={"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]})))
    assert _messages("container-hardening", "Deployment", bind) == []
    assert _messages("container-hardening", "Deployment", pod_spec(_rstudio()), labels=SCHEDULER) == []


def test_the_policy_allow_list_matches_the_engine_capabilities() -> None:
    entry = kp.config_defaults(POLICIES["non-root"])["rootAllowed"][0]
    assert entry["capabilities"] == list(ROCKER_INIT_CAPABILITIES)
    assert entry == kp.config_defaults(POLICIES["container-hardening"])["rootAllowed"][0]


@pytest.mark.parametrize(
    ("spec", "labels", "root_allowed"),
    [
        (pod_spec(_rstudio()), SCHEDULER, True),
        (pod_spec(_rstudio(image="docker.io/rocker/rstudio:4.5.1")), SCHEDULER, True),
        # A pod that labels itself scheduler but runs another image.
        (pod_spec(_rstudio(image="ubuntu:24.04")), SCHEDULER, False),
        (pod_spec(_rstudio(image="rocker/rstudio-evil:4.5.1")), SCHEDULER, False),
        (pod_spec(_rstudio(image="evil.example/rocker/rstudio:4.5.1")), SCHEDULER, False),
        # The right image under another component label.
        (pod_spec(_rstudio()), {"app.kubernetes.io/component": "worker"}, False),
        # A root init container inside the RStudio pod.
        (pod_spec(_rstudio(), initContainers=[_rstudio(name="init")]), SCHEDULER, False),
    ],
)
def test_root_only_for_the_exact_documented_component_and_image(
    spec: dict[str, Any], labels: dict[str, str], root_allowed: bool
) -> None:
    found = _messages("non-root", "Deployment", spec, labels=labels)
    assert (found == []) is root_allowed, found


@pytest.mark.parametrize("kind", WORKLOAD_KINDS)
@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (pod_spec(automountServiceAccountToken=True), "mounts a ServiceAccount token"),
        ({"containers": [container()]}, "mounts a ServiceAccount token"),
        (
            pod_spec(
                volumes=[
                    {
                        "name": "token",
                        "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]},
                    }
                ]
            ),
            "projects a ServiceAccount token (volume 'token')",
        ),
    ],
)
def test_every_form_of_mounted_token_is_refused(kind: str, spec: dict[str, Any], message: str) -> None:
    found = _messages("service-account-token-not-mounted", kind, spec)
    assert any(message in m for m in found), found
    opted_in = _messages("service-account-token-not-mounted", kind, spec, annotations={"kubepar.dev/api-token": "true"})
    assert opted_in == []


def test_token_objects_are_refused() -> None:
    rule = "service-account-token-not-mounted"
    legacy = {"kind": "Secret", "metadata": {"name": "t"}, "type": "kubernetes.io/service-account-token"}
    assert "legacy ServiceAccount token Secret" in check(rule, "kubernetes:core/v1:Secret", legacy)[0]
    assert check(rule, "kubernetes:core/v1:Secret", {"kind": "Secret", "type": "Opaque"}) == []
    account: dict[str, Any] = {"kind": "ServiceAccount", "metadata": {"name": "sa"}}
    assert "mounts its token into every pod" in check(rule, "kubernetes:core/v1:ServiceAccount", account)[0]
    account["automountServiceAccountToken"] = False
    assert check(rule, "kubernetes:core/v1:ServiceAccount", account) == []


def test_helm_releases_are_refused_unless_allow_listed() -> None:
    release = {"name": "grafana", "chart": "grafana"}
    found = check("no-helm-release", "kubernetes:helm.sh/v3:Release", release, resource_name="grafana")
    assert "creates its objects inside the cluster, where this pack cannot check them" in found[0]
    allowed = {"allowedHelmReleases": ["grafana"]}
    assert check("no-helm-release", "kubernetes:helm.sh/v3:Release", release, config=allowed) == []


@pytest.mark.parametrize("parent", ["kubernetes:yaml/v2:ConfigGroup", "kubernetes:helm.sh/v4:Chart"])
def test_children_of_config_groups_and_v4_charts_are_checked_like_any_resource(parent: str) -> None:
    # Under the real engine these children are registered with their parent in
    # the URN; the mocks record none, so the rule is run on such a child here.
    resource_type, props = workload("Deployment", pod_spec(hostNetwork=True))
    urn = f"urn:pulumi:dev::kubepar::{parent}${resource_type}::chart:ns/w"
    for name in ("no-host-access", "container-hardening"):
        policy = POLICIES[name]
        settings = kp.config_defaults(policy)
        args = ResourceValidationArgs(resource_type, props, urn, "chart:ns/w", options(), None, settings)
        found: list[str] = []
        policy.validate(args, collector(found))
        assert (found != []) is (name == "no-host-access"), (name, found)


@pytest.mark.parametrize(
    "image",
    [
        "rocker/r-ver",
        "rocker/r-ver:latest",
        "rocker/r-ver:LATEST",
        "rocker/r-ver:devel",
        "rocker/rstudio:latest-daily",
        "ghcr.io/dask/dask:latest-py3.11",
        "ghcr.io/dask/dask:nightly",
        "ghcr.io/dask/dask:2026.7.1-nightly",
        "example.com/tool:main",
        "example.com/tool:master",
        "example.com/tool:stable",
        "example.com/tool:edge",
        "registry:5000/tool:jammy",
        "example.com/tool:pr-123",
        # Version lines: rocker's 4 and 4.6 follow every 4.x.y and 4.6.y build.
        "rocker/r-ver:4",
        "rocker/r-ver:4.6",
        "registry:5000/tool:v2",
        "python:3.11-slim",
    ],
)
def test_moving_tags_are_refused_whatever_their_name(image: str) -> None:
    found = check("pinned-image-tag", *workload(spec=pod_spec(container(image=image))))
    assert len(found) == 1 and "without a fixed tag" in found[0], found


@pytest.mark.parametrize(
    "image",
    [
        "rocker/r-ver:4.6.1",
        "ghcr.io/dask/dask:2026.7.1-py3.11",
        "valkey/valkey:8.1.8",
        "registry:5000/tool:v2.3.1",
        "example.com/tool:1.0.0-rc1",
        "example.com/tool:20260801",
        "example.com/tool:sha-3f2c1ab",
        "rocker/r-ver@sha256:" + "0" * 64,
    ],
)
def test_release_tags_and_digests_pass(image: str) -> None:
    assert check("pinned-image-tag", *workload(spec=pod_spec(container(image=image)))) == []


@pytest.mark.parametrize("source", ["hostPath", "local"])
@pytest.mark.parametrize("kind", ["PersistentVolume", "PersistentVolumePatch"])
def test_volumes_on_the_nodes_own_filesystem_are_refused(source: str, kind: str) -> None:
    props = {"kind": kind, "metadata": {"name": "pv"}, "spec": {source: {"path": "/var/lib"}, "capacity": {}}}
    found = check("no-host-access", f"kubernetes:core/v1:{kind}", props)
    assert len(found) == 1 and f"is a {source} volume on the node's /var/lib" in found[0], found


def test_a_volume_of_a_real_disk_passes() -> None:
    props = {
        "kind": "PersistentVolume",
        "metadata": {"name": "pv"},
        "spec": {"csi": {"driver": "pd.csi.storage.gke.io"}},
    }
    assert check("no-host-access", "kubernetes:core/v1:PersistentVolume", props) == []
