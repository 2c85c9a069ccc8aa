"""Documentation that is generated or promised stays true to the project."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT
from tools import config_reference, roles_reference


def test_the_configuration_reference_is_generated_from_pulumi_yaml() -> None:
    page = (ROOT / "docs" / "configuration.md").read_text()
    assert page == config_reference.page(), "docs/configuration.md is stale: run `make docs`"


def test_the_operations_page_lists_every_roles_disk_probes_and_disruption() -> None:
    page = (ROOT / "docs" / "operations.md").read_text()
    assert page == roles_reference.page(page), "docs/operations.md's role table is stale: run `make docs`"
    listed = {line.split("|")[1].strip(" `") for line in page.splitlines() if line.startswith("| `")}
    # Every engine's roles and what runs beside them: R, the queue, Dask, Spark, the front, the hub and its users.
    expected = {"scheduler", "worker", "queue", "notebook", "sweep", "spark-master", "spark-worker", "spark-connect"}
    assert expected | {"https", "hub", "proxy", "session", "rstudio", "dask-scheduler"} <= listed


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


PAGES = sorted([ROOT / "README.md", ROOT / "BENCHMARKS.md", *(ROOT / "docs").glob("*.md")])


def _blocks(text: str) -> list[str]:
    """Blank-line separated blocks, with fenced code kept whole."""
    blocks: list[str] = []
    current: list[str] = []
    fenced = False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if not line.strip() and not fenced:
            if current:
                blocks.append("\n".join(current))
            current = []
        else:
            current.append(line)
    if current:
        blocks.append("\n".join(current))
    return blocks


def _prose(block: str) -> bool:
    """A paragraph: not a heading, list, table, code, quote or picture."""
    first = block.lstrip()
    return not re.match(r"(#|- |\* |\||```|>|[0-9]+\. |<|!\[|    )", first) and not block.startswith(" ")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_page_starts_with_a_heading_and_whole_sentences(page: Path) -> None:
    # A page cut when the README moved began and ended mid-sentence.
    blocks = _blocks(page.read_text())
    assert blocks[0].startswith("# ") and "\n" not in blocks[0], blocks[0]
    prose = [block for block in blocks[1:] if _prose(block)]
    assert prose, "the page has no paragraph"
    opening = prose[0]
    assert not opening[0].islower() or opening.startswith("kubepar"), f"starts mid-sentence: {opening[:80]!r}"
    if _prose(blocks[-1]):
        assert blocks[-1].rstrip()[-1] in ".!?)`:", f"ends mid-sentence: {blocks[-1][-80:]!r}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    links = re.findall(r"\]\(([^)\s]+)\)", page.read_text())
    local = [link.split("#", 1)[0] for link in links if not re.match(r"[a-z]+:", link) and not link.startswith("#")]
    missing = [link for link in local if link and not (page.parent / link).exists()]
    assert missing == []
