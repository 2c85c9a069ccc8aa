"""R files: the ConfigMaps carry the workload files verbatim and the live count."""

from __future__ import annotations

from components.r_files import SCRIPT_FILES, WORKLOADS_R
from tests.conftest import only, program


def test_scripts_config_map_holds_the_workload_files_verbatim() -> None:
    maps = program("local").kubernetes("ConfigMap")
    scripts = only([m for m in maps if m["metadata"]["name"] != "kubepar-settings"])
    assert set(scripts["data"]) == set(SCRIPT_FILES)
    for name in SCRIPT_FILES:
        assert scripts["data"][name] == (WORKLOADS_R / name).read_text()


def test_settings_config_map_has_a_fixed_name_and_the_count() -> None:
    maps = program("local", workers=5).kubernetes("ConfigMap")
    settings = only([m for m in maps if m["metadata"]["name"] == "kubepar-settings"])
    assert settings["data"] == {"workers": "5\n"}
