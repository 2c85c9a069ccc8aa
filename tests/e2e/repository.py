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


def build(root: Path, packages: tuple[str, ...] = R_CORE_PACKAGES, sources: tuple[Path, ...] = ()) -> str:
    """Write the repository under ``root``; returns its file:// URL for ``KUBEPAR_CRAN``."""
    contrib = root / "src" / "contrib"
    contrib.mkdir(parents=True, exist_ok=True)
    for name, version, library in installed_closure(packages):
        with tarfile.open(contrib / f"{name}_{version}.tar.gz", "w:gz") as archive:
            archive.add(library / name, arcname=name)
    for source in sources:
        shutil.copy(source, contrib / source.name)
    subprocess.run(
        ["Rscript", "-e", f'tools::write_PACKAGES("{contrib}", type = "source")'],
        check=True,
        capture_output=True,
    )
    return f"file://{root}"
