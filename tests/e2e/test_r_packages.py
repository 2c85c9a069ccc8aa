"""End to end with real R: the rendered package init container, against a local repository.

R sees what the pod has: base R, plus the folder the init container fills
(this machine's Debian site library is hidden, see pods.py). The repository
holds kubepar's core packages as binaries built from this machine's installs,
and a tiny source package the test writes; only ``KUBEPAR_CRAN`` is pointed
at it instead of the pinned snapshot.
"""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest
import render

from components.config import R_CORE_PACKAGES
from tests.e2e import pods, repository

pods.require_r()

LOAD_CORE = "for (p in c({})) suppressPackageStartupMessages(library(p, character.only = TRUE)); cat('loaded')".format(
    ", ".join(f'"{name}"' for name in R_CORE_PACKAGES)
)


@pytest.fixture(scope="module")
def cran_with_probe(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The core packages plus a source package ``kubeparprobe``."""
    root = tmp_path_factory.mktemp("probe")
    package = root / "kubeparprobe"
    (package / "R").mkdir(parents=True)
    (package / "DESCRIPTION").write_text(
        textwrap.dedent(
            """\
            Package: kubeparprobe
            Version: 0.1.0
            Title: Probe Package for kubepar Tests
            Description: Answers so that tests can see it was installed.
            License: MIT
            Authors@R: person("kubepar", "tests", email = "tests@example.org", role = c("aut", "cre"))
            """
        )
    )
    (package / "NAMESPACE").write_text("export(probe)\n")
    (package / "R" / "probe.R").write_text('probe <- function() "kubeparprobe answers"\n')
    subprocess.run(
        ["R", "CMD", "build", "--no-build-vignettes", str(package)], cwd=root, check=True, capture_output=True
    )
    return repository.build(root / "repo", sources=(root / "kubeparprobe_0.1.0.tar.gz",))


def run_r(container: pods.LocalContainer, code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["Rscript", "-e", code],
        env=container.process_env(),
        cwd=container.root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("component", ["scheduler", "worker"])
def test_init_container_gives_every_r_pod_the_core_packages_with_no_packages_configured(
    tmp_path: Path, cran: str, component: str
) -> None:
    capture = render.run_program("local", {"kubepar:packages": []})
    result = pods.run_init(capture, component, tmp_path, cran, pod_name="pod-0")
    assert result.returncode == 0, result.stderr
    main = pods.LocalContainer(capture, component, tmp_path, pod_name="pod-0")
    loaded = run_r(main, LOAD_CORE)
    assert loaded.stdout == "loaded", loaded.stderr


def test_without_the_init_container_the_pods_r_cannot_load_future(tmp_path: Path) -> None:
    """The hiding works: this machine has future in Debian's library, the pod's R does not see it."""
    capture = render.run_program("local")
    worker = pods.LocalContainer(capture, "worker", tmp_path, pod_name="pod-0")
    visible_here = subprocess.run(
        ["Rscript", "-e", "cat(requireNamespace('future', quietly = TRUE))"], capture_output=True, text=True
    )
    assert visible_here.stdout == "TRUE", "this machine must have future, or the test shows nothing"
    loaded = run_r(worker, "library(future)")
    assert loaded.returncode != 0
    assert "there is no package called" in loaded.stderr


def test_configured_package_installs_and_loads_in_the_worker(tmp_path: Path, cran_with_probe: str) -> None:
    capture = render.run_program("local", {"kubepar:packages": ["kubeparprobe"]})
    result = pods.run_init(capture, "worker", tmp_path, cran_with_probe, pod_name="pod-0")
    assert result.returncode == 0, result.stderr
    assert "kubepar: installed future, future.apply, parallelly, kubeparprobe" in result.stderr

    worker = pods.LocalContainer(capture, "worker", tmp_path, pod_name="pod-0")
    loaded = run_r(worker, "cat(kubeparprobe::probe()); library(future.apply)")
    assert loaded.stdout == "kubeparprobe answers", loaded.stderr


def test_unknown_package_fails_the_init_container_naming_it(tmp_path: Path, cran_with_probe: str) -> None:
    capture = render.run_program("local", {"kubepar:packages": ["kubeparprobe", "notapkg"]})
    result = pods.run_init(capture, "worker", tmp_path, cran_with_probe, pod_name="pod-0")
    assert result.returncode == 1
    assert "kubepar: package(s) not installed: notapkg." in result.stderr
    assert "kubeparprobe" not in result.stderr.split("not installed:")[1].split(".")[0]
