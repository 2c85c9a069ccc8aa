"""Every image any stack runs, with the publisher's record that its tag exists.

A tag that was never published leaves pods in ImagePullBackOff on the first
`pulumi up`. Each entry names where the tag was checked: the publisher's own
release list or build matrix, read on the date given. A new image or tag in
the render fails this test until it is checked and listed here.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import OWN_RANGE, STACKS, containers, program
from tools import harness

CHECKED = {
    "rocker/rstudio:4.6.1": "rocker-org/rocker-versioned2 build/args/history.tsv at 69cded5 (2026-06-30): "
    "R 4.6.1 released 2026-06-24, the current release, built for rstudio and r-ver",
    "rocker/r-ver:4.6.1": "rocker-org/rocker-versioned2 build/args/history.tsv at 69cded5 (2026-06-30), as above",
    "ghcr.io/dask/dask:2026.7.1-py3.11": "dask/dask-docker .github/workflows/build.yml at 2b07a68 (2026-07-14): "
    "release 2026.7.1 for python 3.10-3.14, tagged <release>-py<python>",
    "ghcr.io/dask/dask-notebook:2026.7.1-py3.11": "dask/dask-docker .github/workflows/build.yml at 2b07a68, as above",
    "quay.io/jupyterhub/k8s-hub:4.4.0": "jupyterhub/zero-to-jupyterhub-k8s tag 4.4.0 (2026-06-10): chartpress "
    "publishes images/hub as quay.io/jupyterhub/k8s-hub at the chart's version",
    "quay.io/jupyterhub/configurable-http-proxy:5.2.0": "jupyterhub/zero-to-jupyterhub-k8s jupyterhub/values.yaml at "
    "tag 4.4.0: proxy.chp.image tag 5.2.0",
    "traefik:v3.6.12": "jupyterhub/zero-to-jupyterhub-k8s jupyterhub/values.yaml at tag 4.4.0: proxy.traefik.image, "
    "the official traefik image's tag v3.6.12",
    "apache/spark:4.1.2-scala2.13-java17-python3-ubuntu": "apache/spark-docker versions.json at 7f2e1f0 "
    "(2026-06-25): 4.1.2/scala2.13-java17-python3-ubuntu, the newest 4.x release (4.2.0 only as previews)",
    "python:3.12.13-slim-bookworm": "docker-library/python 3.12/slim-bookworm/Dockerfile at 4f07059 (2026-06-23): "
    "Python 3.12.13, built --enable-shared with rpath $ORIGIN/../lib (so a copy of /usr/local runs anywhere)",
    "valkey/valkey:8.1.8": "valkey-io/valkey-io.github.io pull request 563 (2026-06-02): Docker Hub valkey/valkey "
    "tags 8.1.8, 8.1.8-trixie, 8.1.8-alpine",
}
SWEEPS = json.dumps(
    [
        {"name": "r", "script": "examples/sweeps/sim.R", "tasks": 2},
        {"name": "py", "script": "examples/sweeps/sim.py", "tasks": 2},
    ]
)
VARIANTS = [
    *((stack, {}) for stack in STACKS),
    ("dev", {"rBackend": "redis"}),
    ("local", {"sweeps": SWEEPS}),
    ("dask-dev", {"sweeps": SWEEPS, "packages": '["xarray==2025.1.2"]'}),
    # Spark beside each engine (apache/spark; RStudio's Python from the official image).
    ("dev", {"spark": '{"workers": 2}'}),
    ("dask-dev", {"spark": '{"workers": 2}'}),
    # The hub's HTTPS door (Traefik).
    ("hub", {"allowedSourceRanges": json.dumps([OWN_RANGE]), "hubDomain": "hub.example.org", "hubDnsZone": "z"}),
]


def images(stack: str, overrides: dict[str, str]) -> set[str]:
    capture = program(stack, **overrides)
    return {
        container["image"]
        for kind in ("Deployment", "Job")
        for document in capture.kubernetes(kind)
        for container in containers(document)
    } | spawned_images(capture)


def spawned_images(capture: harness.Capture) -> set[str]:
    """engine hub: the images of the pods the hub starts, from the settings file it reads."""
    found: set[str] = set()
    for config_map in capture.kubernetes("ConfigMap"):
        settings = json.loads((config_map.get("data") or {}).get("hub.json") or "{}")
        for profile in settings.get("profiles", []):
            override = profile["override"]
            found.add(override["image"])
            found |= {c["image"] for c in [*override["init_containers"], *override["extra_containers"]]}
            found |= {
                c["image"] for item in profile["objects"] if item["kind"] == "Deployment" for c in containers(item)
            }
    return found


@pytest.mark.parametrize(("stack", "overrides"), VARIANTS)
def test_every_image_a_stack_runs_was_checked_against_its_publisher(stack: str, overrides: dict[str, str]) -> None:
    unchecked = images(stack, overrides) - set(CHECKED)
    assert not unchecked, f"check these tags against their publisher and list them in CHECKED: {sorted(unchecked)}"


def test_every_checked_image_is_still_in_use() -> None:
    used = set().union(*(images(stack, overrides) for stack, overrides in VARIANTS))
    assert used == set(CHECKED)
