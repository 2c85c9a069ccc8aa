"""The offline render: the real program under Pulumi's mock engine, written as YAML.

Writes ``build/render/<stack>/{kubernetes,gcp,outputs}.yaml`` after the CLI's
config rules and kubepar's own checks; values that are Pulumi secrets are
written as ``[secret]``. Talks to no cloud or cluster. The work is in
tools/harness/; this is its command line.

Usage (from the project root): python -m tools.render STACK [--out DIR] [--set kubepar:KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import pulumi

from components.ground.project import PROJECT_ROOT
from tools.harness import CliConfigError, run_program, write_render


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stack", help="stack name: local, dev, prod, or any Pulumi.<stack>.yaml")
    parser.add_argument("--out", type=Path, help="output folder (default build/render/<stack>)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. kubepar:workers=8 (lists as JSON)",
    )
    args = parser.parse_args(argv)
    overrides: dict[str, Any] = {}
    for item in args.set:
        key, separator, value = item.partition("=")
        if not separator:
            print(f"render: --set {item!r}: expected KEY=VALUE", file=sys.stderr)
            return 2
        overrides[key] = json.loads(value) if value.startswith("[") else value
    if not (PROJECT_ROOT / f"Pulumi.{args.stack}.yaml").exists():
        print(f"render: no Pulumi.{args.stack}.yaml in {PROJECT_ROOT}", file=sys.stderr)
        return 2
    try:
        capture = run_program(args.stack, overrides)
    except CliConfigError as error:
        print(f"render: error: {error}", file=sys.stderr)
        return 2
    except pulumi.RunError as error:
        print(f"render: stack {args.stack}: {error}", file=sys.stderr)
        return 2
    for path in write_render(capture, args.out or PROJECT_ROOT / "build" / "render" / args.stack):
        print(path.relative_to(PROJECT_ROOT) if path.is_relative_to(PROJECT_ROOT) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
