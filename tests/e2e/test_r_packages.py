"""End to end with real R: the rendered package init container, against a local repository.

R sees what the pod has: base R, plus the folder the init container fills
(this machine's Debian site library is hidden: R_LIBS_SITE and R_LIBS_USER
point at an empty folder, see tools/harness/pods.py). The repository
holds kubepar's core packages as binaries built from this machine's installs,
and a tiny source package the test writes; only ``KUBEPAR_CRAN`` is pointed
at it instead of the pinned snapshot.
"""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from components.engines.r_language import R_CORE_PACKAGES
from tools import harness
from tools.harness import clusters, pods, repository

clusters.require_r()

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
    capture = harness.run_program("local", {"kubepar:packages": []})
    result = pods.run_init(capture, component, tmp_path, cran, pod_name="pod-0")
    assert result.returncode == 0, result.stderr
    main = pods.LocalContainer(capture, component, tmp_path, pod_name="pod-0")
    loaded = run_r(main, LOAD_CORE)
    assert loaded.stdout == "loaded", loaded.stderr


def test_without_the_init_container_the_pods_r_cannot_load_future(tmp_path: Path) -> None:
    """The hiding works: this machine has future in Debian's library, the pod's R does not see it."""
    capture = harness.run_program("local")
    worker = pods.LocalContainer(capture, "worker", tmp_path, pod_name="pod-0")
    visible_here = subprocess.run(
        ["Rscript", "-e", "cat(requireNamespace('future', quietly = TRUE))"], capture_output=True, text=True
    )
    assert visible_here.stdout == "TRUE", "this machine must have future, or the test shows nothing"
    loaded = run_r(worker, "library(future)")
    assert loaded.returncode != 0
    assert "there is no package called" in loaded.stderr


@pytest.mark.parametrize("component", ["scheduler", "worker"])
def test_the_pods_r_sees_only_its_own_libraries_and_base_r(tmp_path: Path, cran: str, component: str) -> None:
    """No library folder of this machine's R (site libraries, /usr/local ones) is on a pod's path."""
    capture = harness.run_program("local")
    assert pods.run_init(capture, component, tmp_path, cran, pod_name="pod-0").returncode == 0
    main = pods.LocalContainer(capture, component, tmp_path, pod_name="pod-0")
    listed = run_r(main, 'cat(normalizePath(.libPaths()), sep = "\\n"); cat("\\nBASE", normalizePath(.Library))')
    assert listed.returncode == 0, listed.stderr
    *paths, base = [line for line in listed.stdout.splitlines() if line]
    base_r = base.removeprefix("BASE ")
    outside = [path for path in paths if path != base_r and not path.startswith(str(tmp_path.resolve()))]
    assert outside == [], f"this machine's library folders reach the pod: {outside}"
    assert any("kubepar-packages" in path for path in paths)


def test_configured_package_installs_and_loads_in_the_worker(tmp_path: Path, cran_with_probe: str) -> None:
    capture = harness.run_program("local", {"kubepar:packages": ["kubeparprobe"]})
    result = pods.run_init(capture, "worker", tmp_path, cran_with_probe, pod_name="pod-0")
    assert result.returncode == 0, result.stderr
    assert "kubepar: installed future, future.apply, parallelly, kubeparprobe" in result.stderr

    worker = pods.LocalContainer(capture, "worker", tmp_path, pod_name="pod-0")
    loaded = run_r(worker, "cat(kubeparprobe::probe()); library(future.apply)")
    assert loaded.stdout == "kubeparprobe answers", loaded.stderr


def test_unknown_package_fails_the_init_container_naming_it(tmp_path: Path, cran_with_probe: str) -> None:
    capture = harness.run_program("local", {"kubepar:packages": ["kubeparprobe", "notapkg"]})
    result = pods.run_init(capture, "worker", tmp_path, cran_with_probe, pod_name="pod-0")
    assert result.returncode == 1
    assert "kubepar: package(s) not installed: notapkg." in result.stderr
    assert "kubeparprobe" not in result.stderr.split("not installed:")[1].split(".")[0]


def session(capture: harness.Capture, root: Path, cran: str) -> pods.LocalContainer:
    """The RStudio session's R, as rserver starts it: the pod's env, kubepar.R as its profile."""
    pods.start_r_pod(capture, "scheduler", root, cran, "scheduler-0")
    # RStudio sessions use the stack's snapshot; here that is the local repository.
    return pods.LocalContainer(capture, "scheduler", root, pod_name="scheduler-0", env_overrides={"KUBEPAR_CRAN": cran})


def test_the_session_loads_kubepars_library_first_then_the_users_own_on_the_home_volume(
    tmp_path: Path, cran: str
) -> None:
    capture = harness.run_program("local")
    main = session(capture, tmp_path, cran)
    out = run_r(main, 'cat(.libPaths()[1:2], sep = "\\n"); cat("\\nFROM", find.package("future"), "\\n")')
    assert out.returncode == 0, out.stderr
    first, second = out.stdout.splitlines()[:2]
    assert first == main.local_path("/opt/kubepar/packages")
    assert second == main.local_path("/home/rstudio/R/kubepar-library/4.6")
    assert Path(second).is_dir(), "the user's library is created on the home volume"
    assert f"FROM {first}/future" in out.stdout


def test_install_packages_goes_to_the_users_library_which_workers_do_not_see(
    tmp_path: Path, cran_with_probe: str
) -> None:
    capture = harness.run_program("local")
    main = session(capture, tmp_path, cran_with_probe)
    installed = run_r(main, 'install.packages("kubeparprobe", quiet = TRUE); cat(kubeparprobe::probe())')
    assert installed.returncode == 0, installed.stderr
    assert installed.stdout.endswith("kubeparprobe answers")
    assert "kubepar: installing into your library" in installed.stderr
    assert "Workers do not see it" in installed.stderr
    assert (Path(main.local_path("/home/rstudio/R/kubepar-library/4.6")) / "kubeparprobe").is_dir()
    # A later session (a restarted pod: same home) still has it.
    again = run_r(session(capture, tmp_path, cran_with_probe), "cat(kubeparprobe::probe())")
    assert again.stdout == "kubeparprobe answers", again.stderr
    pods.start_r_pod(capture, "worker", tmp_path, cran_with_probe, "worker-0")
    worker = pods.LocalContainer(capture, "worker", tmp_path, pod_name="worker-0")
    assert run_r(worker, "library(kubeparprobe)").returncode != 0


def test_a_users_copy_of_a_kubepar_package_is_named_not_silently_shadowed(tmp_path: Path, cran: str) -> None:
    capture = harness.run_program("local")
    main = session(capture, tmp_path, cran)
    user_library = Path(main.local_path("/home/rstudio/R/kubepar-library/4.6"))
    user_library.mkdir(parents=True)
    shutil.copytree(Path(main.local_path("/opt/kubepar/packages")) / "parallelly", user_library / "parallelly")
    out = run_r(main, 'cat(dirname(find.package("parallelly")))')
    assert out.stdout == main.local_path("/opt/kubepar/packages"), "the session must load what its workers load"
    assert f"kubepar: your library {user_library} has parallelly, which this session does not load" in out.stderr


def test_the_installer_builds_with_the_pods_cpu_limit_not_the_nodes_cores() -> None:
    capture = harness.run_program("local", {"kubepar:schedulerCpu": "3"})
    (init,) = [c for c in pods.deployment(capture, "scheduler")["spec"]["template"]["spec"]["initContainers"]]
    cpus = next(e for e in init["env"] if e["name"] == "KUBEPAR_INSTALL_CPUS")
    assert cpus["valueFrom"] == {"resourceFieldRef": {"containerName": "install-packages", "resource": "limits.cpu"}}
    assert init["resources"]["limits"]["cpu"] == "3"
