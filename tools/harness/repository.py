"""A CRAN-like repository on local disk, for the rendered R init container.

CRAN (and the Posit Package Manager snapshot the pods use) cannot be reached
here. The repository is built from what this machine has: each installed
package directory of kubepar's core packages and their dependencies, tarred,
is a binary package that ``install.packages()`` installs from a file://
repository (it carries a ``Built:`` field), the way the snapshot serves
Linux binaries. Source packages (a test's own, or the queue backend's
packages fetched from CRAN at pinned versions) can be added beside them.
Base R and the recommended packages are not added: the rocker images have
those.

doRedis, redux and storr exist only on CRAN: where CRAN answers (a user's
machine, GitHub's runners) :func:`cran_sources` fetches them; where it does
not (this project's development machines), it raises :class:`CranUnreachableError`
and the tests that need them report that they did not run, and why.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

from components.engines.r_language import R_CORE_PACKAGES

_INSTALLED = r"""
wanted <- strsplit(Sys.getenv("KUBEPAR_WANTED"), " ")[[1]]
db <- installed.packages()
base <- rownames(db)[!is.na(db[, "Priority"]) & db[, "Priority"] %in% c("base", "recommended")]
deps <- tools::package_dependencies(wanted, db = db, recursive = TRUE,
                                    which = c("Depends", "Imports", "LinkingTo"))
needed <- setdiff(unique(c(wanted, unlist(deps))), base)
missing <- setdiff(needed, rownames(db))
if (length(missing)) stop("not installed on this machine: ", paste(missing, collapse = ", "))
for (p in needed) cat(p, db[p, "Version"], db[p, "LibPath"], "\n")
"""


def installed_closure(packages: tuple[str, ...]) -> list[tuple[str, str, Path]]:
    """(name, version, library) of ``packages`` and their non-base dependencies, as installed here."""
    result = subprocess.run(
        ["Rscript", "-e", _INSTALLED],
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "KUBEPAR_WANTED": " ".join(packages)},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"cannot list installed R packages: {result.stderr}")
    return [(name, version, Path(lib)) for name, version, lib in (line.split() for line in result.stdout.splitlines())]


CRAN = "https://cloud.r-project.org"
# The queue backend's packages, pinned: the versions kubepar's queue tests ran against.
CRAN_ONLY = {"doRedis": "3.0.2", "redux": "1.1.5", "storr": "1.2.5"}


class CranUnreachableError(RuntimeError):
    """CRAN did not answer: packages that only CRAN has cannot be had here."""


def cran_sources(folder: Path, packages: dict[str, str] = CRAN_ONLY, timeout: float = 20) -> Path:
    """A source repository under ``folder`` with ``packages`` at their pinned versions, from CRAN."""
    contrib = folder / "src" / "contrib"
    contrib.mkdir(parents=True, exist_ok=True)
    for name, version in packages.items():
        tarball = f"{name}_{version}.tar.gz"
        # The current release sits in contrib/, older ones in its Archive/.
        urls = [f"{CRAN}/src/contrib/{tarball}", f"{CRAN}/src/contrib/Archive/{name}/{tarball}"]
        for url in urls:
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:
                    (contrib / tarball).write_bytes(response.read())
                break
            except urllib.error.HTTPError as error:
                if error.code != 404:
                    raise CranUnreachableError(f"{url}: HTTP {error.code}") from error
            except (urllib.error.URLError, OSError) as error:
                raise CranUnreachableError(f"{CRAN} cannot be reached ({error})") from error
        else:
            raise RuntimeError(f"{name} {version} is on CRAN neither as current nor archived: {urls}")
    subprocess.run(
        ["Rscript", "-e", f'tools::write_PACKAGES("{contrib}", type = "source")'], check=True, capture_output=True
    )
    return folder


def _add_binaries(contrib: Path, installed: list[tuple[str, str, Path]]) -> None:
    for name, version, library in installed:
        with tarfile.open(contrib / f"{name}_{version}.tar.gz", "w:gz") as archive:
            archive.add(library / name, arcname=name)


def build_from_source(root: Path, packages: tuple[str, ...], repository: Path) -> list[tuple[str, str, Path]]:
    """Install ``packages`` from a source repository into a library under ``root``, once, here.

    What the pods get as Linux binaries from their snapshot, this machine has
    to compile (redux against libhiredis-dev); the result is then served as
    binaries, like the rest.
    """
    if not (repository / "src" / "contrib" / "PACKAGES").exists():
        raise RuntimeError(f"no CRAN-like repository at {repository}")
    library = root / "built"
    library.mkdir(parents=True, exist_ok=True)
    code = (
        f'install.packages(c({", ".join(repr(p) for p in packages)}), lib = "{library}", '
        f'repos = "file://{repository}", quiet = TRUE); '
        f'stopifnot(all(c({", ".join(repr(p) for p in packages)}) %in% rownames(installed.packages("{library}"))))'
    )
    result = subprocess.run(["Rscript", "-e", code], capture_output=True, text=True, check=False, timeout=900)
    if result.returncode != 0:
        raise RuntimeError(
            f"building {packages} from {repository} failed (libhiredis-dev, a C compiler?):\n{result.stderr}"
        )
    versions = subprocess.run(
        [
            "Rscript",
            "-e",
            f'ip <- installed.packages("{library}"); cat(paste(ip[, "Package"], ip[, "Version"]), sep = "\\n")',
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    return [(name, version, library) for name, version in (line.split() for line in versions if line.strip())]


def build(
    root: Path,
    packages: tuple[str, ...] = R_CORE_PACKAGES,
    sources: tuple[Path, ...] = (),
    built: tuple[str, ...] = (),
    built_from: Path | None = None,
) -> str:
    """Write the repository under ``root``; returns its file:// URL for ``KUBEPAR_CRAN``.

    ``built``: packages of the source repository ``built_from``, compiled here once and served as binaries.
    """
    contrib = root / "src" / "contrib"
    contrib.mkdir(parents=True, exist_ok=True)
    _add_binaries(contrib, installed_closure(packages))
    if built:
        assert built_from is not None, "built packages need the source repository they come from"
        _add_binaries(contrib, build_from_source(root, built, built_from))
    for source in sources:
        shutil.copy(source, contrib / source.name)
    subprocess.run(
        ["Rscript", "-e", f'tools::write_PACKAGES("{contrib}", type = "source")'],
        check=True,
        capture_output=True,
    )
    return f"file://{root}"
