"""What kubepar says to a user names what the user can type: make targets, and examples it accepts itself."""

from __future__ import annotations

import ast
import ipaddress
import re
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.test_config import problems

# Where user-facing messages are written.
SOURCES = sorted([*(ROOT / "components").rglob("*.py"), ROOT / "tools" / "stack.py", ROOT / "tools" / "settings.py"])
BARE_PULUMI = re.compile(r"`pulumi (config|stack|up|preview|destroy|refresh)\b")


def _message_texts(path: Path) -> list[str]:
    """String constants and f-string parts that are not docstrings (of modules, functions or attributes)."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_messages_name_make_targets_not_bare_pulumi_commands(path: Path) -> None:
    # A bare `pulumi up` looks for the stack in another backend and skips the guardrails.
    named = [text for text in _message_texts(path) if BARE_PULUMI.search(text)]
    assert named == []


@pytest.mark.parametrize("entry", ["10.0.0.0/33", "81.2.69.300/32", "2001:db8::/129", "not-a-range"])
def test_a_cidr_message_gives_no_example_the_same_key_refuses(entry: str) -> None:
    (problem,) = [p for p in problems(allowedSourceRanges=f'["{entry}"]') if "allowedSourceRanges" in p]
    for candidate in re.findall(r"[0-9a-f.:]+/[0-9]+", problem.split(":", 2)[2]):
        if candidate.startswith(entry.split("/")[0]):
            continue  # the user's own entry, quoted back
        network = ipaddress.ip_network(candidate, strict=False)
        assert not [p for p in problems(allowedSourceRanges=f'["{network}"]') if "allowedSourceRanges" in p], (
            f"{problem!r} suggests {candidate}, which the same key refuses"
        )
