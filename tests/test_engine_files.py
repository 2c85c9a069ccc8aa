"""Engine files: the ConfigMaps carry the workload files verbatim and the live count."""

from __future__ import annotations

import pytest

from components.engines import WORKLOADS
from tests.conftest import only, program


@pytest.mark.parametrize(("engine", "folder"), [("r", "r"), ("dask", "python")])
def test_scripts_config_map_holds_the_engine_files_verbatim(engine: str, folder: str) -> None:
    maps = program("local", engine=engine).kubernetes("ConfigMap")
    scripts = only([m for m in maps if m["metadata"]["name"] != "kubepar-settings"])
    assert set(scripts["data"]) == {path.name for path in (WORKLOADS / folder).iterdir()}
    for name, text in scripts["data"].items():
        assert text == (WORKLOADS / folder / name).read_text()


def test_settings_config_map_has_a_fixed_name_and_the_count() -> None:
    maps = program("local", workers=5).kubernetes("ConfigMap")
    settings = only([m for m in maps if m["metadata"]["name"] == "kubepar-settings"])
    assert settings["data"] == {"workers": "5\n"}
