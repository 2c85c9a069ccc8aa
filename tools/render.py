"""The offline render: the real program under Pulumi's mock engine, written as YAML.

Writes ``build/render/<stack>/{kubernetes,gcp,outputs}.yaml`` after the CLI's
config rules and kubepar's own checks; values that are Pulumi secrets are
written as ``[secret]``. Talks to no cloud or cluster. The work is in
tools/harness/; this is its command line.

Usage (from the project root): python -m tools.render STACK [--out DIR] [--set KEY=VALUE ...]
(or SET='KEY=VALUE ...' in the environment, as `make render SET=...` passes it: tools/settings.py reads both)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import pulumi

from components.ground.project import PROJECT_ROOT
from tools import settings
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
        help="override a config value, e.g. workers=8 or kubepar:workers=8 (lists as JSON)",
    )
    args = parser.parse_args(argv)
    overrides: dict[str, Any] = {}
    try:
        overrides.update(settings.from_environment())
        for item in args.set:
            overrides.update(settings.parse(item))
        settings.check_keys(overrides)
    except settings.SettingsError as error:
        print(f"render: {error}", file=sys.stderr)
        return 2
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
