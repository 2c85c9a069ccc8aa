"""checkov on each stack's render: no failed check, and every skip is one object's, with its reason.

checkov runs twice per stack: as CI runs it (with .checkov.yaml, from the
repository) and from an empty folder with no config at all, so a skip cannot
hide in a file that checkov loads by itself.
"""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import OWN_RANGE, ROOT, STACKS, program
from tools import harness

CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
CONFIG = ROOT / ".checkov.yaml"


def run_checkov(path: Path, *, with_config: bool, cwd: Path) -> dict[str, Any]:
    assert CHECKOV.exists(), "checkov is missing: `make venv` installs it into .venv-checkov"
    command = [str(CHECKOV), "-f", str(path), "--framework", "kubernetes", "-o", "json"]
    if with_config:
        command += ["--config-file", str(CONFIG)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False, cwd=cwd)
    report = json.loads(result.stdout)
    return report[0] if isinstance(report, list) else report


def _failed(report: dict[str, Any]) -> list[str]:
    return [f"{c['check_id']} {c['resource']}" for c in report["results"]["failed_checks"]]


@pytest.mark.parametrize("with_config", [True, False], ids=["as-ci", "no-config-outside-repo"])
@pytest.mark.parametrize("stack", STACKS)
def test_render_has_no_failed_checkov_check(stack: str, with_config: bool, tmp_path: Path) -> None:
    render_dir, empty = tmp_path / "render", tmp_path / "elsewhere"
    empty.mkdir()
    harness.write_render(program(stack), render_dir)
    report = run_checkov(render_dir / "kubernetes.yaml", with_config=with_config, cwd=ROOT if with_config else empty)
    assert _failed(report) == []
    assert report["summary"]["passed"] > 100, "checkov checked almost nothing"
    assert report["summary"]["skipped"] > 0, "the per-object skips were not read"
    if not with_config:
        # Without the config's quiet mode checkov lists each skip: every one carries its reason.
        for skipped in report["results"]["skipped_checks"]:
            assert len(skipped["check_result"].get("suppress_comment") or "") > 20, skipped


def test_the_redis_backend_has_no_failed_checkov_check(tmp_path: Path) -> None:
    harness.write_render(program("dev", rBackend="redis"), tmp_path)
    report = run_checkov(tmp_path / "kubernetes.yaml", with_config=False, cwd=tmp_path)
    assert _failed(report) == []
    assert report["summary"]["resource_count"] > 30


def test_the_config_file_skips_nothing() -> None:
    settings = yaml.safe_load(CONFIG.read_text())
    assert not {"skip-check", "skip-path", "skip-framework", "soft-fail", "soft-fail-on"} & set(settings)


def _documents(stack: str, tmp_path: Path) -> list[dict[str, Any]]:
    harness.write_render(program(stack), tmp_path)
    return list(yaml.safe_load_all((tmp_path / "kubernetes.yaml").read_text()))


def _check(documents: list[dict[str, Any]], tmp_path: Path) -> set[str]:
    path = tmp_path / "changed.yaml"
    path.write_text(yaml.safe_dump_all(documents))
    return {f.split()[0] for f in _failed(run_checkov(path, with_config=True, cwd=ROOT))}


def _component(documents: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(
        d
        for d in documents
        if d["kind"] == "Deployment" and d["metadata"]["labels"]["app.kubernetes.io/component"] == name
    )


def test_a_skip_on_rstudio_does_not_cover_a_worker(tmp_path: Path) -> None:
    documents = _documents("local", tmp_path)
    worker = _component(documents, "worker")["spec"]["template"]["spec"]["containers"][0]
    worker["securityContext"].update({"readOnlyRootFilesystem": False, "runAsUser": 0, "runAsNonRoot": False})
    worker["securityContext"]["capabilities"]["add"] = ["SYS_ADMIN"]
    assert {"CKV_K8S_22", "CKV_K8S_23", "CKV_K8S_40", "CKV_K8S_25", "CKV_K8S_39"} <= _check(documents, tmp_path)


def test_a_new_workload_without_annotations_is_checked_in_full(tmp_path: Path) -> None:
    documents = _documents("local", tmp_path)
    new = copy.deepcopy(_component(documents, "worker"))
    new["metadata"]["name"] = "new-worker"
    new["metadata"]["annotations"] = {}
    # The R worker's own skips (no probes) and the image-tag skip stay on the worker alone.
    assert {"CKV_K8S_8", "CKV_K8S_9", "CKV_K8S_43"} <= _check([*documents, new], tmp_path)


def test_checkov_catches_a_privilege_escalation(tmp_path: Path) -> None:
    documents = _documents("dask-dev", tmp_path)
    notebook = _component(documents, "notebook")["spec"]["template"]["spec"]["containers"][0]
    notebook["securityContext"]["allowPrivilegeEscalation"] = True
    assert "CKV_K8S_20" in _check(documents, tmp_path)


def test_the_hubs_https_door_has_no_failed_checkov_check(tmp_path: Path) -> None:
    door = {"allowedSourceRanges": json.dumps([OWN_RANGE]), "hubDomain": "hub.example.org", "hubDnsZone": "hub-zone"}
    harness.write_render(program("hub", **door), tmp_path)
    report = run_checkov(tmp_path / "kubernetes.yaml", with_config=False, cwd=tmp_path)
    assert _failed(report) == []
    assert any(
        r["resource"].startswith("Deployment.kubepar.https-deployment") for r in report["results"]["passed_checks"]
    )


@pytest.mark.parametrize(("stack", "engine"), [("dev", "r"), ("dask-dev", "dask")])
def test_spark_beside_each_engine_has_no_failed_checkov_check(stack: str, engine: str, tmp_path: Path) -> None:
    harness.write_render(program(stack, engine=engine, spark=json.dumps({"workers": 2})), tmp_path)
    report = run_checkov(tmp_path / "kubernetes.yaml", with_config=False, cwd=tmp_path)
    assert _failed(report) == []
    checked = {r["resource"].split(".")[2].rsplit("-", 1)[0] for r in report["results"]["passed_checks"]}
    assert {"spark-connect-deployment", "spark-master-deployment", "spark-worker-deployment"} <= checked
