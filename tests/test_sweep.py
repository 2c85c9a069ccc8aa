"""Sweeps in the whole program: the Indexed Job, its run id, the results store and who may use it."""

from __future__ import annotations

import json
from typing import Any

import kubernetes_validate
import pytest

from components.k8s import sweep as sweep_component
from tests.conftest import only, program
from tools import harness

SIM = {"name": "sim", "script": "examples/sweeps/sim.R", "tasks": 100, "parallelism": 10}


def sweeps(*entries: dict[str, Any]) -> str:
    return json.dumps(list(entries))


def job(stack: str = "dev", **overrides: Any) -> dict[str, Any]:
    return only(program(stack, **overrides).kubernetes("Job"))


def pod(document: dict[str, Any]) -> dict[str, Any]:
    return document["spec"]["template"]["spec"]


def env(document: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in pod(document)["containers"][0]["env"]}


def test_the_job_is_indexed_retries_per_task_and_ignores_preemption() -> None:
    spec = job()["spec"]
    assert (spec["completionMode"], spec["completions"], spec["parallelism"]) == ("Indexed", 100, 10)
    assert (spec["backoffLimitPerIndex"], spec["maxFailedIndexes"]) == (3, 10)
    assert spec["podFailurePolicy"]["rules"] == [
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}
    ]
    assert spec["template"]["spec"]["restartPolicy"] == "Never"
    assert "ttlSecondsAfterFinished" not in spec
    assert "backoffLimit" not in spec


def test_pulumi_up_starts_the_sweep_and_returns() -> None:
    assert job()["metadata"]["annotations"]["pulumi.com/skipAwait"] == "true"


@pytest.mark.parametrize("stack", ["local", "dev", "prod", "dask-dev"])
def test_r_and_python_jobs_validate_against_the_kubernetes_schema(stack: str) -> None:
    both = sweeps(SIM, {**SIM, "name": "py", "script": "examples/sweeps/sim.py"})
    documents = program(stack, sweeps=both).kubernetes("Job")
    assert len(documents) == 2
    for document in documents:
        kubernetes_validate.validate(document, "1.33", strict=True)


def test_the_script_sees_its_task_run_and_results_folder() -> None:
    document = job()
    variables = env(document)
    run = document["metadata"]["labels"]["kubepar.dev/run"]
    assert variables["KUBEPAR_TASK"] == {
        "fieldRef": {"fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"}
    }
    assert (variables["KUBEPAR_TASKS"], variables["KUBEPAR_SWEEP"], variables["KUBEPAR_RUN"]) == ("100", "sim", run)
    assert variables["KUBEPAR_RESULTS"] == f"/results/sim/{run}"
    job_id = document["metadata"]["labels"]["kubepar.dev/job"]
    assert document["metadata"]["name"] == f"kubepar-sim-{job_id}"


def test_task_pods_are_hardened_like_workers_and_run_on_the_worker_pool() -> None:
    spec = pod(job())
    container = spec["containers"][0]
    assert container["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    # Its disk: 64Mi of logs, the 2Gi /tmp and the 4Gi package library (dev installs data.table).
    sized = {"cpu": "1", "memory": "2Gi", "ephemeral-storage": f"{64 + 6 * 1024}Mi"}
    assert container["resources"]["limits"] == container["resources"]["requests"] == sized
    assert spec["automountServiceAccountToken"] is False
    assert spec["nodeSelector"] == {"kubepar.dev/pool": "workers"}
    assert spec["tolerations"][0]["key"] == "kubepar.dev/workers"
    assert spec["terminationGracePeriodSeconds"] == 15
    # The rendered init container installs the same packages as every R pod.
    assert spec["initContainers"][0]["name"] == "install-packages"


def _run(**sweep: Any) -> str:
    return job(sweeps=sweeps({**SIM, **sweep}))["metadata"]["labels"]["kubepar.dev/run"]


def test_what_shapes_results_starts_a_new_run() -> None:
    base = _run()
    assert _run() == base
    for change in ({"tasks": 101}, {"seed": 7}, {"cpu": "500m"}, {"script": "examples/sweeps/sim.py"}):
        assert _run(**change) != base, change


@pytest.mark.parametrize(
    "change",
    [{"parallelism": 20}, {"memory": "3Gi"}, {"retries": 1}, {"maxFailed": 3}, {"deadlineHours": 2}],
    ids=lambda change: next(iter(change)),
)
def test_what_only_decides_whether_a_task_finishes_keeps_the_run(change: dict[str, Any]) -> None:
    # Raising memory after out-of-memory kills must not rerun the tasks that finished.
    base, changed = job(sweeps=sweeps(SIM)), job(sweeps=sweeps({**SIM, **change}))
    assert changed["metadata"]["labels"]["kubepar.dev/run"] == base["metadata"]["labels"]["kubepar.dev/run"]
    assert env(changed)["KUBEPAR_RESULTS"] == env(base)["KUBEPAR_RESULTS"]
    # ... while the Job itself is a new one.
    assert changed["metadata"]["name"] != base["metadata"]["name"]


def _files(document: dict[str, Any], rendered: Any) -> dict[str, Any]:
    volumes = {v["name"]: v for v in pod(document)["volumes"]}
    names = [v["configMap"]["name"] for v in volumes.values() if "configMap" in v]
    (files,) = [c for c in rendered.kubernetes("ConfigMap") if c["metadata"]["name"] in names]
    return dict(files)


def test_a_run_mounts_only_an_immutable_config_map_of_its_own() -> None:
    # With the provider's enableConfigMapMutable, a mutable ConfigMap is
    # updated in place: the old Job's next pod would run the new script.
    rendered = program("dev", sweeps=sweeps(SIM))
    document = only(rendered.kubernetes("Job"))
    files = _files(document, rendered)
    assert files["immutable"] is True
    assert files["metadata"]["labels"]["kubepar.dev/run"] == document["metadata"]["labels"]["kubepar.dev/run"]
    changed = program("dev", sweeps=sweeps({**SIM, "script": "examples/sweeps/sim.py"}))
    changed_files = _files(only(changed.kubernetes("Job")), changed)
    # A new run is a new ConfigMap (a new logical name: created before the old one goes), never an edit.
    assert changed_files["immutable"] is True
    old_names = {r.name for r in rendered.resources if r.type == "kubernetes:core/v1:ConfigMap"}
    new_names = {r.name for r in changed.resources if r.type == "kubernetes:core/v1:ConfigMap"}
    assert old_names != new_names


def test_task_pods_are_not_evicted_to_consolidate_nodes() -> None:
    annotations = job()["spec"]["template"]["metadata"]["annotations"]
    assert annotations["cluster-autoscaler.kubernetes.io/safe-to-evict"] == "false"


def _job_name(**sweep: Any) -> str:
    return str(job(sweeps=sweeps({**SIM, **sweep}))["metadata"]["name"])


def test_a_parallelism_change_makes_a_new_job_for_the_same_run_and_folder() -> None:
    # pulumi-kubernetes replaces a Job whose parallelism changes: under a new
    # name the new Job is created first and finds the old one's results.
    base, wider = job(sweeps=sweeps(SIM)), job(sweeps=sweeps({**SIM, "parallelism": 20}))
    assert wider["metadata"]["name"] != base["metadata"]["name"]
    assert wider["metadata"]["labels"]["kubepar.dev/run"] == base["metadata"]["labels"]["kubepar.dev/run"]
    assert env(wider)["KUBEPAR_RESULTS"] == env(base)["KUBEPAR_RESULTS"]


def test_every_change_of_the_job_or_its_pods_gives_a_new_job_name() -> None:
    base = _job_name()
    for change in ({"parallelism": 20}, {"deadlineHours": 2}, {"retries": 2}, {"memory": "3Gi"}, {"maxFailed": 3}):
        assert _job_name(**change) != base, change
    assert _job_name() == base
    # A kubepar upgrade that builds the pod differently (here: one field of the
    # pod template) names a new Job too, so no Job is replaced under its own name.
    spec = {"template": {"spec": {"containers": [{"name": "sweep", "image": "rocker/r-ver:4.5.1"}]}}}
    changed = {"template": {"spec": {"containers": [{"name": "sweep", "image": "rocker/r-ver:4.5.1", "tty": True}]}}}
    assert sweep_component.job_id("r1", spec, {}) != sweep_component.job_id("r1", changed, {})


def test_a_replaced_job_is_deleted_in_the_background() -> None:
    assert job()["metadata"]["annotations"]["pulumi.com/deletionPropagationPolicy"] == "background"


def test_a_sweep_has_a_deadline_so_a_pod_that_cannot_start_frees_its_nodes() -> None:
    assert job()["spec"]["activeDeadlineSeconds"] == 24 * 3600
    assert job(sweepDeadlineHours="6")["spec"]["activeDeadlineSeconds"] == 6 * 3600
    assert job(sweeps=sweeps({**SIM, "deadlineHours": 2}))["spec"]["activeDeadlineSeconds"] == 2 * 3600


def test_a_changed_script_starts_a_new_run() -> None:
    assert _run(script="examples/sweeps/sim.py") != _run()


def test_sweeps_are_keyed_by_name_and_removing_one_keeps_the_results_store() -> None:
    a, b = {**SIM, "name": "alpha"}, {**SIM, "name": "beta"}
    forward = {r.name for r in program("dev", sweeps=sweeps(a, b)).resources}
    assert forward == {r.name for r in program("dev", sweeps=sweeps(b, a)).resources}
    without = program("dev", sweeps="[]")
    assert not without.kubernetes("Job")
    assert only(without.of_type("gcp:storage/bucket:Bucket")).name == "kubepar-results-bucket"


def test_the_bucket_is_private_uniform_and_kept_while_protected() -> None:
    for stack, protected in (("dev", False), ("prod", True)):
        bucket = only(program(stack).of_type("gcp:storage/bucket:Bucket"))
        assert bucket.inputs["uniformBucketLevelAccess"] is True
        assert bucket.inputs["publicAccessPrevention"] == "enforced"
        assert bucket.inputs["forceDestroy"] is (not protected)
        assert bucket.protect is protected


def test_access_goes_to_kubernetes_service_accounts_directly_with_no_key() -> None:
    capture = program("dev")
    accounts = {
        d["metadata"]["labels"]["app.kubernetes.io/component"]: d["metadata"]["name"]
        for d in capture.kubernetes("ServiceAccount")
    }
    members = {
        r.inputs["role"]: r.inputs["member"] for r in capture.of_type("gcp:storage/bucketIAMMember:BucketIAMMember")
    }
    prefix = f"principal://iam.googleapis.com/projects/{harness.MOCK_PROJECT_NUMBER}/locations/global/workloadIdentityPools/kubepar-dev.svc.id.goog/subject/ns/kubepar/sa/"
    assert members == {
        "roles/storage.objectUser": prefix + accounts["sweep"],
        "roles/storage.objectViewer": prefix + accounts["scheduler"],
    }
    assert pod(job())["serviceAccountName"] == accounts["sweep"]
    assert not capture.of_type("gcp:serviceaccount/key:Key")
    assert [r.inputs["accountId"] for r in capture.of_type("gcp:serviceaccount/account:Account")] == [
        "kubepar-dev-nodes"
    ]


def test_gke_mounts_the_bucket_with_the_fuse_driver_read_write_in_tasks_read_only_in_rstudio() -> None:
    capture = program("dev")
    bucket = only(capture.of_type("gcp:storage/bucket:Bucket")).state["name"]
    cluster = only(capture.of_type("gcp:container/cluster:Cluster"))
    assert cluster.inputs["addonsConfig"]["gcsFuseCsiDriverConfig"] == {"enabled": True}
    for component, read_only, owner in (
        ("sweep", False, "uid=10001,gid=10001"),
        ("scheduler", True, "uid=1000,gid=1000"),
    ):
        document = (
            job()
            if component == "sweep"
            else only(
                [
                    d
                    for d in capture.kubernetes("Deployment")
                    if d["metadata"]["labels"]["app.kubernetes.io/component"] == component
                ]
            )
        )
        assert document["spec"]["template"]["metadata"]["annotations"]["gke-gcsfuse/volumes"] == "true"
        volume = only([v for v in pod(document)["volumes"] if v["name"] == "results"])
        assert volume["csi"]["driver"] == "gcsfuse.csi.storage.gke.io"
        assert volume["csi"]["volumeAttributes"]["bucketName"] == bucket
        assert volume["csi"]["readOnly"] is read_only
        assert owner in volume["csi"]["volumeAttributes"]["mountOptions"]
        mount = only([m for m in pod(document)["containers"][0]["volumeMounts"] if m["name"] == "results"])
        assert (mount["mountPath"], mount["readOnly"]) == ("/results", read_only)


def test_an_existing_cluster_keeps_results_on_a_claim() -> None:
    capture = program("local", sweeps=sweeps(SIM))
    claim = only([c for c in capture.kubernetes("PersistentVolumeClaim") if "results" in c["metadata"]["name"]])
    volume = only([v for v in pod(only(capture.kubernetes("Job")))["volumes"] if v["name"] == "results"])
    assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert "nodeSelector" not in pod(only(capture.kubernetes("Job")))


def test_python_sweeps_run_on_the_dask_image_with_the_helper_on_the_path() -> None:
    document = job(sweeps=sweeps({**SIM, "script": "examples/sweeps/sim.py"}))
    container = pod(document)["containers"][0]
    assert container["image"].startswith("ghcr.io/dask/dask:")
    assert container["command"] == ["python", "/etc/kubepar/scripts/kubepar-sweep.py"]
    assert env(document)["PYTHONPATH"] == "/etc/kubepar/scripts"


def test_sweep_outputs_name_the_job_and_run() -> None:
    outputs = program("dev").outputs
    document = job()
    assert outputs["sweeps"] == {
        "sim": {"job": document["metadata"]["name"], "run": document["metadata"]["labels"]["kubepar.dev/run"]}
    }
    assert outputs["resultsBucket"].startswith("kubepar-results-bucket")


def test_the_project_number_is_read_only_once_the_stack_enabled_resource_manager() -> None:
    # At preview the lookup runs for real: in a new project it fails until the API is on.
    monitor = harness.RecordingMonitor(harness.RecordingMocks())
    harness.run_program("dev", monitor=monitor)
    mocks = monitor.mocks
    assert isinstance(mocks, harness.RecordingMocks)
    _token, created_before = only([call for call in mocks.calls if call[0].endswith("getProject")])
    enabled = {inputs.get("service") for type_, inputs in created_before if type_ == "gcp:projects/service:Service"}
    assert "cloudresourcemanager.googleapis.com" in enabled


@pytest.mark.parametrize("stack", ["dev", "dask-dev"])
def test_pods_that_mount_the_bucket_wait_for_its_grants_to_propagate(stack: str) -> None:
    # IAM is eventually consistent, and GKE before 1.34.1-gke.3899001 does not
    # retry a failed sidecar mount: the first pods would stay Pending.
    capture = program(stack, sweeps=sweeps(SIM))
    ready = only([r for r in capture.resources if r.name == "kubepar-results-grants-ready"])
    grants = [r.urn for r in capture.of_type("gcp:storage/bucketIAMMember:BucketIAMMember")]
    assert len(grants) == 2 and set(grants) <= set(ready.dependencies)
    assert ready.inputs["seconds"] >= 30
    mounting = [
        r
        for r in capture.resources
        if r.type in ("kubernetes:apps/v1:Deployment", "kubernetes:batch/v1:Job")
        and any("csi" in v for v in r.inputs["spec"]["template"]["spec"].get("volumes", []))
    ]
    assert {r.type for r in mounting} == {"kubernetes:apps/v1:Deployment", "kubernetes:batch/v1:Job"}
    for resource in mounting:
        assert ready.urn in resource.dependencies, resource.name
    # Pods that do not mount it do not wait.
    others = [r for r in capture.of_type("kubernetes:apps/v1:Deployment") if r not in mounting]
    assert others and all(ready.urn not in r.dependencies for r in others)


def test_the_bucket_volume_skips_the_drivers_access_check() -> None:
    volumes = pod(job())["volumes"]
    (csi,) = [v["csi"] for v in volumes if "csi" in v]
    assert csi["driver"] == "gcsfuse.csi.storage.gke.io"
    assert csi["volumeAttributes"]["skipCSIBucketAccessCheck"] == "true"
