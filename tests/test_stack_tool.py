"""`make up|preview|destroy STACK=kwok` (tools/stack.py): what stops it is one sentence with its fix.

The checks run before the CLI does, so a config error is said once, by
kubepar, with no traceback and no second copy from the CLI's output.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest
from pulumi import automation as auto

from tools import stack as engine_stack


class _Stack:
    def __init__(self, config: dict[str, str]) -> None:
        # As the CLI lists them: every declared key, "" where the stack sets nothing.
        self.config = {key: auto.ConfigValue(value=value) for key, value in config.items()}

    def get_all_config(self) -> dict[str, auto.ConfigValue]:
        return self.config

    def set_config(self, key: str, value: auto.ConfigValue) -> None:
        self.config[key] = value


@pytest.mark.parametrize(
    ("overrides", "said", "fix"),
    [
        ({"kubepar:workers": "two"}, "configuration key 'workers' must be of type 'integer'", 'SET="workers=2"'),
        ({"kubepar:spot": "maybe"}, "must be of type 'boolean'", "true or false"),
        ({"kubepar:workers": "-1"}, "kubepar:workers:", None),
        ({"kubepar:wokers": "3"}, "did you mean kubepar:workers?", None),
    ],
)
def test_a_config_error_is_one_message_with_its_fix(overrides: dict[str, str], said: str, fix: str | None) -> None:
    with pytest.raises(engine_stack.RefusedError) as refused:
        engine_stack._check_on_render("kwok", overrides)
    message = str(refused.value)
    assert said in message
    assert "Traceback" not in message
    if fix is not None:
        assert fix in message and "make config STACK=kwok" in message


def test_the_shipped_kwok_stack_passes_the_render_checks(capsys: pytest.CaptureFixture[str]) -> None:
    engine_stack._check_on_render("kwok")
    assert "no mandatory violation" in capsys.readouterr().out


def test_no_cluster_and_no_password_each_name_the_command_that_fixes_them(tmp_path: Path) -> None:
    missing = tmp_path / "kubeconfig"
    bare, with_password = cast(Any, _Stack({"kubepar:password": ""})), cast(Any, _Stack({"kubepar:password": "x"}))
    with pytest.raises(engine_stack.RefusedError, match="make cluster"):
        engine_stack._check_prerequisites("kwok", bare, "up", kubeconfig=missing)
    missing.write_text("")
    with pytest.raises(engine_stack.RefusedError, match="make config-secret STACK=kwok KEY=password"):
        engine_stack._check_prerequisites("kwok", bare, "up", kubeconfig=missing)
    # With a password, and for destroy (which needs none), nothing stops it.
    engine_stack._check_prerequisites("kwok", with_password, "up", kubeconfig=missing)
    engine_stack._check_prerequisites("kwok", bare, "destroy", kubeconfig=missing)


@pytest.mark.parametrize(
    ("stack", "config", "key", "length"),
    [
        # The hub's keys derive from the seed; a hub stack needs no login password.
        (
            "kwok-hub",
            {"kubepar:engine": "hub", "kubepar:password": "", "kubepar:hubSecretSeed": ""},
            "hubSecretSeed",
            64,
        ),
        (
            "kwok",
            {"kubepar:rBackend": "redis", "kubepar:password": "x", "kubepar:queuePassword": ""},
            "queuePassword",
            32,
        ),
    ],
)
def test_a_kwok_stack_gets_the_secret_it_needs_once(
    tmp_path: Path, stack: str, config: dict[str, str], key: str, length: int
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("")
    selected = _Stack(config)
    engine_stack._check_prerequisites(stack, cast(Any, selected), "up", kubeconfig=kubeconfig)
    made = selected.config[f"kubepar:{key}"]
    assert made.secret and len(made.value) == length and made.value.isalnum()
    engine_stack._check_prerequisites(stack, cast(Any, selected), "up", kubeconfig=kubeconfig)
    assert selected.config[f"kubepar:{key}"] is made  # kept: the keys and the server's password stay the same


def test_a_kwok_stack_without_the_queue_gets_no_queue_password(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("")
    plain = _Stack({"kubepar:rBackend": "psock", "kubepar:password": "x", "kubepar:queuePassword": ""})
    engine_stack._check_prerequisites("kwok", cast(Any, plain), "up", kubeconfig=kubeconfig)
    assert plain.config["kubepar:queuePassword"].value == ""


def test_the_clis_own_error_lines_are_said_once() -> None:
    from pulumi.automation import CommandError
    from pulumi.automation._cmd import CommandResult

    result = CommandResult(
        stdout="Previewing update (kwok):\nerror: update failed\n",
        stderr="error: update failed\n",
        code=255,
    )
    assert engine_stack._cli_error(CommandError(result)) == "error: update failed"


def test_a_locked_stack_names_make_recover() -> None:
    from pulumi.automation import CommandError
    from pulumi.automation._cmd import CommandResult

    locked = CommandResult(stdout="", stderr="error: the stack is currently locked by 1 lock(s)\n", code=255)
    assert "make recover" in engine_stack._cli_error(CommandError(locked))
    other = CommandResult(stdout="", stderr="error: update failed\n", code=255)
    assert "make recover" not in engine_stack._cli_error(CommandError(other))
