"""What a user types after SET= in `make config` and `make render`, read once, the same way for both.

Owns: splitting ``SET`` into settings (``workers=8 packages=["data.table", "ranger"]``,
``maintenanceWindow="TU,TH 20:00"``),
naming keys as the stack file does (``workers`` is ``kubepar:workers``;
``gcp:project`` stays), reading JSON lists and objects, and writing the
settings into a stack through the Pulumi CLI so that the stack file keeps
their types. Does not: validate values (the program does, at preview).
Invariant: a setting either reaches the stack as typed, or nothing is set and
one line says what to fix.

``make`` exports SET to the recipe unchanged, so quotes inside JSON survive;
the shell never re-reads it.

Usage: SET='workers=8' python -m tools.settings config --stack dev [--pulumi PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from typing import Any

from components.config import unknown_keys
from components.ground.project import PROJECT

_DECODER = json.JSONDecoder()


class SettingsError(ValueError):
    """A setting that cannot be read: the message says which and what to type instead."""


def full_key(key: str) -> str:
    """``workers`` -> ``kubepar:workers``; keys of other namespaces (``gcp:project``) as given."""
    return key if ":" in key else f"{PROJECT}:{key}"


def parse(text: str) -> dict[str, Any]:
    """``KEY=VALUE`` items separated by spaces; a value starting with ``[``, ``{`` or ``"`` is JSON (spaces allowed)."""
    settings: dict[str, Any] = {}
    position = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position == len(text):
            return settings
        equals = text.find("=", position)
        space = next((i for i in range(position, len(text)) if text[i].isspace()), len(text))
        if equals == -1 or equals > space:
            raise SettingsError(f'{text[position:space]!r} is not KEY=VALUE; for example SET="workers=8"')
        key = text[position:equals]
        start = equals + 1
        if text[start : start + 1] in ("[", "{", '"'):
            try:
                value, end = _DECODER.raw_decode(text, start)
            except json.JSONDecodeError as error:
                raise SettingsError(
                    f"{key}: {text[start:]!r} is not valid JSON ({error.msg}); write a list as "
                    f"{key}='[\"a\", \"b\"]' inside SET='...'"
                ) from None
            if end < len(text) and not text[end].isspace():
                raise SettingsError(f"{key}: unexpected {text[end:]!r} after its JSON value")
        else:
            end = next((i for i in range(start, len(text)) if text[i].isspace()), len(text))
            value = text[start:end]
        settings[full_key(key)] = value
        position = end


def check_keys(settings: dict[str, Any]) -> None:
    """Refuses keys kubepar does not read, naming the closest one."""
    problems = unknown_keys(list(settings))
    if problems:
        raise SettingsError(problems[0])


def _leaves(key: str, value: Any) -> list[tuple[str, Any]]:
    """(``--path`` key, scalar) for every leaf of a JSON value: ``kubepar:sweeps[0].tasks``."""
    if isinstance(value, dict):
        return [leaf for name, item in value.items() for leaf in _leaves(f"{key}.{name}", item)]
    if isinstance(value, list):
        return [leaf for index, item in enumerate(value) for leaf in _leaves(f"{key}[{index}]", item)]
    return [(key, value)]


def _typed(value: Any) -> tuple[str, list[str]]:
    """The CLI's text for a scalar, and the ``--type`` that keeps it a number or a boolean."""
    if isinstance(value, bool):
        return ("true" if value else "false"), ["--type", "bool"]
    if isinstance(value, int):
        return str(value), ["--type", "int"]
    if isinstance(value, float):
        return repr(value), ["--type", "float"]
    if value is None:
        raise SettingsError("null is not a value a stack file can hold; leave the key out instead")
    # With --path the CLI would read "2" (a CPU quantity) as a number.
    return str(value), ["--type", "string"]


def commands(settings: dict[str, Any], stack: str, pulumi: str = "pulumi") -> list[list[str]]:
    """The CLI commands that write ``settings`` into ``stack``, types kept.

    A list or an object replaces the old value whole: the key is removed, then
    set leaf by leaf with ``--path`` (the CLI has no JSON input for `config set`).
    ``--`` ends the options, so a value such as -1 is a value, not a flag.
    """
    out: list[list[str]] = []
    for key, value in settings.items():
        if isinstance(value, list | dict):
            out.append([pulumi, "config", "rm", "--stack", stack, "--path", key])
            for path, leaf in _leaves(key, value):
                text, typed = _typed(leaf)
                out.append([pulumi, "config", "set", "--stack", stack, "--path", *typed, "--", path, text])
        else:
            out.append([pulumi, "config", "set", "--stack", stack, "--", key, str(value)])
    return out


def from_environment() -> dict[str, Any]:
    """The settings in ``SET`` (as make exports it), keys checked."""
    settings = parse(os.environ.get("SET", ""))
    check_keys(settings)
    return settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["config"])
    parser.add_argument("--stack", required=True)
    parser.add_argument("--pulumi", default="pulumi")
    args = parser.parse_args(argv)
    try:
        settings = from_environment()
        if not settings:
            raise SettingsError('nothing to set; for example make config STACK=dev SET="workers=8"')
        planned = commands(settings, args.stack, args.pulumi)
    except SettingsError as error:
        print(f"make config: {error}", file=sys.stderr)
        return 2
    for command in planned:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        # Removing a list that was not set yet is no failure.
        if done.returncode != 0 and not (command[2] == "rm" and "not found" in done.stderr):
            said = done.stderr.strip() or done.stdout.strip()
            print(f"make config: {' '.join(command[1:])}: {said}", file=sys.stderr)
            return 1
    for key, value in settings.items():
        print(f"{key} = {json.dumps(value) if isinstance(value, list | dict) else value}")
    print(f"now: make preview STACK={args.stack}, then make up STACK={args.stack}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
