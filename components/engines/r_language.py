"""R in kubepar's pods: the rocker images, the package snapshot and the package installer.

Owns: which rocker image an ``rVersion`` names, the dated package snapshot
for that image's Ubuntu release, kubepar's own R packages, the check of
``packages`` as CRAN names, and the init container that installs them. The
R engine, its queue backend and R sweeps all use these. Does not: define pod
roles (r.py, r_queue.py, sweeps.py).
Invariant: every R pod of a stack installs from the same snapshot with the
same list, so scheduler, workers and sweeps load identical versions.
"""

from __future__ import annotations

import re

from components.engines.model import PACKAGES_DIR, SCRIPTS_DIR, Installer
from components.ground.reader import Reader
from components.ground.rocker import ROCKER_LIBS
from components.ground.settings import WorkloadSettings

# R packages kubepar itself needs in every R pod (kubepar.R and the worker
# loop); the init container always installs them, with kubepar:packages.
R_CORE_PACKAGES = ("future", "future.apply", "parallelly")
# With rBackend redis, every R pod also gets the queue client (doRedis on
# redux and storr); redux links hiredis, which the init container fetches.
R_QUEUE_PACKAGES = ("doRedis", "redux", "storr")
R_QUEUE_SYSTEM_LIBRARIES = ("hiredis",)
RSTUDIO_HOME = "/home/rstudio"

# Every pattern is used with fullmatch and ASCII classes only: `$` would let a
# trailing newline through, and `\d` matches non-ASCII digits.
_R_VERSION = re.compile(r"([0-9]{1,2})\.([0-9]{1,2})\.([0-9]{1,2})")
_CRAN_NAME = re.compile(r"[A-Za-z][A-Za-z0-9.]*[A-Za-z0-9]")


def r_base_image(r_version: str) -> str:
    return f"rocker/r-ver:{r_version}"


def parse_r_version(value: str) -> str:
    match = _R_VERSION.fullmatch(value)
    if not match:
        raise ValueError("expected MAJOR.MINOR.PATCH such as 4.6.1")
    if any(part != str(int(part)) for part in match.groups()):
        # rocker tags are canonical: 4.05.1 parses but names no image.
        canonical = ".".join(str(int(part)) for part in match.groups())
        raise ValueError(f"no rocker image is tagged so; write it without leading zeros ({canonical})")
    if (int(match[1]), int(match[2])) < (4, 0):
        raise ValueError("kubepar needs R 4.0 or newer")
    return value


def ubuntu_series(r_version: str) -> str:
    """Ubuntu release of the rocker images for an R version (rocker-versioned2 build/args/history.tsv)."""
    major, minor, patch = (int(part) for part in r_version.split("."))
    if (major, minor, patch) >= (4, 4, 2):
        return "noble"
    if (major, minor) >= (4, 2):
        return "jammy"
    return "focal"


def cran_repository(r_version: str, snapshot: str) -> str:
    """The dated Posit Package Manager snapshot of Linux binaries for the rocker image of ``r_version``.

    rocker's own Rprofile.site points at the same host, but for the current R
    release at the moving ``latest``: pinning the date keeps every pod on
    identical package versions.
    """
    return f"https://p3m.dev/cran/__linux__/{ubuntu_series(r_version)}/{snapshot}"


def user_library(r_version: str) -> str:
    """The RStudio user's own library: on the home volume, one per R minor version (packages
    built for one minor version may not load in the next)."""
    return f"{RSTUDIO_HOME}/R/kubepar-library/{'.'.join(r_version.split('.')[:2])}"


def check_packages(read: Reader, specs: list[str]) -> list[str]:
    """``packages`` as bare CRAN names; kubepar's own are dropped (installed anyway)."""
    packages: list[str] = []
    for spec in specs:
        if not _CRAN_NAME.fullmatch(spec):
            read.fail(
                "packages",
                f"{spec!r} is not a CRAN package name (letters, digits and dots, "
                "starting with a letter); list bare names such as data.table",
            )
        elif spec in R_CORE_PACKAGES:
            continue  # kubepar installs these anyway
        elif spec in packages:
            read.fail("packages", f"{spec!r} is listed twice")
        else:
            packages.append(spec)
    return packages


def r_installer(
    settings: WorkloadSettings, packages: tuple[str, ...], system_libraries: tuple[str, ...] = ()
) -> Installer:
    """The init container that installs kubepar's R packages and ``packages`` from the snapshot."""
    return Installer(
        image=r_base_image(settings.r_version),
        command=("Rscript", f"{SCRIPTS_DIR}/install-packages.R"),
        env=(
            ("KUBEPAR_PACKAGES", " ".join((*R_CORE_PACKAGES, *packages))),
            ("KUBEPAR_LIBRARY", PACKAGES_DIR),
            ("KUBEPAR_CRAN", settings.cran_repository),
        ),
        path_env=("R_LIBS", f"{PACKAGES_DIR}:{ROCKER_LIBS}"),
        system_libraries=system_libraries,
    )
