"""End to end from R: `kubepar_spark()` in the RStudio session's environment, through sparklyr and pysparklyr.

sparklyr, pysparklyr, reticulate and arrow exist only on CRAN. Where CRAN is
reachable, this test installs them into the pod's package library (this
machine's own R packages hidden, as in every R end-to-end test), points the
session's RETICULATE_VIRTUALENV_ROOT at a folder whose
``r-sparklyr-pyspark-<minor>`` is the pyspark-client virtualenv (what the
RStudio pod's install-python init container makes), and runs dplyr verbs on
the rendered Spark roles started as local processes. Where CRAN is not
reachable it is reported as not run, with the reason.
"""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.ground import spark
from tests.conftest import program
from tools.harness import clusters, repository
from tools.harness.pods import LocalContainer
from tools.harness.spark import CLIENT_VENV, LocalSpark, missing

SPARKLYR_PACKAGES = ("sparklyr", "pysparklyr", "reticulate", "arrow", "dplyr")
WORKERS = 1
SETTINGS = {"workers": WORKERS, "workerMemory": "2Gi", "driverMemory": "1Gi"}
CODE = """
library(dplyr)
sc <- kubepar_spark()
cars <- copy_to(sc, mtcars, overwrite = TRUE)
counts <- cars |> group_by(cyl) |> summarise(n = n()) |> arrange(cyl) |> collect()
stopifnot(identical(as.integer(counts$n), c(11L, 7L, 14L)))
sparklyr::spark_disconnect(sc)
cat("SPARKLYR OK\\n")
"""


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    clusters.require_r()
    try:
        with urllib.request.urlopen(f"{repository.CRAN}/src/contrib/PACKAGES", timeout=20):
            pass
    except (urllib.error.URLError, OSError) as error:
        pytest.skip(
            "not run here: sparklyr, pysparklyr, reticulate and arrow exist only on CRAN, which is unreachable "
            f"({repository.CRAN} cannot be reached ({error}))"
        )
    folder = tmp_path_factory.mktemp("sparklyr-library")
    packages = ", ".join(f'"{name}"' for name in SPARKLYR_PACKAGES)
    subprocess.run(
        ["Rscript", "-e", f'install.packages(c({packages}), lib = "{folder}", repos = "{repository.CRAN}")'],
        check=True,
        timeout=3600,
    )
    return folder


@pytest.fixture(scope="module")
def cluster(library: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSpark]:
    reason = missing()
    if reason is not None:
        pytest.fail(f"Spark's end-to-end tests need their components (make venv installs them): {reason}")
    local = LocalSpark(program("local", engine="r", spark=json.dumps(SETTINGS)), tmp_path_factory.mktemp("spark"))
    try:
        local.start(workers=WORKERS)
        yield local
    finally:
        local.stop_all()


def test_sparklyr_connects_with_kubepar_spark_and_runs_dplyr_verbs(cluster: LocalSpark, library: Path) -> None:
    session = LocalContainer(cluster.capture, "scheduler", cluster.root, substitutions=cluster.substitutions)
    env = session.process_env()
    # The virtualenv the install-python init container makes, under the name pysparklyr looks for.
    envs = cluster.root / "python-envs"
    envs.mkdir(exist_ok=True)
    (envs / env["KUBEPAR_SPARK_ENV"]).symlink_to(CLIENT_VENV)
    assert env["KUBEPAR_SPARK_ENV"] == f"r-sparklyr-pyspark-{spark.minor('4.1.2')}"
    env.update(RETICULATE_VIRTUALENV_ROOT=str(envs), R_LIBS=f"{library}:{env.get('R_LIBS', '')}")
    done = subprocess.run(["Rscript", "-e", CODE], env=env, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0 and "SPARKLYR OK" in done.stdout, f"{done.stdout}\n{done.stderr}\n{cluster.logs()}"


def test_the_spark_profile_adds_kubepar_spark_and_names_what_is_missing(tmp_path: Path) -> None:
    # Runs where CRAN is not reachable too: the rendered profile alone, R as the pod has it (no sparklyr yet).
    clusters.require_r()
    capture = program("local", engine="r", spark=json.dumps(SETTINGS))
    session = LocalContainer(capture, "scheduler", tmp_path)
    assert session.env["R_PROFILE_USER"].endswith("/kubepar-spark.R")
    code = 'stopifnot(exists("kubepar_plan")); tryCatch(kubepar_spark(), error = function(e) cat(conditionMessage(e)))'
    done = subprocess.run(
        ["Rscript", "-e", code], env=session.process_env(), capture_output=True, text=True, timeout=120, check=False
    )
    assert "kubepar: sparklyr is not installed" in done.stdout, done.stdout + done.stderr
    # Without Spark the profile is kubepar.R itself: the scripts of a stack that never asks stay as they were.
    plain = LocalContainer(program("local", engine="r"), "scheduler", tmp_path / "plain")
    assert plain.env["R_PROFILE_USER"].endswith("/kubepar.R")
