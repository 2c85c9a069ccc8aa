"""End to end with real R: the rendered package init container, against a local repository.

The test builds a tiny source package into a file:// CRAN-like repository and
points R's site profile at it, the way rocker's Rprofile.site points at its
package snapshot. Everything else is the rendered init container as declared.
"""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest
import render

from tests.e2e import pods

pods.require_r()


@pytest.fixture(scope="module")
def site_profile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("repo")
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
    contrib = root / "repo" / "src" / "contrib"
    contrib.mkdir(parents=True)
    subprocess.run(
        ["R", "CMD", "build", "--no-build-vignettes", str(package)],
        cwd=contrib,
        check=True,
        capture_output=True,
    )
    subprocess.run(
        ["Rscript", "-e", f'tools::write_PACKAGES("{contrib}", type = "source")'],
        check=True,
        capture_output=True,
    )
    profile = root / "Rprofile.site"
    profile.write_text(f'options(repos = c(CRAN = "file://{root / "repo"}"))\n')
    return profile


def run_init(capture: render.Capture, root: Path, profile: Path) -> subprocess.CompletedProcess[str]:
    installer = pods.LocalContainer(capture, "worker", root, init=True, env_overrides={"R_PROFILE": str(profile)})
    return subprocess.run(
        installer.argv(),
        env=installer.process_env(),
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_configured_package_installs_and_loads_in_the_worker(tmp_path: Path, site_profile: Path) -> None:
    capture = render.run_program("local", {"kubepar:packages": ["kubeparprobe"]})
    result = run_init(capture, tmp_path, site_profile)
    assert result.returncode == 0, result.stderr
    assert "kubepar: installed kubeparprobe" in result.stderr

    worker = pods.LocalContainer(capture, "worker", tmp_path)
    loaded = subprocess.run(
        ["Rscript", "-e", "cat(kubeparprobe::probe())"],
        env=worker.process_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert loaded.stdout == "kubeparprobe answers", loaded.stderr


def test_unknown_package_fails_the_init_container_naming_it(tmp_path: Path, site_profile: Path) -> None:
    capture = render.run_program("local", {"kubepar:packages": ["kubeparprobe", "notapkg"]})
    result = run_init(capture, tmp_path, site_profile)
    assert result.returncode == 1
    assert "kubepar: package(s) not installed: notapkg." in result.stderr
    assert "kubeparprobe" not in result.stderr.split("not installed:")[1].split(".")[0]
