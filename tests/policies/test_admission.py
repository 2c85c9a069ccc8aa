"""Admission rules: unknown types refused unless allowed, webhooks stay inside, Pod Security stays on."""

from __future__ import annotations

from typing import Any

import pytest

from tests.policies.helpers import check

NAMESPACE = "kubernetes:core/v1:Namespace"
KUBEPAR_LABELS = {
    "pod-security.kubernetes.io/enforce": "baseline",
    "pod-security.kubernetes.io/warn": "restricted",
    "pod-security.kubernetes.io/audit": "restricted",
}


@pytest.mark.parametrize(
    "resource_type",
    [
        # In-cluster controllers that render objects the pack never sees.
        "kubernetes:helm.toolkit.fluxcd.io/v2:HelmRelease",
        "kubernetes:helm.cattle.io/v1:HelmChart",
        "kubernetes:argoproj.io/v1alpha1:Application",
        "kubernetes:kustomize.toolkit.fluxcd.io/v1:Kustomization",
        # Custom resources with pod templates.
        "kubernetes:argoproj.io/v1alpha1:Rollout",
        "kubernetes:jobset.x-k8s.io/v1alpha2:JobSet",
        "kubernetes:kubeflow.org/v1:PyTorchJob",
        # Doors of ingress controllers and meshes.
        "kubernetes:networking.istio.io/v1:VirtualService",
        "kubernetes:traefik.io/v1alpha1:IngressRoute",
        "kubernetes:projectcontour.io/v1:HTTPProxy",
        # CNI-specific network policies.
        "kubernetes:cilium.io/v2:CiliumNetworkPolicy",
        "kubernetes:crd.projectcalico.org/v1:GlobalNetworkPolicy",
        "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition",
        "kubernetes:core/v1:ConfigMapList",
        "gcp:compute/instance:Instance",
        "gcp:cloudfunctions/function:Function",
        "aws:s3/bucket:Bucket",
    ],
)
def test_types_the_pack_does_not_know_are_refused_unless_allowed(resource_type: str) -> None:
    props = {"metadata": {"name": "x", "namespace": "kubepar"}, "spec": {}}
    found = check("known-resource-types", resource_type, props)
    assert len(found) == 1 and "which this pack does not know" in found[0] and "allowedResourceTypes" in found[0]
    allowed = check("known-resource-types", resource_type, props, config={"allowedResourceTypes": [resource_type]})
    assert allowed == []


@pytest.mark.parametrize(
    "resource_type",
    [
        "kubernetes:apps/v1:Deployment",
        "kubernetes:apps/v1beta2:DeploymentPatch",
        "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute",
        "kubernetes:helm.sh/v4:Chart",
        "gcp:container/nodePool:NodePool",
        "random:index/randomPassword:RandomPassword",
        "pulumi:providers:kubernetes",
        "kubepar:k8s:Workload",
    ],
)
def test_known_types_pass(resource_type: str) -> None:
    assert check("known-resource-types", resource_type, {"metadata": {"name": "x"}}) == []


@pytest.mark.parametrize("kind", ["MutatingWebhookConfiguration", "ValidatingWebhookConfigurationPatch"])
def test_webhooks_outside_the_cluster_are_refused(kind: str) -> None:
    outside = {"name": "w.example.com", "clientConfig": {"url": "https://hooks.example.com/admit"}}
    props = {"kind": kind, "metadata": {"name": "w"}, "webhooks": [outside]}
    found = check("no-external-admission-webhook", f"kubernetes:admissionregistration.k8s.io/v1:{kind}", props)
    assert len(found) == 1 and "outside the cluster" in found[0], found
    inside = {"name": "w.kubepar", "clientConfig": {"service": {"name": "hook", "namespace": "kubepar"}}}
    props["webhooks"] = [inside]
    assert check("no-external-admission-webhook", f"kubernetes:admissionregistration.k8s.io/v1:{kind}", props) == []


def _namespace(labels: dict[str, Any], kind: str = "Namespace") -> tuple[str, dict[str, Any]]:
    return f"kubernetes:core/v1:{kind}", {"kind": kind, "metadata": {"name": "kubepar", "labels": labels}}


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ({}, "removes pod-security.kubernetes.io/enforce"),
        ({**KUBEPAR_LABELS, "pod-security.kubernetes.io/enforce": "privileged"}, "sets 'privileged' on"),
        ({**KUBEPAR_LABELS, "pod-security.kubernetes.io/enforce": "Baseline"}, "sets 'Baseline' on"),
        ({**KUBEPAR_LABELS, "pod-security.kubernetes.io/warn": "baseline"}, "sets 'baseline' on"),
        (
            {k: v for k, v in KUBEPAR_LABELS.items() if not k.endswith("audit")},
            "removes pod-security.kubernetes.io/audit",
        ),
        ({**KUBEPAR_LABELS, "pod-security.kubernetes.io/enforce-version": "v1.22"}, "pins pod-security"),
    ],
)
def test_a_namespace_without_its_pod_security_is_refused(labels: dict[str, Any], message: str) -> None:
    found = check("pod-security-labels", *_namespace(labels))
    assert any(message in m for m in found), found


@pytest.mark.parametrize(
    "labels",
    [
        {"pod-security.kubernetes.io/enforce": "privileged"},
        {"pod-security.kubernetes.io/warn": None},
        {"pod-security.kubernetes.io/audit": ""},
        {"pod-security.kubernetes.io/enforce-version": "v1.25"},
    ],
)
def test_a_namespace_patch_that_lowers_or_removes_a_label_is_refused(labels: dict[str, Any]) -> None:
    assert check("pod-security-labels", *_namespace(labels, kind="NamespacePatch")) != []


def test_kubepar_namespace_and_harmless_patches_pass() -> None:
    assert check("pod-security-labels", *_namespace(KUBEPAR_LABELS)) == []
    stricter = {**KUBEPAR_LABELS, "pod-security.kubernetes.io/enforce": "restricted"}
    assert check("pod-security-labels", *_namespace(stricter)) == []
    assert check("pod-security-labels", *_namespace({"team": "data"}, kind="NamespacePatch")) == []
