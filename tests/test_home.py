"""The home volume: protected with deletion protection, kept across engine changes, and
never deleted by a config change unless the user says they have copied it out."""

from __future__ import annotations

from typing import Any

import pytest

from components import config
from components.config import previous
from components.ground.settings import WorkloadSettings
from tests.conftest import only, program
from tools import harness

DEPLOYED = {"namespace": "kubepar", "homeClaim": "kubepar-home-claim-1", "homeSize": "20Gi", "packages": []}
# The local stack as deployed: its home is 5Gi.
DEPLOYED_LOCAL = {**DEPLOYED, "homeSize": "5Gi"}


def claim(stack: str, **overrides: Any) -> harness.Recorded:
    claims = program(stack, **overrides).of_type("kubernetes:core/v1:PersistentVolumeClaim")
    return only([c for c in claims if c.name == "kubepar-home-claim"])


def settings(**raw: Any) -> WorkloadSettings:
    return config.parse({"platform": "existing", **raw}, stack="t", gcp_project=None).workload


@pytest.mark.parametrize(("stack", "protected"), [("prod", True), ("dev", False), ("local", False)])
def test_home_is_protected_exactly_when_deletion_protection_is_on(stack: str, protected: bool) -> None:
    assert claim(stack).protect is protected


def test_deletion_protection_protects_the_home_on_an_existing_cluster_too() -> None:
    assert claim("local", deletionProtection=True).protect is True


def test_switching_engines_keeps_the_same_home_claim() -> None:
    r_home, dask_home = claim("dev", engine="r"), claim("dev", engine="dask", packages=[])
    assert (r_home.name, r_home.urn) == (dask_home.name, dask_home.urn)
    assert r_home.inputs["spec"] == dask_home.inputs["spec"]
    assert r_home.inputs["metadata"]["namespace"] == dask_home.inputs["metadata"]["namespace"]


def test_rstudio_and_jupyter_mount_that_one_claim() -> None:
    for stack, component in (("dev", "scheduler"), ("dask-dev", "notebook")):
        capture = program(stack)
        name = capture.outputs["homeClaim"]
        document = only(
            [
                d
                for d in capture.kubernetes("Deployment")
                if d["metadata"]["labels"]["app.kubernetes.io/component"] == component
            ]
        )
        claims = [
            v["persistentVolumeClaim"]["claimName"]
            for v in document["spec"]["template"]["spec"]["volumes"]
            if "persistentVolumeClaim" in v
        ]
        assert claims == [name]


def test_changing_the_namespace_of_a_deployed_stack_is_refused_before_anything_is_registered() -> None:
    monitor = harness.RecordingMonitor(harness.RecordingMocks(DEPLOYED_LOCAL))
    with pytest.raises(Exception, match=r"kubepar:namespace: changing it from 'kubepar' to 'science'") as caught:
        harness.run_program("local", {"kubepar:namespace": "science"}, monitor=monitor)
    assert 'SET="replaceHome=true"' in str(caught.value)
    assert not [r for r in monitor.records if r.type.startswith("kubernetes:")]


def test_replace_home_lets_the_user_move_after_copying_the_files() -> None:
    capture = harness.run_program(
        "local", {"kubepar:namespace": "science", "kubepar:replaceHome": True}, previous_outputs=DEPLOYED_LOCAL
    )
    assert capture.outputs["namespace"] == "science"


def test_unchanged_namespace_and_a_new_stack_pass() -> None:
    assert harness.run_program("local", previous_outputs=DEPLOYED_LOCAL).outputs["namespace"] == "kubepar"
    assert harness.run_program("local", {"kubepar:namespace": "science"}).outputs["namespace"] == "science"


def test_shrinking_the_home_is_refused_naming_the_key() -> None:
    verdict = previous.compare(DEPLOYED, settings(homeSize="10Gi"))
    assert verdict.errors == [
        "kubepar:homeSize: 10Gi is smaller than the current 20Gi; Kubernetes volumes grow but never shrink. "
        "Keep it at least 20Gi"
    ]
    assert previous.compare(DEPLOYED, settings(homeSize="40Gi")).errors == []


def test_changed_packages_warn_that_the_session_pod_restarts() -> None:
    verdict = previous.compare(DEPLOYED, settings(packages='["ranger"]'))
    assert verdict.errors == []
    assert len(verdict.warnings) == 1
    assert "RStudio pod restarts" in verdict.warnings[0]
    assert previous.compare(DEPLOYED, settings()).warnings == []
    # A first deployment has nothing to restart.
    assert previous.compare({}, settings(packages='["ranger"]')).warnings == []


def test_reading_the_last_outputs_makes_no_plain_output_secret() -> None:
    # The last outputs hold the secret password, so the reference's whole map
    # is secret: reading it whole would turn the namespace, and everything
    # named after it, into [secret] (and `make forward` would run that word).
    capture = harness.run_program("local", previous_outputs=DEPLOYED_LOCAL)
    assert capture.secret_outputs == {"password"}
    assert capture.outputs["portForward"].startswith("kubectl ")
    dev = harness.run_program("dev", previous_outputs={**DEPLOYED_LOCAL, "homeSize": "20Gi"})
    assert dev.secret_outputs == {"password", "kubeconfig"}
    assert {"namespace", "portForward", "homeClaim", "sweeps", "kubectlSetup"} <= set(dev.outputs)
