"""A CRAN-like repository on local disk, for the rendered R init container.

CRAN (and the Posit Package Manager snapshot the pods use) cannot be reached
here. The repository is built from what this machine has: each installed
package directory of kubepar's core packages and their dependencies, tarred,
is a binary package that ``install.packages()`` installs from a file://
repository (it carries a ``Built:`` field), the way the snapshot serves
Linux binaries. Source packages (a test's own, or ``../shared/cran``) can be
added beside them. Base R and the recommended packages are not added: the
rocker images have those.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
from pathlib import Path

from components.config import R_CORE_PACKAGES

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


SHARED_CRAN = Path(__file__).resolve().parents[3] / "shared" / "cran"


def _add_binaries(contrib: Path, installed: list[tuple[str, str, Path]]) -> None:
    for name, version, library in installed:
        with tarfile.open(contrib / f"{name}_{version}.tar.gz", "w:gz") as archive:
            archive.add(library / name, arcname=name)


def build_from_source(
    root: Path, packages: tuple[str, ...], repository: Path = SHARED_CRAN
) -> list[tuple[str, str, Path]]:
    """Install ``packages`` from a source repository into a library under ``root``, once, here.

    What the pods get as Linux binaries from their snapshot, this machine has
    to compile (redux against libhiredis-dev); the result is then served as
    binaries, like the rest.
    """
    if not (repository / "src" / "contrib" / "PACKAGES").exists():
        raise RuntimeError(f"no CRAN-like repository at {repository} (see ../shared/cran/README.md)")
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
) -> str:
    """Write the repository under ``root``; returns its file:// URL for ``KUBEPAR_CRAN``.

    ``built``: packages of ../shared/cran, compiled here once and served as binaries.
    """
    contrib = root / "src" / "contrib"
    contrib.mkdir(parents=True, exist_ok=True)
    _add_binaries(contrib, installed_closure(packages))
    if built:
        _add_binaries(contrib, build_from_source(root, built))
    for source in sources:
        shutil.copy(source, contrib / source.name)
    subprocess.run(
        ["Rscript", "-e", f'tools::write_PACKAGES("{contrib}", type = "source")'],
        check=True,
        capture_output=True,
    )
    return f"file://{root}"
