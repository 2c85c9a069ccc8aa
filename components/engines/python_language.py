"""Python in kubepar's pods: the Dask images, pinned requirements and the pip installer.

Owns: which Dask images a ``daskVersion`` names, the check of ``packages``
as pinned requirements (never one the image itself provides), and the init
container that installs them. The Dask engine and Python sweeps use these.
Does not: define pod roles (dask.py, sweeps.py).
Invariant: a pin never replaces a package of the Dask image, so every pod
runs the Dask release ``daskVersion`` names.
"""

from __future__ import annotations

import re

from components.engines.model import PACKAGES_DIR, SCRIPTS_DIR, Installer
from components.ground.reader import Reader
from components.ground.settings import WorkloadSettings

# Python of the Dask images kubepar runs (the `<release>-py<python>` tag).
DASK_PYTHON = "3.11"
# Packages the Dask images themselves provide: a pin of one of these would
# silently replace the engine's own version on some pods.
DASK_IMAGE_PACKAGES = ("dask", "distributed", "numpy", "pandas", "bokeh", "cloudpickle", "tornado", "msgpack")
# Where the installer's prefix keeps its packages, under PACKAGES_DIR.
PYTHON_SITE_PACKAGES = f"lib/python{DASK_PYTHON}/site-packages"

_DASK_VERSION = re.compile(r"[0-9]{4}\.[0-9]{1,2}\.[0-9]{1,3}")
# A pinned pip requirement: name[extras]==version (PEP 508 names, PEP 440 versions).
_PINNED_REQUIREMENT = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)(\[[A-Za-z0-9,._-]+\])?==([A-Za-z0-9.+!_-]+)")


def image_tag(settings: WorkloadSettings) -> str:
    return f"{settings.dask_version}-py{DASK_PYTHON}"


def dask_image(settings: WorkloadSettings) -> str:
    return f"ghcr.io/dask/dask:{image_tag(settings)}"


def parse_dask_version(value: str) -> str:
    if not _DASK_VERSION.fullmatch(value):
        raise ValueError("expected YEAR.MONTH.PATCH such as 2026.7.1")
    if any(part != str(int(part)) for part in value.split(".")):
        # Dask's tags are canonical: 2026.07.1 parses but names no image.
        canonical = ".".join(str(int(part)) for part in value.split("."))
        raise ValueError(f"no Dask image is tagged so; write it without leading zeros ({canonical})")
    return value


def requirement_name(spec: str) -> str | None:
    """The normalised package name of a pinned requirement (``xarray`` of ``XArray==2025.1.2``), or None."""
    match = _PINNED_REQUIREMENT.fullmatch(spec)
    return match[1].lower().replace("_", "-") if match else None


def check_packages(read: Reader, specs: list[str]) -> list[str]:
    """``packages`` as pinned requirements, none of them a package of the Dask image."""
    packages: list[str] = []
    names: set[str] = set()
    for spec in specs:
        name = requirement_name(spec)
        if name is None:
            read.fail(
                "packages", f"{spec!r} is not a pinned requirement; write name==version, such as xarray==2025.1.2"
            )
        elif name in DASK_IMAGE_PACKAGES:
            read.fail(
                "packages",
                f"{spec!r} would replace the Dask image's own {name}, so pods would run another version than "
                "daskVersion and break; remove it (change daskVersion to move Dask itself)",
            )
        elif name in names:
            read.fail("packages", f"{spec!r} is listed twice")
        else:
            names.add(name)
            packages.append(spec)
    return packages


def pip_installer(settings: WorkloadSettings, packages: tuple[str, ...], *, extra_path: str = "") -> Installer:
    """The init container that pip-installs ``packages`` into the pod's package volume."""
    return Installer(
        image=dask_image(settings),
        command=("sh", f"{SCRIPTS_DIR}/install-packages.sh"),
        env=(("KUBEPAR_PACKAGES", " ".join(packages)), ("KUBEPAR_LIBRARY", PACKAGES_DIR)),
        path_env=("PYTHONPATH", f"{extra_path}{PACKAGES_DIR}/{PYTHON_SITE_PACKAGES}"),
    )
