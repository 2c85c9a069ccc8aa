"""Documentation that is generated or promised stays true to the project."""

from __future__ import annotations

import re

import yaml

from tests.conftest import ROOT
from tools import config_reference


def test_the_configuration_reference_is_generated_from_pulumi_yaml() -> None:
    page = (ROOT / "docs" / "configuration.md").read_text()
    assert page == config_reference.page(), "docs/configuration.md is stale: run `make docs`"


def test_the_reference_lists_every_key_the_project_declares() -> None:
    declared = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    page = (ROOT / "docs" / "configuration.md").read_text()
    assert set(re.findall(r"^\| `([A-Za-z]+)` \|", page, re.MULTILINE)) == set(declared)


def test_every_page_the_readme_links_exists() -> None:
    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\(((?:docs|components)/[^)#]+)\)", readme)
    assert links, "the README links its reference pages"
    missing = [link for link in links if not (ROOT / link).exists()]
    assert missing == []


def test_the_readme_shows_the_two_commands_ci_and_users_run() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci and "\nmake test" in readme.replace("```sh\n", "\n")
    assert "make up " in readme
