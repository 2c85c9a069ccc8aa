"""Engine files: the ConfigMaps carry the workload files verbatim and the live count."""

from __future__ import annotations

import json

import pytest

from components.engines.model import WORKLOADS
from tests.conftest import only, program

SWEEPS = json.dumps(
    [
        {"name": "rsim", "script": "examples/sweeps/sim.R", "tasks": 4},
        {"name": "pysim", "script": "examples/sweeps/sim.py", "tasks": 4},
    ]
)


@pytest.mark.parametrize(("engine", "folder"), [("r", "r"), ("dask", "python")])
def test_scripts_config_map_holds_the_engine_files_verbatim(engine: str, folder: str) -> None:
    maps = program("local", engine=engine).kubernetes("ConfigMap")
    scripts = only([m for m in maps if m["metadata"]["name"] != "kubepar-settings"])
    assert scripts["data"]
    for name, text in scripts["data"].items():
        assert text == (WORKLOADS / folder / name).read_text()


def test_every_workload_file_reaches_a_pod() -> None:
    shipped: set[str] = set()
    spark = '{"workers": 1}'
    for engine, backend in (("r", "psock"), ("r", "redis"), ("dask", "psock")):
        stack = program("local", engine=engine, rBackend=backend, sweeps=SWEEPS, spark=spark)
        for config_map in stack.kubernetes("ConfigMap"):
            shipped |= set(config_map["data"])
    folders = ("r", "python", "queue", "spark")
    assert {path.name for folder in folders for path in (WORKLOADS / folder).iterdir()} <= shipped


def test_settings_config_map_has_a_fixed_name_and_the_count() -> None:
    maps = program("local", workers=5).kubernetes("ConfigMap")
    settings = only([m for m in maps if m["metadata"]["name"] == "kubepar-settings"])
    assert settings["data"] == {"workers": "5\n"}
