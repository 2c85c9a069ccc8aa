"""Engines are plug-ins: a module in the engines package is found, checked and run, with nothing else edited."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from components import engines
from tests.conftest import ROOT, only
from tools import harness

FIXTURES = ROOT / "tests" / "fixtures" / "engines"


@pytest.fixture
def toy_engine(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The toy engine module beside the real ones, as if it were components/engines/toy.py."""
    monkeypatch.setattr(engines, "__path__", [*engines.__path__, str(FIXTURES)])
    engines.plugins.cache_clear()
    yield
    engines.plugins.cache_clear()


def test_the_registry_lists_the_shipped_engines_default_first() -> None:
    assert list(engines.plugins()) == ["r", "dask", "hub"]


def test_a_new_engine_module_runs_the_whole_program(toy_engine: None) -> None:
    assert "toy" in engines.plugins()
    capture = harness.run_program("local", {"kubepar:engine": "toy", "kubepar:workers": 3})
    deployments = {d["metadata"]["labels"]["app.kubernetes.io/component"]: d for d in capture.kubernetes("Deployment")}
    assert set(deployments) == {"scheduler", "worker"}
    assert deployments["worker"]["spec"]["replicas"] == 3
    session = only(deployments["scheduler"]["spec"]["template"]["spec"]["containers"])
    password = only([e for e in session["env"] if e["name"] == "TOY_PASSWORD"])
    assert password["valueFrom"]["secretKeyRef"]["key"] == "password"
    # The edge gives the session's ingress and the worker's egress, both on the toy's port.
    policies = [
        (labels["app.kubernetes.io/component"], p["spec"]["policyTypes"], p["spec"])
        for p in capture.kubernetes("NetworkPolicy")
        if "app.kubernetes.io/component" in (labels := p["metadata"].get("labels") or {})
    ]
    ingress = [spec for component, kinds, spec in policies if component == "scheduler" and "Ingress" in kinds]
    assert [rule["ports"] for spec in ingress for rule in spec.get("ingress", [])] == [
        [{"protocol": "TCP", "port": 9000}]
    ]
    egress = only([spec for component, kinds, spec in policies if component == "worker" and "Egress" in kinds])
    scheduler = {"app.kubernetes.io/name": "kubepar", "app.kubernetes.io/instance": "local"}
    scheduler["app.kubernetes.io/component"] = "scheduler"
    assert {
        "to": [{"podSelector": {"matchLabels": scheduler}}],
        "ports": [{"protocol": "TCP", "port": 9000}],
    } in egress["egress"]
    assert capture.outputs["engine"] == "toy"
    assert capture.outputs["toyVersion"] == "1.0.0"
    assert capture.outputs["url"] == "http://localhost:8080"


def test_a_new_engine_checks_its_own_packages_and_worker_limit(toy_engine: None) -> None:
    with pytest.raises(Exception, match="toy engine installs no packages") as raised:
        harness.run_program("local", {"kubepar:engine": "toy", "kubepar:packages": ["x"], "kubepar:workers": 9})
    assert "kubepar:workers: 9 is outside 0..4; use 0..4" in str(raised.value)


def test_another_engines_own_key_is_refused_by_name(toy_engine: None) -> None:
    with pytest.raises(Exception, match="kubepar:rBackend: 'redis' applies to engine r only"):
        harness.run_program("local", {"kubepar:engine": "toy", "kubepar:rBackend": "redis"})
