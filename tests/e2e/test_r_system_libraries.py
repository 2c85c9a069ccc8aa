"""System libraries in an RStudio session: what rserver's sessions see, not a shell's.

With ``rBackend: redis`` the pods fetch hiredis in an init container and the
main container finds it on LD_LIBRARY_PATH. An RStudio session is started by
rserver, which builds rsession's environment itself: LD_LIBRARY_PATH does not
reach the dynamic loader there (rocker writes ``rsession-ld-library-path``
only for CUDA images). kubepar.R therefore loads the pod's system libraries
in every R process. This test needs no CRAN package: a probe package of its
own links hiredis the way redux does, is compiled here once and served as a
binary, and runs with this machine's hiredis hidden, in an environment
without LD_LIBRARY_PATH, as rsession would.
"""

from __future__ import annotations

import subprocess
import tempfile
import textwrap
from pathlib import Path

import pytest

from components.engines.r_language import R_CORE_PACKAGES
from tests.conftest import program
from tools import harness
from tools.harness import clusters, pods, repository

PROBE = "kubeparhiredis"
LOAD = f"library({PROBE}); cat('HIREDIS', probe(), '\\n')"


@pytest.fixture(scope="module")
def probe_cran(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Kubepar's core packages and a probe package that links libhiredis, as binaries."""
    clusters.require_r()
    root = tmp_path_factory.mktemp("hiredis-probe")
    package = root / PROBE
    (package / "R").mkdir(parents=True)
    (package / "src").mkdir()
    (package / "DESCRIPTION").write_text(
        textwrap.dedent(
            f"""\
            Package: {PROBE}
            Version: 0.1.0
            Title: Probe That Links hiredis
            Description: Creates a hiredis reader, so that loading it needs libhiredis.
            License: MIT
            Authors@R: person("kubepar", "tests", email = "tests@example.org", role = c("aut", "cre"))
            """
        )
    )
    (package / "NAMESPACE").write_text(f"useDynLib({PROBE})\nexport(probe)\n")
    (package / "R" / "probe.R").write_text(f'probe <- function() .Call("kubepar_probe", PACKAGE = "{PROBE}")\n')
    (package / "src" / "Makevars").write_text("PKG_LIBS = -lhiredis\n")
    (package / "src" / "probe.c").write_text(
        textwrap.dedent(
            """\
            #include <hiredis/hiredis.h>
            #include <R.h>
            #include <Rinternals.h>

            SEXP kubepar_probe(void) {
                redisReader *reader = redisReaderCreate();
                int ok = reader != NULL;
                redisReaderFree(reader);
                return ScalarLogical(ok);
            }
            """
        )
    )
    sources = root / "sources" / "src" / "contrib"
    sources.mkdir(parents=True)
    subprocess.run(["R", "CMD", "build", str(package)], cwd=sources, check=True, capture_output=True)
    subprocess.run(
        ["Rscript", "-e", f'tools::write_PACKAGES("{sources}", type = "source")'], check=True, capture_output=True
    )
    return repository.build(root / "repo", packages=R_CORE_PACKAGES, built=(PROBE,), built_from=root / "sources")


@pytest.fixture(scope="module")
def capture() -> harness.Capture:
    return program("local", rBackend="redis")


def start_pod(capture: harness.Capture, root: Path, cran: str) -> None:
    """The scheduler's rendered init containers: hiredis from the distribution's archive, then packages.

    The package list is the probe and kubepar's core packages instead of the
    queue client (doRedis, redux and storr exist only on CRAN): what is under
    test is how the session finds the library they link.
    """
    packages = " ".join((*R_CORE_PACKAGES, PROBE))
    for name, overrides in (
        ("install-libraries", {}),
        ("install-packages", {"KUBEPAR_CRAN": cran, "KUBEPAR_PACKAGES": packages}),
    ):
        init = pods.LocalContainer(
            capture, "scheduler", root, container=name, init=True, pod_name="scheduler-0", env_overrides=overrides
        )
        argv = init.argv() if name == "install-libraries" else pods.without_system_libraries(init.argv())
        result = subprocess.run(
            argv, env=init.process_env(), cwd=root, capture_output=True, text=True, timeout=600, check=False
        )
        assert result.returncode == 0, f"{name} failed:\n{result.stdout}{result.stderr}"


def session_env(capture: harness.Capture, root: Path, cran: str) -> dict[str, str]:
    """The session's environment as rserver hands it to rsession: the pod's, less LD_LIBRARY_PATH."""
    start_pod(capture, root, cran)
    env = pods.LocalContainer(capture, "scheduler", root, pod_name="scheduler-0").process_env()
    assert "LD_LIBRARY_PATH" in env, "the rendered scheduler sets LD_LIBRARY_PATH for processes started from a shell"
    return {key: value for key, value in env.items() if key != "LD_LIBRARY_PATH"}


def run(env: dict[str, str], root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        pods.without_system_libraries(["Rscript", "-e", LOAD]),
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_session_without_ld_library_path_loads_a_package_that_links_the_pods_hiredis(
    capture: harness.Capture, tmp_path: Path, probe_cran: str
) -> None:
    loaded = run(session_env(capture, tmp_path, probe_cran), tmp_path)
    assert loaded.returncode == 0 and "HIREDIS TRUE" in loaded.stdout, loaded.stderr


def test_without_kubepars_preload_the_same_session_cannot_load_it(
    capture: harness.Capture, tmp_path: Path, probe_cran: str
) -> None:
    env = session_env(capture, tmp_path, probe_cran)
    env.pop("KUBEPAR_SYSTEM_LIBRARY_PATH")
    missing = run(env, tmp_path)
    assert missing.returncode != 0 and "libhiredis" in missing.stderr, missing.stderr


def test_hiding_the_libraries_leaves_nothing_in_the_system_temp_folder() -> None:
    before = set(Path(tempfile.gettempdir()).iterdir())
    done = subprocess.run(pods.without_system_libraries(["true"]), capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert set(Path(tempfile.gettempdir()).iterdir()) - before == set()
