"""Shared fixtures: the real program run under recording mocks, once per config."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "tools"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import render  # noqa: E402  (tools/ is put on the path above)

# Every shipped stack, from the stack files themselves.
STACKS = tuple(sorted(path.name[len("Pulumi.") : -len(".yaml")] for path in ROOT.glob("Pulumi.*.yaml")))
# A user's own public address and range, as tests give them (the shipped stacks
# set none, and config refuses the documentation ranges). Nothing contacts them.
OWN_ADDRESS = "81.2.69.7"
OWN_RANGE = "81.2.69.0/24"
_cache: dict[tuple[str, str], render.Capture] = {}


def program(stack: str, **overrides: Any) -> render.Capture:
    """The whole program for ``stack`` with config overrides (bare keys), cached."""
    # JSON text for structured keys, as tests write them, is what the stack file holds as YAML.
    config = {
        f"kubepar:{key}": json.loads(value) if isinstance(value, str) and value[:1] in "[{" and value else value
        for key, value in overrides.items()
    }
    key = (stack, json.dumps(config, sort_keys=True))
    if key not in _cache:
        _cache[key] = render.run_program(stack, config)
    return _cache[key]


@pytest.fixture
def run_program() -> Callable[..., render.Capture]:
    return program


def only(items: list[Any]) -> Any:
    assert len(items) == 1, f"expected exactly one, got {len(items)}"
    return items[0]


def containers(document: dict[str, Any]) -> list[dict[str, Any]]:
    spec = document["spec"]["template"]["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]
