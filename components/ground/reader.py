"""The reader: raw config values in, problems collected, never raised one at a time.

Owns: reading a key's text (or its ``Pulumi.yaml`` default), typed readers
(whole numbers, booleans, choices, lists, address ranges) that record a
problem naming the key and the fix, and warnings. Does not: know what a key
means beyond its form.
Invariant: a reader method never raises for bad input; it records a problem
and returns a fallback, so every problem is reported at once.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from components.ground import cidrs
from components.ground.project import DEFAULTS, PROJECT

INTEGER = re.compile(r"-?[0-9]{1,9}")


class ConfigError(Exception):
    """Every config problem found, one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


T = TypeVar("T")


class Reader:
    """Reads raw string values and collects problems instead of raising."""

    def __init__(self, raw: Mapping[str, str | None]) -> None:
        self.raw = raw
        self.problems: list[str] = []
        self.warnings: list[str] = []

    def fail(self, key: str, message: str) -> None:
        self.problems.append(f"{PROJECT}:{key}: {message}")

    def warn(self, key: str, message: str) -> None:
        """Valid, but costs or risks more than the user may expect: shown at every preview."""
        self.warnings.append(f"{PROJECT}:{key}: {message}")

    def failed(self, *keys: str) -> bool:
        """Whether any of these keys already has a problem (so checks built on it are moot)."""
        return any(p.startswith(f"{PROJECT}:{key}:") for p in self.problems for key in keys)

    def text(self, key: str) -> str:
        value = self.raw.get(key)
        text = DEFAULTS.get(key, "") if value is None else str(value)
        if text != text.strip():
            # A YAML block scalar ends in a newline; a pasted value may carry spaces.
            self.fail(key, f"{text!r} has surrounding whitespace or a newline; write the value alone")
            return text.strip()
        return text

    def parsed(self, key: str, parse: Callable[[str], T], fix: str, fallback: T) -> T:
        value = self.text(key)
        try:
            return parse(value)
        except ValueError as error:
            self.fail(key, f"{value!r} is not valid ({error}); {fix}")
            return fallback

    def integer(self, key: str, low: int, high: int, fix: str) -> int:
        number = self.bounded(key, self.text(key), low, high, fix)
        return low if number is None else number

    def boolean(self, key: str) -> bool:
        value = self.text(key).lower()
        if value not in ("true", "false"):
            self.fail(key, f"{self.text(key)!r} is not true or false")
            return True
        return value == "true"

    def choice(self, key: str, choices: tuple[str, ...]) -> str:
        value = self.text(key)
        if value not in choices:
            self.fail(key, f"{value!r} is not one of {', '.join(choices)}")
            return choices[0]
        return value

    def _structured(self, key: str, kind: type, empty: Any, fix: str) -> Any:
        """A structured key's value (JSON from the CLI, or already parsed) of ``kind``, ``empty`` when
        unset, or None after a problem."""
        value = self.raw.get(key)
        if value is None or value == "":
            return empty
        try:
            parsed = json.loads(value) if isinstance(value, str) else value
        except json.JSONDecodeError:
            parsed = None
        if not isinstance(parsed, kind):
            self.fail(
                key, f"{value!r} is not a {'list' if kind is list else 'mapping'}; set it in the stack file {fix}"
            )
            return None
        return parsed

    def items(self, key: str, of: str) -> list[Any] | None:
        """A structured key's list (JSON from the CLI, or already a list), or None after a problem."""
        items: list[Any] | None = self._structured(key, list, [], f"as a YAML list of {of}")
        return items

    def mapping(self, key: str, example: str) -> dict[str, Any] | None:
        """A structured key's mapping (JSON from the CLI, or already a mapping), or None after a problem."""
        entry: dict[str, Any] | None = self._structured(key, dict, {}, f"as {example}")
        return entry

    def string_list(self, key: str) -> list[str]:
        items = self.items(key, "strings")
        if items is None:
            return []
        if not all(isinstance(i, str) for i in items):
            self.fail(key, f"{self.raw.get(key)!r} is not a list of strings")
            return []
        return items

    def object_list(self, key: str) -> list[Any]:
        return self.items(key, "mappings") or []

    def unknown_fields(self, label: str, entry: dict[str, Any], keys: tuple[str, ...], what: str) -> None:
        """A problem per field of a structured entry that kubepar does not read, with the closest name."""
        for unknown in sorted(set(entry) - set(keys)):
            close = difflib.get_close_matches(str(unknown), keys, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]}?" if close else f"{what} takes {', '.join(keys)}"
            self.fail(f"{label}.{unknown}", f"not a {what} setting, so it would do nothing; {hint}")

    def quantity(self, key: str, value: Any, parse: Callable[[str], str], example: str) -> str | None:
        """A field's Kubernetes quantity (a YAML number or string), or None after a problem."""
        text = str(value) if isinstance(value, int | float | str) and not isinstance(value, bool) else ""
        try:
            return str(parse(text))
        except ValueError as error:
            self.fail(key, f"{value!r} is not a quantity ({error}); use one such as {example}")
            return None

    def bounded(self, key: str, value: Any, low: int, high: int, fix: str) -> int | None:
        """A whole number given as a YAML number or string, bounded before conversion."""
        text = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else ""
        if not INTEGER.fullmatch(text):
            # Bounded before int(): a number of thousands of digits is refused, not converted.
            shown = text if len(text) <= 40 else f"{text[:20]}... ({len(text)} characters)"
            self.fail(key, f"{shown or value!r} is not a whole number in {low}..{high}; {fix}")
            return None
        number = int(text)
        if not low <= number <= high:
            self.fail(key, f"{number} is outside {low}..{high}; {fix}")
            return None
        return number

    def cidrs(self, key: str, purpose: str) -> tuple[str, ...]:
        good: list[str] = []
        for item in self.string_list(key):
            ipv6 = ":" in item
            own = OWN_IPV6 if ipv6 else OWN_IPV4
            if item != item.strip():
                self.fail(key, f"{item!r} has surrounding whitespace or a newline; write the range alone")
                continue
            try:
                network = ipaddress.ip_network(item, strict=True)
            except ValueError as error:
                # No example address: every documentation range is itself refused (cidrs.py).
                example = "ADDRESS/PREFIX, one address with /128" if ipv6 else "ADDRESS/PREFIX, one address with /32"
                self.fail(key, f"{item!r} is not a CIDR block ({error}); write it like {example}; {own}")
                continue
            routed = cidrs.as_routed(network)
            if routed.prefixlen == 0:
                self.fail(
                    key,
                    f"{item!r} would open {purpose} to the whole internet; list only your own addresses ({own})",
                )
                continue
            if cidrs.documentation(network):
                # The shipped examples' addresses: nobody connects from them, so
                # the stack would be built and then unreachable.
                self.fail(
                    key,
                    f"{item!r} lies in a range reserved for documentation examples, which no real "
                    f"connection comes from; put your own address there instead ({own})",
                )
                continue
            good.append(str(network))
        networks, _ = cidrs.parse(good)
        problem = cidrs.too_open(networks)
        if problem:
            self.fail(
                key,
                f"{', '.join(good)}: {problem}, would open {purpose} far beyond your own addresses; "
                f"list only your own ({OWN_IPV4})",
            )
            return ()
        return tuple(good)


OWN_IPV4 = "find yours with `curl -4 ifconfig.me`, then add /32"
OWN_IPV6 = "find yours with `curl -6 ifconfig.me`, then add /128"
