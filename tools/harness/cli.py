"""The Pulumi CLI's own config rules, applied before the program runs, in the CLI's words.

Owns: stack config as `pulumi up` would pass it (the stack file, then
``Pulumi.yaml``'s declared types, defaults and secrets), and refusing what
the CLI refuses with its message (tests/engine compares them with the real
CLI). Does not: validate values the way kubepar does (components/config/).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import yaml

from components.ground.project import PROJECT_ROOT, project_file


def _config_value(value: Any) -> tuple[str, bool]:
    """A stack-file value as the CLI passes it: strings, lists as JSON; secure values secret."""
    if isinstance(value, dict) and set(value) == {"secure"}:
        # Cannot be decrypted offline: a stand-in long enough to pass validation.
        return "offline-render-secret-placeholder", True
    if isinstance(value, dict) and set(value) == {"secret"}:
        # Tests pass a plain value that the program must treat as a secret.
        return str(value["secret"]), True
    if isinstance(value, bool):
        return ("true" if value else "false"), False
    if isinstance(value, (list, dict)):
        return json.dumps(value), False
    return str(value), False


class CliConfigError(Exception):
    """What the Pulumi CLI says when it refuses a stack's config, before the program runs."""


def _is_secure(value: Any) -> bool:
    return isinstance(value, dict) and set(value) in ({"secure"}, {"secret"})


def _cli_text(value: Any) -> Any:
    """A stack value as the CLI's type check sees it: scalars as their text, structures as data."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return value
    return str(value)


def _of_type(type_name: str, items: Mapping[str, Any] | None, value: Any) -> bool:
    """The CLI's ValidateConfigValue (pulumi/pulumi sdk/go/common/workspace/project.go)."""
    if type_name == "string":
        return isinstance(value, str)
    if type_name == "integer":
        if isinstance(value, bool):
            return False
        if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
            return True
        return isinstance(value, str) and re.fullmatch(r"[+-]?[0-9]+", value) is not None
    if type_name == "boolean":
        return isinstance(value, bool) or value in ("true", "false")
    if type_name == "object":
        return isinstance(value, dict)
    if not isinstance(value, list) or not items:
        return False
    return all(_of_type(items["type"], items.get("items"), item) for item in value)


def _full_type_name(type_name: str, items: Mapping[str, Any] | None) -> str:
    return f"array<{_full_type_name(items['type'], items.get('items'))}>" if items else type_name


def _quoted_keys(keys: list[str]) -> str:
    """'a', 'b' and 'c', as the CLI lists missing keys."""
    quoted = [f"'{key}'" for key in sorted(keys)]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} and {quoted[-1]}"


def apply_project_config(project: Mapping[str, Any], stack: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """The CLI's project-config rules, applied before any program runs; returns the merged values.

    As pulumi/pulumi ``pkg/workspace/config.go`` (mergeConfig,
    validateStackConfigValue) and ``Project.Validate``: a declared key of the
    project with neither ``default`` nor ``value`` is required; stack values
    of typed keys must be of their type; a ``secret: true`` key must be
    stored encrypted. Raises :class:`CliConfigError` with the CLI's wording.
    """
    name = project["name"]
    declared: dict[str, tuple[str, dict[str, Any]]] = {
        (bare if ":" in bare else f"{name}:{bare}"): (bare, spec or {})
        for bare, spec in (project.get("config") or {}).items()
    }
    for bare, spec in declared.values():
        if "default" in spec and "value" in spec:
            raise CliConfigError(f"project config '{bare}' cannot have both a 'default' and 'value' attribute")
        if spec.get("type") == "array" and "items" not in spec:
            raise CliConfigError(
                f"The configuration key '{bare}' declares an array but does not specify the underlying type "
                "via the 'items' attribute"
            )
        default = spec.get("default")
        if "type" in spec and default is not None and not _of_type(spec["type"], spec.get("items"), default):
            raise CliConfigError(
                f"The default value specified for configuration key '{bare}' is not of the expected type "
                f"'{_full_type_name(spec['type'], spec.get('items'))}'"
            )
    merged = dict(values)
    missing = []
    for full, (bare, spec) in sorted(declared.items(), key=lambda item: item[1][0]):
        if full in merged:
            continue
        # YAML `default: null` is no default at all to the CLI.
        given = spec.get("value") if spec.get("value") is not None else spec.get("default")
        if given is None:
            if full.startswith(f"{name}:"):
                missing.append(bare)
            continue
        merged[full] = given
    if missing:
        plural = "value" if len(missing) == 1 else "values"
        raise CliConfigError(f"Stack '{stack}' is missing configuration {plural} {_quoted_keys(missing)}")
    for full, (bare, spec) in sorted(declared.items(), key=lambda item: item[1][0]):
        if "type" not in spec:
            continue
        value = merged.get(full)
        if spec.get("secret") and not _is_secure(value):
            raise CliConfigError(f"Stack '{stack}' with configuration key '{bare}' must be encrypted as it's secret")
        if isinstance(value, dict) and _is_secure(value):
            if "secret" not in value:
                continue  # encrypted: the CLI checks the decrypted text, which offline cannot be had
            value = value["secret"]
        if not _of_type(spec["type"], spec.get("items"), _cli_text(value)):
            raise CliConfigError(
                f"Stack '{stack}' with configuration key '{bare}' must be of type "
                f"'{_full_type_name(spec['type'], spec.get('items'))}'"
            )
    return merged


def stack_config(stack: str, overrides: Mapping[str, Any] | None = None) -> tuple[dict[str, str], list[str]]:
    """Config as `pulumi up` would pass it: the stack file and overrides, then the CLI's project rules.

    Raises :class:`CliConfigError` where the CLI would refuse the stack before the program runs.
    """
    values: dict[str, Any] = {}
    stack_file = PROJECT_ROOT / f"Pulumi.{stack}.yaml"
    if stack_file.exists():
        values.update((yaml.safe_load(stack_file.read_text()) or {}).get("config") or {})
    values.update(overrides or {})
    values = apply_project_config(project_file(), stack, {k: v for k, v in values.items() if v is not None})
    config: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in values.items():
        if value is None:
            continue
        text, secret = _config_value(value)
        config[key] = text
        if secret:
            secret_keys.append(key)
    return config, secret_keys
