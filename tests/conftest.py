"""Shared fixtures: the real program run under recording mocks, once per config."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml

from components.ground.project import PROJECT_ROOT, stack_names
from tools import harness

# pytest puts the project root on the path (tests/ is a package): components,
# tools and policies import as packages, with no path edits.
ROOT = PROJECT_ROOT
# Every shipped stack, from the stack files themselves.
STACKS = tuple(stack_names())
# A user's own public address and range, as tests give them (the shipped stacks
# set none, and config refuses the documentation ranges). Nothing contacts them.
OWN_ADDRESS = "81.2.69.7"
OWN_RANGE = "81.2.69.0/24"
_cache: dict[tuple[str, str], harness.Capture] = {}
_fingerprints: dict[tuple[str, str], str] = {}


def _fingerprint(capture: harness.Capture) -> str:
    text = json.dumps(dataclasses.asdict(capture), sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


def program(stack: str, **overrides: Any) -> harness.Capture:
    """The whole program for ``stack`` with config overrides (bare keys), cached."""
    # JSON text for structured keys, as tests write them, is what the stack file holds as YAML.
    config = {
        f"kubepar:{key}": json.loads(value) if isinstance(value, str) and value[:1] in "[{" and value else value
        for key, value in overrides.items()
    }
    key = (stack, json.dumps(config, sort_keys=True))
    if key not in _cache:
        _cache[key] = harness.run_program(stack, config)
        _fingerprints[key] = _fingerprint(_cache[key])
    return _cache[key]


@pytest.fixture(scope="session", autouse=True)
def renders_stay_as_rendered() -> Iterator[None]:
    """Fails the run when a test edited a render the cache shares with other tests (copy it first)."""
    yield
    edited = [key for key, capture in _cache.items() if _fingerprint(capture) != _fingerprints[key]]
    assert edited == [], f"tests edited these shared renders in place (copy.deepcopy them first): {edited}"


@pytest.fixture
def run_program() -> Callable[..., harness.Capture]:
    return program


def stack_config(stack: str) -> dict[str, Any]:
    """The stack file's config, as written."""
    return dict(yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"])


def only(items: list[Any]) -> Any:
    assert len(items) == 1, f"expected exactly one, got {len(items)}"
    return items[0]


def containers(document: dict[str, Any]) -> list[dict[str, Any]]:
    spec = document["spec"]["template"]["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]
