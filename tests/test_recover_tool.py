"""tools/recover.py (make recover) on recorded states; tests/engine/test_recover.py runs it for real."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from typing import Any, cast

import pytest

from tools import recover

NS = "kp-x"


def _k8s(token: str, name: str, kind: str | None = None, namespace: str | None = NS, urn: str = "") -> dict[str, Any]:
    metadata = {"name": name, **({"namespace": namespace} if namespace else {})}
    inputs: dict[str, Any] = {"metadata": metadata}
    if kind:
        inputs["kind"] = kind
    return {"type": token, "urn": urn or f"urn:pulumi:x::kubepar::{token}::{name}", "inputs": inputs, "custom": True}


@dataclass
class _Deployment:
    deployment: dict[str, Any]


@dataclass
class _Stack:
    state: dict[str, Any]
    calls: list[str] = field(default_factory=list)

    def cancel(self) -> None:
        self.calls.append("cancel")

    def export_stack(self) -> _Deployment:
        return _Deployment(self.state)

    def refresh(self, **options: Any) -> None:
        self.calls.append(f"refresh clear_pending_creates={options.get('clear_pending_creates')}")


class _Kubectl:
    def __init__(self, existing: set[str], fail: bool = False) -> None:
        self.existing, self.fail = existing, fail
        self.deleted: list[str] = []

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        assert args[0] == "delete" and "--ignore-not-found" in args
        scope = args[args.index("-n") + 1] + "/" if "-n" in args else ""
        target = f"{args[1]} {scope}{args[2]}"
        if self.fail:
            return subprocess.CompletedProcess(list(args), 1, "", "forbidden")
        if target in self.existing:
            self.deleted.append(target)
            return subprocess.CompletedProcess(list(args), 0, f"{args[1]} deleted\n", "")
        return subprocess.CompletedProcess(list(args), 0, "", "")


def _pending(*resources: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"type": "creating", "resource": r} for r in resources]


def test_objects_the_dead_run_made_are_deleted_and_the_pending_creates_cleared() -> None:
    claim = _k8s("kubernetes:core/v1:PersistentVolumeClaim", "home-claim-1a2b")
    service = _k8s("kubernetes:core/v1:Service", "kubepar-scheduler")
    deployment = _k8s("kubernetes:apps/v1:Deployment", "worker-3c4d")
    budget = _k8s("kubernetes:policy/v1:PodDisruptionBudget", "budget-5e6f")
    state = {
        "resources": [_k8s("kubernetes:core/v1:Namespace", NS, namespace=None) | {"id": NS}],
        "pending_operations": [
            *_pending(claim, service, deployment, budget),
            # Not a create: a later `pulumi refresh` deals with it, not this.
            {"type": "updating", "resource": _k8s("kubernetes:core/v1:ConfigMap", "settings")},
        ],
    }
    stack = _Stack(state)
    kubectl = _Kubectl(
        {
            f"persistentvolumeclaim {NS}/home-claim-1a2b",
            f"service {NS}/kubepar-scheduler",
            f"poddisruptionbudget.policy {NS}/budget-5e6f",
        }
    )
    report = recover.recover(cast(Any, stack), kubectl)
    assert stack.calls == ["cancel", "refresh clear_pending_creates=True"]
    assert sorted(kubectl.deleted) == sorted(kubectl.existing)
    assert sorted(report.deleted) == [
        f"PersistentVolumeClaim {NS}/home-claim-1a2b",
        f"PodDisruptionBudget {NS}/budget-5e6f",
        f"Service {NS}/kubepar-scheduler",
    ]
    assert report.absent == [f"Deployment {NS}/worker-3c4d"]


def test_what_the_state_records_is_never_deleted() -> None:
    recorded = _k8s("kubernetes:core/v1:Secret", "password-9f") | {"id": f"{NS}/password-9f"}
    namespace = _k8s("kubernetes:core/v1:Namespace", NS, kind="Namespace", namespace=None)
    state = {
        "resources": [recorded],
        "pending_operations": _pending(_k8s("kubernetes:core/v1:Secret", "password-9f"), namespace),
    }
    kubectl = _Kubectl({f"secret {NS}/password-9f", f"namespace {NS}"})
    report = recover.recover(cast(Any, _Stack(state)), kubectl)
    # The Secret is the state's own; the namespace holds it.
    assert kubectl.deleted == []
    assert report.kept == [f"Secret {NS}/password-9f", f"Namespace {NS}"]


def test_google_cloud_pending_creates_are_listed_for_a_check_by_hand() -> None:
    pool: dict[str, Any] = {"type": "gcp:container/nodePool:NodePool", "urn": "urn:pulumi:x::kubepar::gcp:x::workers"}
    pool["inputs"] = {"name": "kubepar-dev-workers"}
    report = recover.recover(cast(Any, _Stack({"pending_operations": _pending(pool)})), _Kubectl(set()))
    assert report.elsewhere == ["gcp:container/nodePool:NodePool workers (kubepar-dev-workers)"]
    assert report.deleted == report.absent == []


def test_a_delete_kubectl_refuses_stops_before_the_pending_creates_are_cleared() -> None:
    state = {"pending_operations": _pending(_k8s("kubernetes:core/v1:Service", "ui-1"))}
    stack = _Stack(state)
    with pytest.raises(RuntimeError, match="could not delete Service kp-x/ui-1: forbidden"):
        recover.recover(cast(Any, stack), _Kubectl(set(), fail=True))
    assert stack.calls == ["cancel"]


@pytest.mark.parametrize(
    ("token", "kind", "namespace", "expected"),
    [
        ("kubernetes:core/v1:Service", None, NS, ("v1", "Service", f"{NS}/s")),
        ("kubernetes:apps/v1:Deployment", "Deployment", NS, ("apps/v1", "Deployment", f"{NS}/s")),
        (
            "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole",
            None,
            None,
            ("rbac.authorization.k8s.io/v1", "ClusterRole", "s"),
        ),
        ("kubernetes:core/v1:ConfigMap", None, None, ("v1", "ConfigMap", "default/s")),
    ],
)
def test_the_object_of_a_pending_create(
    token: str, kind: str | None, namespace: str | None, expected: tuple[str, str, str]
) -> None:
    made = recover.kubernetes_object(_k8s(token, "s", kind=kind, namespace=namespace))
    assert made is not None
    assert (made.api_version, made.kind, made.id) == expected


def test_a_pending_create_without_a_name_or_outside_kubernetes_names_no_object() -> None:
    assert recover.kubernetes_object({"type": "kubernetes:core/v1:Service", "urn": "u", "inputs": {}}) is None
    assert recover.kubernetes_object({"type": "random:index/randomId:RandomId", "urn": "u", "inputs": {}}) is None
