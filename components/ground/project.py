"""The one parser of ``Pulumi.yaml``: the project's name, its declared keys and their defaults.

Owns: reading the project file once, and the facts derived from it (defaults
as the CLI passes them, which keys are lists). Does not: validate values
(config/) or apply the CLI's own rules (tools/harness/cli.py).
Invariant: a key's default and type are written once, in ``Pulumi.yaml``.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import yaml

PROJECT = "kubepar"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
PROJECT_FILE = PROJECT_ROOT / "Pulumi.yaml"


@functools.cache
def _document() -> dict[str, Any]:
    return dict(yaml.safe_load(PROJECT_FILE.read_text()))


def project_file() -> dict[str, Any]:
    """The parsed ``Pulumi.yaml`` (a copy: callers may change it)."""
    return json.loads(json.dumps(_document()))


def declared_keys() -> dict[str, dict[str, Any]]:
    """Every ``config`` key the project declares, with its spec (type, default, description)."""
    return {key: dict(spec) for key, spec in (_document().get("config") or {}).items() if isinstance(spec, dict)}


def _as_cli_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        # As the CLI passes structured values: JSON text.
        return json.dumps(value)
    return str(value)


DEFAULTS: dict[str, str] = {
    key: _as_cli_text(spec["default"]) for key, spec in declared_keys().items() if "default" in spec
}
"""Defaults of the declared keys, as the text the CLI passes for them."""

STRUCTURED = ("array", "object")
LIST_KEYS: tuple[str, ...] = tuple(key for key, spec in declared_keys().items() if spec.get("type") in STRUCTURED)
"""Structured keys: YAML lists or mappings in the stack file, JSON text from the CLI."""


def stack_names() -> list[str]:
    """The shipped stacks: one ``Pulumi.<stack>.yaml`` each."""
    return sorted(path.name[len("Pulumi.") : -len(".yaml")] for path in PROJECT_ROOT.glob("Pulumi.*.yaml"))
