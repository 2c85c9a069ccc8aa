"""Config validation: every bad value named with its key, all at once, before any resource."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pulumi
import pytest
import yaml

from components import config
from components.ground import quantities
from tests.conftest import OWN_RANGE, ROOT
from tools import harness

GKE_OK = {
    "platform": "gke",
    "location": "europe-west1-b",
    "masterAuthorizedNetworks": f'["{OWN_RANGE}"]',
}


def parse(project: str | None = "kubepar-test", **raw: Any) -> config.Settings:
    values = {**GKE_OK, **raw}
    return config.parse({k: v for k, v in values.items() if v is not None}, stack="t", gcp_project=project)


def problems(project: str | None = "kubepar-test", **raw: Any) -> list[str]:
    with pytest.raises(config.ConfigError) as caught:
        parse(project, **raw)
    return caught.value.problems


def test_defaults_come_from_pulumi_yaml() -> None:
    declared = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    assert config.DEFAULTS["workers"] == str(declared["workers"]["default"])
    assert config.DEFAULTS["deletionProtection"] == "true"
    settings = parse()
    assert settings.workload.workers == declared["workers"]["default"]
    assert settings.workload.r_version == declared["rVersion"]["default"]


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("workers", "-1", "kubepar:workers: -1 is outside 0..120"),
        ("workers", "2.5", "kubepar:workers: '2.5' is not a whole number"),
        ("workers", "500", "kubepar:workers: 500 is outside 0..120"),
        ("platform", "aws", "kubepar:platform: 'aws' is not one of gke, existing"),
        ("rVersion", "latest", "kubepar:rVersion: 'latest' is not valid (expected MAJOR.MINOR.PATCH"),
        ("rVersion", "3.6.3", "kubepar needs R 4.0 or newer"),
        ("workerMemory", "2GB", "kubepar:workerMemory: '2GB' is not valid"),
        ("workerMemory", "64Mi", "must be at least 256Mi"),
        ("workerCpu", "0", "kubepar:workerCpu: '0' is not valid (must be more than 0)"),
        ("schedulerCpu", "two", "kubepar:schedulerCpu: 'two' is not valid"),
        ("packages", '["data table"]', "kubepar:packages: 'data table' is not a CRAN package name"),
        ("packages", '["ranger", "ranger"]', "kubepar:packages: 'ranger' is listed twice"),
        ("packages", "ranger", "kubepar:packages: 'ranger' is not a list"),
        (
            "allowedSourceRanges",
            '["10.0.0.300/32"]',
            "kubepar:allowedSourceRanges: '10.0.0.300/32' is not a CIDR",
        ),
        ("allowedSourceRanges", '["0.0.0.0/0"]', "would open RStudio to the whole internet"),
        ("allowedSourceRanges", '["::/0"]', "would open RStudio to the whole internet"),
        ("masterAuthorizedNetworks", '["0.0.0.0/0"]', "would open the Kubernetes API to the whole internet"),
        ("location", "", "kubepar:location: not set"),
        ("location", "Europe West", "kubepar:location: 'Europe West' is not a GCP zone"),
        ("namespace", "Kube_Par", "kubepar:namespace: 'Kube_Par' is not valid"),
        ("namespace", "kube-system", "kubepar:namespace: 'kube-system' is not valid (kube-* and default belong"),
        ("namespace", "kube-anything", "kube-* and default belong to Kubernetes"),
        ("namespace", "default", "kubepar:namespace: 'default' is not valid (kube-* and default belong"),
        ("namespace", "kubepar\n", "kubepar:namespace: 'kubepar\\n' has surrounding whitespace or a newline"),
        ("namespace", "kube-public", "kube-* and default belong to Kubernetes"),
        ("workerPort", "8787", "kubepar:workerPort: 8787 is RStudio's port"),
        ("workerPort", "80", "kubepar:workerPort: 80 is outside 1024..65535"),
        ("deletionProtection", "yes", "kubepar:deletionProtection: 'yes' is not true or false"),
        ("rBackend", "rabbitmq", "kubepar:rBackend: 'rabbitmq' is not one of psock, redis"),
        ("rBackend", "redis\n", "kubepar:rBackend: 'redis\\n' has surrounding whitespace"),
        ("releaseChannel", "NIGHTLY", "kubepar:releaseChannel: 'NIGHTLY' is not one of"),
        (
            "workerMachineType",
            "a3-megagpu-8g",
            "kubepar:workerMachineType: 'a3-megagpu-8g' is not a machine type",
        ),
        ("podCidr", "10.10.0.0/16", "kubepar:podCidr: 10.10.0.0/16 overlaps nodeCidr"),
        ("nodeCidr", "8.8.8.0/24", "cluster ranges must be private"),
        ("workerCpu", "16", "does not fit on e2-standard-4"),
        ("workerPoolMaxNodes", "-1", "kubepar:workerPoolMaxNodes: -1 is outside 0..1000"),
        ("workerPoolMaxNodes", "1001", "kubepar:workerPoolMaxNodes: 1001 is outside 0..1000"),
        ("sweepDeadlineHours", "0", "kubepar:sweepDeadlineHours: 0 is outside 1..720"),
        ("engine", "spark", "kubepar:engine: 'spark' is not one of r, dask"),
        ("daskVersion", "latest", "kubepar:daskVersion: 'latest' is not valid (expected YEAR.MONTH.PATCH"),
        ("cranSnapshot", "latest", "kubepar:cranSnapshot: 'latest' is not valid (expected a date YYYY-MM-DD"),
        ("cranSnapshot", "2025-02-30", "kubepar:cranSnapshot: '2025-02-30' is not valid"),
        ("cranSnapshot", "2099-01-01", "the snapshot date must lie between 2020-01-01 and today"),
        ("cranSnapshot", "2025-10-30\n", "kubepar:cranSnapshot: '2025-10-30\\n' has surrounding whitespace"),
        ("maintenanceWindow", "SU 01:00", "kubepar:maintenanceWindow: 'SU 01:00' is not valid (name at least two days"),
        ("maintenanceWindow", "SA,SU 25:00", "kubepar:maintenanceWindow: 'SA,SU 25:00' is not valid (expected DAYS"),
        ("maintenanceWindow", "weekends", "kubepar:maintenanceWindow: 'weekends' is not valid"),
        ("replaceHome", "maybe", "kubepar:replaceHome: 'maybe' is not true or false"),
        (
            "schedulerMemory",
            "64Gi",
            "kubepar:schedulerMemory: the scheduler (2 CPU, 64Gi, and the storage sidecar's 250m, 256Mi) "
            "does not fit on a e2-standard-4",
        ),
        ("schedulerCpu", "8", "kubepar:schedulerCpu: the scheduler (8 CPU, 6Gi, and the storage sidecar's"),
    ],
)
def test_bad_value_is_reported_with_its_key(key: str, value: str, expected: str) -> None:
    found = problems(**{key: value})
    assert any(expected in problem for problem in found), found


def test_gke_without_a_project_names_gcp_project() -> None:
    assert any(p.startswith("gcp:project: not set") for p in problems(project=None))


def test_every_problem_is_reported_at_once() -> None:
    found = problems(workers="-1", rVersion="x", packages='["a b"]', location="")
    assert len(found) == 4
    assert [p.split(":")[1] for p in found] == ["workers", "rVersion", "packages", "location"]


def test_existing_platform_needs_no_gcp_settings() -> None:
    settings = config.parse({"platform": "existing"}, stack="local", gcp_project=None)
    assert settings.gke is None
    assert settings.workload.node_pools is False


def test_worker_pool_ceiling_is_derived_from_workers_and_machine() -> None:
    # e2-standard-4 fits three 1-CPU workers after GKE's reservations: 10 workers need 4 nodes.
    gke = parse(workers="10").gke
    assert gke is not None
    shape = quantities.machine_shape("e2-standard-4")
    assert shape is not None
    assert quantities.workers_per_node(shape, 1000, 2 * 1024**3) == 3
    assert gke.worker_pool_max_nodes == 4


def test_worker_pool_ceiling_can_be_set_by_hand() -> None:
    gke = parse(workers="10", workerPoolMaxNodes="7").gke
    assert gke is not None
    assert gke.worker_pool_max_nodes == 7


def test_packages_are_sorted_so_reordering_changes_nothing() -> None:
    first = parse(packages='["ranger", "data.table"]').workload.packages
    second = parse(packages='["data.table", "ranger"]').workload.packages
    assert first == second == ("data.table", "ranger")


def test_bad_config_stops_the_program_before_any_resource() -> None:
    monitor = harness.RecordingMonitor(harness.RecordingMocks())
    with pytest.raises(pulumi.RunError, match="kubepar:workers: -1 is outside"):
        harness.run_program("dev", {"kubepar:workers": "-1"}, monitor=monitor)
    assert monitor.records == []


def test_plain_text_password_is_refused() -> None:
    with pytest.raises(pulumi.RunError, match="kubepar:password: stored in plain text"):
        harness.run_program("local", {"kubepar:password": "correct-horse-battery"})


def test_short_secret_password_is_refused() -> None:
    with pytest.raises(pulumi.RunError, match="kubepar:password: shorter than 12"):
        harness.run_program("local", {"kubepar:password": {"secret": "short"}})


@pytest.mark.parametrize("password", ["correct horse\nbattery", "tab\tseparated-pass", "bell\x07-password-x"])
def test_a_password_the_login_would_mangle_is_refused(password: str) -> None:
    with pytest.raises(pulumi.RunError, match="kubepar:password: holds a newline or another control character"):
        harness.run_program("local", {"kubepar:password": {"secret": password}})


def test_an_empty_password_means_generate_one() -> None:
    capture = harness.run_program("local", {"kubepar:password": ""})
    assert len(capture.of_type("random:index/randomPassword:RandomPassword")) == 1


@pytest.mark.parametrize(
    ("key", "value", "canonical"),
    [("rVersion", "4.06.1", "4.6.1"), ("rVersion", "04.6.1", "4.6.1"), ("daskVersion", "2026.07.1", "2026.7.1")],
)
def test_versions_with_leading_zeros_name_no_image(key: str, value: str, canonical: str) -> None:
    found = problems(**{key: value})
    assert any(p.startswith(f"kubepar:{key}:") and f"without leading zeros ({canonical})" in p for p in found), found


def test_a_region_as_location_warns_what_a_region_costs() -> None:
    settings = parse(location="europe-west1")
    assert settings.gke is not None and settings.gke.regional
    (warning,) = settings.warnings
    assert warning.startswith("kubepar:location: 'europe-west1' is a region")
    assert "limits are totals" in warning and "free tier" in warning
    assert "three times" not in warning
    assert parse().warnings == ()


def test_render_cli_reports_bad_config_without_a_traceback(tmp_path: Any) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.render",
            "dev",
            "--out",
            str(tmp_path / "out"),
            "--set",
            "kubepar:workers=-2",
            "--set",
            "kubepar:rVersion=four",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 2
    assert "kubepar:workers: -2 is outside 0..120" in result.stderr
    assert "kubepar:rVersion: 'four' is not valid" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"packages": '["xarray"]'}, "kubepar:packages: 'xarray' is not a pinned requirement; write name==version"),
        ({"packages": '["xarray>=2024.1"]'}, "'xarray>=2024.1' is not a pinned requirement"),
        ({"packages": '["Zarr==2.18.4", "zarr==2.18.3"]'}, "kubepar:packages: 'zarr==2.18.3' is listed twice"),
        (
            {"workerCpu": "1.5"},
            "kubepar:workerCpu: '1.5' is not a whole number of CPUs; Dask's --nthreads is an integer",
        ),
        ({"workers": "1001"}, "kubepar:workers: 1001 is outside 0..1000"),
    ],
)
def test_dask_engine_checks_its_own_values(raw: dict[str, str], expected: str) -> None:
    found = problems(engine="dask", **raw)
    assert any(expected in problem for problem in found), found


def test_dask_engine_accepts_pinned_packages_and_whole_or_fractional_cpus() -> None:
    settings = parse(engine="dask", packages='["zarr==2.18.4", "dask-ml[xgboost]==2024.4.4"]', workerCpu="500m")
    assert settings.workload.packages == ("dask-ml[xgboost]==2024.4.4", "zarr==2.18.4")
    assert parse(engine="dask", workers="400").workload.workers == 400


def test_dask_version_of_the_tests_is_the_default_one() -> None:
    pins = [line for line in (ROOT / "requirements-dev.txt").read_text().splitlines() if line.startswith("dask[")]
    assert pins == [f"dask[array,distributed]=={config.DEFAULTS['daskVersion']}"]


def test_scheduler_that_does_not_fit_is_refused_with_the_numbers() -> None:
    found = problems(schedulerMemory="64Gi")
    message = next(p for p in found if p.startswith("kubepar:schedulerMemory"))
    # e2-standard-4 (4 vCPU, 16 GiB): GKE keeps 80m and 2.6 GiB + 100 MiB eviction, DaemonSets 400m and 600 MiB.
    assert "3520m CPU and 13021Mi left after GKE's reservations" in message
    assert parse(schedulerMemory="64Gi", systemMachineType="n2-highmem-16").gke is not None


@pytest.mark.parametrize("stack", ["Prod", "prod.eu", "dev_1", "a-very-long-stack-name", "-dev", "dev-"])
def test_stack_names_that_cannot_be_ids_or_labels_are_refused(stack: str) -> None:
    with pytest.raises(config.ConfigError) as caught:
        config.parse({"platform": "existing"}, stack=stack, gcp_project=None)
    assert caught.value.problems == [
        f"stack name {stack!r}: kubepar puts it into service account ids and labels, so it must be "
        "1-16 lowercase letters, digits or '-', starting with a letter; "
        "name its stack file so (Pulumi.dev-eu.yaml, then make up STACK=dev-eu)"
    ]


@pytest.mark.parametrize("stack", ["dev", "prod", "dask-dev", "team-a-staging-1"])
def test_ordinary_stack_names_pass(stack: str) -> None:
    assert config.parse({"platform": "existing"}, stack=stack, gcp_project=None).stack == stack


@pytest.mark.parametrize("pin", ["dask==2025.1.0", "distributed==2026.1.0", "numpy==1.26.4", "Pandas==2.2.0"])
def test_dask_packages_may_not_pin_the_images_own_packages(pin: str) -> None:
    found = problems(engine="dask", packages=json.dumps([pin]))
    assert len(found) == 1
    assert "would replace the Dask image's own" in found[0]
    assert found[0].startswith(f"kubepar:packages: {pin!r}")


def test_r_core_packages_in_the_users_list_are_not_doubled() -> None:
    workload = parse(packages='["future", "ranger", "parallelly"]').workload
    assert workload.packages == ("ranger",)


def test_cran_repository_is_the_dated_snapshot_for_the_images_ubuntu() -> None:
    assert parse().workload.cran_repository == "https://p3m.dev/cran/__linux__/noble/2026-06-30"
    assert (
        parse(rVersion="4.4.1", cranSnapshot="2024-10-30").workload.cran_repository
        == "https://p3m.dev/cran/__linux__/jammy/2024-10-30"
    )


# ------------------------------------------------------------- values that parse oddly


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("workers", "4\n", "kubepar:workers: '4\\n' has surrounding whitespace or a newline"),
        ("workers", " 4", "kubepar:workers: ' 4' has surrounding whitespace or a newline"),
        ("workers", "\u0664", "kubepar:workers: '\u0664' is not a whole number in 0..120"),
        ("workers", "1" * 5000, "(5000 characters)' is not a whole number in 0..120"),
        ("workerPort", "1" * 20, "is not a whole number in 1024..65535"),
        ("workerMemory", "2Gi\n", "kubepar:workerMemory: '2Gi\\n' has surrounding whitespace"),
        ("workerMemory", "\u0662Gi", "kubepar:workerMemory: '\u0662Gi' is not valid"),
        ("workerMemory", "9" * 400 + "Gi", "kubepar:workerMemory:"),
        ("workerMemory", "64Ti", "more than 12Ti, beyond any machine"),
        ("workerCpu", "100000", "more than 512 CPUs"),
        ("homeSize", "99999Ti", "kubepar:homeSize: '99999Ti' is not valid (more than 64Ti"),
        ("homeSize", "10Mi", "kubepar:homeSize: '10Mi' is not valid (must be at least 1Gi)"),
        ("rVersion", "4.5.1\n", "kubepar:rVersion: '4.5.1\\n' has surrounding whitespace"),
        ("rVersion", "\u0664.5.1", "kubepar:rVersion: '\u0664.5.1' is not valid"),
        ("daskVersion", "2026.7.1 ", "kubepar:daskVersion: '2026.7.1 ' has surrounding whitespace"),
        ("packages", '["ranger\\n"]', "kubepar:packages: 'ranger\\n' is not a CRAN package name"),
        ("location", "europe-west1-b\n", "kubepar:location: 'europe-west1-b\\n' has surrounding whitespace"),
        ("allowedSourceRanges", '["81.2.69.0/24\\n"]', "'81.2.69.0/24\\n' has surrounding whitespace"),
        ("allowedSourceRanges", '[" 81.2.69.0/24"]', "' 81.2.69.0/24' has surrounding whitespace"),
    ],
)
def test_values_that_parse_oddly_are_refused_with_their_key(key: str, value: str, expected: str) -> None:
    found = problems(**{key: value})
    assert any(expected in problem for problem in found), found


# ------------------------------------------------------------- keys that do nothing


@pytest.mark.parametrize(
    ("typo", "meant"),
    [
        ("worker", "workers"),
        ("allowedSourceRange", "allowedSourceRanges"),
        ("deletionprotection", "deletionProtection"),
    ],
)
def test_unknown_key_is_refused_naming_the_closest_known_one(typo: str, meant: str) -> None:
    with pytest.raises(pulumi.RunError) as caught:
        harness.run_program("local", {f"kubepar:{typo}": "3"})
    assert f"kubepar:{typo}: not a kubepar setting, so it would do nothing; did you mean kubepar:{meant}?" in str(
        caught.value
    )


def test_unknown_key_without_a_close_match_points_to_pulumi_yaml() -> None:
    assert config.unknown_keys(["kubepar:zzz", "gcp:project", "kubepar:workers"]) == [
        "kubepar:zzz: not a kubepar setting, so it would do nothing; see Pulumi.yaml for the keys kubepar reads "
        "(remove or rename it)"
    ]


# ------------------------------------------------------------- an existing cluster with kubepar's pools

POOLS: dict[str, Any] = {
    "platform": "existing",
    "nodePools": "true",
    "workerPoolMaxNodes": "2",
    "masterAuthorizedNetworks": None,
}


def test_existing_pools_place_pods_and_need_the_worker_node_count() -> None:
    assert parse(None, **POOLS).workload.node_pools is True
    found = problems(None, **{**POOLS, "workerPoolMaxNodes": "0"})
    assert any(p.startswith("kubepar:workerPoolMaxNodes: with nodePools on an existing cluster, set it") for p in found)


def test_on_existing_pools_what_cannot_fit_is_refused_before_anything_is_created() -> None:
    found = problems(None, **{**POOLS, "workers": "10"})
    assert any(
        p.startswith("kubepar:workerPoolMaxNodes: 2 e2-standard-4 nodes cannot hold everything that runs at once")
        for p in found
    ), found
    found = problems(None, **{**POOLS, "schedulerMemory": "15Gi"})
    assert any(p.startswith("kubepar:schedulerMemory: the scheduler (2 CPU, 15Gi) does not fit") for p in found)
