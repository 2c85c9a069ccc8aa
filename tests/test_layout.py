"""The house: wings import only the wings below them, no cycles, no path edits, small files."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

# A wing may import its own modules and those of lower ranks; gcp and k8s share a rank and never meet.
WINGS = {"ground": 0, "engines": 1, "config": 2, "gcp": 3, "k8s": 3}
SOURCES = sorted(
    path
    for folder in ("components", "tools", "tests", "policies/kubepar_policies")
    for path in (ROOT / folder).rglob("*.py")
    if "fixtures" not in path.parts
)
MAX_LINES = 400
# Every file parsed once, at collection, before any test runs. Python 3.11's
# ast.parse is not reentrant: a finalizer that formats a traceback (an
# unretrieved asyncio Future left by a mock-engine test) runs ast.parse inside
# ours and fails it with "AST constructor recursion depth mismatch".
TREES = {path: ast.parse(path.read_text()) for path in [*SOURCES, *(ROOT / "components").rglob("*.py")]}


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """The project modules a file imports (absolute, or relative resolved)."""
    found: set[str] = set()
    module = _module(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(TREES[path]):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] in ("components", "tools", "tests", "policies")}


def _wing(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "components" and parts[1] in WINGS else None


COMPONENT_MODULES = {
    _module(path): path for path in (ROOT / "components").rglob("*.py") if _wing(_module(path)) is not None
}


@pytest.mark.parametrize("module", sorted(COMPONENT_MODULES))
def test_a_wing_imports_only_itself_and_the_wings_below(module: str) -> None:
    wing = _wing(module)
    assert wing is not None
    above = [
        name
        for name in _imports(COMPONENT_MODULES[module])
        if (other := _wing(name)) is not None and other != wing and WINGS[other] >= WINGS[wing]
    ]
    assert above == [], f"{module} imports from a wing not below it"
    assert not {"tools", "tests"} & {name.split(".")[0] for name in _imports(COMPONENT_MODULES[module])}


def test_the_ground_floor_imports_no_pulumi_sdk_or_provider() -> None:
    for module, path in COMPONENT_MODULES.items():
        if _wing(module) != "ground":
            continue
        tree = TREES[path]
        roots = {
            alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
        }
        roots |= {(node.module or "").split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert not {name for name in roots if name.startswith("pulumi")}, module


def test_no_two_component_modules_import_each_other() -> None:
    graph = {
        module: {name for name in _imports(path) if name in COMPONENT_MODULES and name != module}
        for module, path in COMPONENT_MODULES.items()
    }
    # A cycle of any length, not only pairs: walk from every module.
    for start in graph:
        seen: set[str] = set()
        frontier = list(graph[start])
        while frontier:
            current = frontier.pop()
            assert current != start, f"{start} imports itself through {sorted(seen)}"
            if current not in seen:
                seen.add(current)
                frontier.extend(graph[current])


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: str(path.relative_to(ROOT)))
def test_no_file_edits_the_import_path(path: Path) -> None:
    for node in ast.walk(TREES[path]):
        if isinstance(node, ast.Attribute) and node.attr == "path" and getattr(node.value, "id", None) == "sys":
            raise AssertionError(f"{path.relative_to(ROOT)}:{node.lineno} touches sys.path")


@pytest.mark.parametrize("path", [*SOURCES, ROOT / "__main__.py"], ids=lambda path: str(path.relative_to(ROOT)))
def test_every_python_file_is_under_400_lines(path: Path) -> None:
    assert len(path.read_text().splitlines()) < MAX_LINES


def test_main_reads_as_a_table_of_contents() -> None:
    assert len((ROOT / "__main__.py").read_text().splitlines()) <= 120


@pytest.mark.parametrize("module", sorted(COMPONENT_MODULES))
def test_every_component_module_says_what_it_owns(module: str) -> None:
    docstring = ast.get_docstring(TREES[COMPONENT_MODULES[module]])
    assert docstring, f"{module} has no docstring"
    assert "Owns" in docstring or "owns" in docstring, f"{module}: the docstring says what it owns"
