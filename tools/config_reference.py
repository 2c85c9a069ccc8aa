"""The configuration reference, generated from Pulumi.yaml (the one place keys are declared).

Usage (from the project root): python -m tools.config_reference [--write docs/configuration.md]
Without --write it prints the page; tests/test_docs.py fails when the page differs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from components.ground.project import LIST_KEYS, declared_keys

HEADER = """# Configuration reference

Generated from `Pulumi.yaml` by `make docs`; do not edit by hand. Set a key
for one stack with `make config STACK=dev SET="workers=8"` (or in
`Pulumi.<stack>.yaml`), then `make up STACK=dev`. Structured keys ({lists}) are YAML
lists or mappings in the stack file. The password is the one secret: set it with
`make config-secret KEY=password` (kubepar refuses it in plain text).

| key | type | default | what it does |
| --- | --- | --- | --- |
"""


def _type(spec: dict[str, Any]) -> str:
    items = spec.get("items")
    return f"list of {items['type']}s" if spec.get("type") == "array" and items else str(spec.get("type", ""))


def _default(value: Any) -> str:
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if value == "" or value == []:
        return "(empty)"
    return f"`{json.dumps(value) if isinstance(value, (list, dict)) else value}`"


def _cell(text: str) -> str:
    """One table cell: one line, with the table's own separator escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def page() -> str:
    declared = declared_keys()
    rows = [
        f"| `{key}` | {_type(spec)} | {_default(spec.get('default'))} | {_cell(spec['description'])} |"
        for key, spec in declared.items()
    ]
    lists = ", ".join(f"`{key}`" for key in LIST_KEYS)
    return HEADER.format(lists=lists) + "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, help="write the page here instead of printing it")
    args = parser.parse_args(argv)
    text = page()
    if args.write:
        args.write.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
