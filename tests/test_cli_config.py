"""The Pulumi CLI's own project-config rules, which stop a stack before the program runs.

The render applies them (tools/render.py ``apply_project_config``) as the
CLI does (pulumi/pulumi ``pkg/workspace/config.go``): a declared key with
neither default nor value is required; typed keys are type-checked; a
``secret: true`` key must be stored encrypted. The wording is the CLI's.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
import yaml

from components.ground.project import project_file
from tests.conftest import ROOT, STACKS
from tools import harness

PROJECT = project_file()


def stack_values(stack: str) -> dict[str, Any]:
    return dict((yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text()) or {}).get("config") or {})


def refusal(project: dict[str, Any], values: dict[str, Any], stack: str = "dev") -> str:
    with pytest.raises(harness.CliConfigError) as caught:
        harness.apply_project_config(project, stack, values)
    return str(caught.value)


def with_keys(**keys: dict[str, Any]) -> dict[str, Any]:
    return {"name": "kubepar", "config": keys}


@pytest.mark.parametrize("stack", STACKS)
def test_every_shipped_stack_passes_the_clis_rules(stack: str) -> None:
    merged = harness.apply_project_config(PROJECT, stack, stack_values(stack))
    # Every key kubepar reads reaches the program, from the stack or its default.
    assert {f"kubepar:{key}" for key in PROJECT["config"]} <= set(merged)


def test_every_declared_key_has_a_default_so_no_stack_must_set_it() -> None:
    assert [key for key, spec in PROJECT["config"].items() if spec.get("default") is None] == []


def test_a_stack_of_only_its_name_passes() -> None:
    values = harness.apply_project_config(PROJECT, "fresh", {})
    # Every declared key, at its default, as the CLI passes it to the program.
    assert set(values) == {f"kubepar:{key}" for key in PROJECT["config"]}
    assert values["kubepar:deletionProtection"] is True and values["kubepar:allowedSourceRanges"] == []


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        (["password"], "Stack 'dev' is missing configuration value 'password'"),
        (
            ["workerPoolMaxNodes", "password"],
            "Stack 'dev' is missing configuration values 'password' and 'workerPoolMaxNodes'",
        ),
        (["c", "a", "b"], "Stack 'dev' is missing configuration values 'a', 'b' and 'c'"),
    ],
)  # fmt: skip
def test_a_typed_key_without_a_default_is_required(missing: list[str], message: str) -> None:
    project = with_keys(**{key: {"type": "string", "description": "no default"} for key in missing})
    assert refusal(project, {}) == message


def test_a_null_default_is_no_default_and_another_projects_key_is_never_required() -> None:
    assert (
        refusal(with_keys(x={"type": "integer", "default": None}), {})
        == "Stack 'dev' is missing configuration value 'x'"
    )
    harness.apply_project_config(with_keys(**{"gcp:project": {"value": "p"}}), "dev", {})


@pytest.mark.parametrize(
    ("spec", "value", "type_name"),
    [
        ({"type": "integer", "default": 2}, "two", "integer"),
        ({"type": "integer", "default": 2}, "2.5", "integer"),
        ({"type": "boolean", "default": True}, "yes", "boolean"),
        ({"type": "string", "default": ""}, ["a"], "string"),
        ({"type": "array", "items": {"type": "string"}, "default": []}, "data.table", "array<string>"),
        ({"type": "array", "items": {"type": "string"}, "default": []}, [1, 2], "array<string>"),
        ({"type": "array", "items": {"type": "object"}, "default": []}, ["sim"], "array<object>"),
    ],
)
def test_a_stack_value_of_the_wrong_type_is_refused(spec: dict[str, Any], value: Any, type_name: str) -> None:
    message = refusal(with_keys(key=spec), {"kubepar:key": value})
    assert message == f"Stack 'dev' with configuration key 'key' must be of type '{type_name}'"


@pytest.mark.parametrize(
    ("spec", "value"),
    [
        ({"type": "integer", "default": 2}, 7),
        ({"type": "integer", "default": 2}, "7"),
        ({"type": "boolean", "default": True}, False),
        ({"type": "string", "default": ""}, 4),  # YAML 4 reaches the CLI as the text "4"
        ({"type": "array", "items": {"type": "object"}, "default": []}, [{"name": "sim"}]),
    ],
)
def test_values_the_cli_accepts_pass(spec: dict[str, Any], value: Any) -> None:
    assert harness.apply_project_config(with_keys(key=spec), "dev", {"kubepar:key": value})["kubepar:key"] == value


def test_a_secret_key_given_in_plain_text_is_refused() -> None:
    project = with_keys(token={"type": "string", "secret": True})
    assert refusal(project, {"kubepar:token": "hunter2hunter2"}) == (
        "Stack 'dev' with configuration key 'token' must be encrypted as it's secret"
    )
    harness.apply_project_config(project, "dev", {"kubepar:token": {"secure": "v1:abc"}})


def test_a_secret_key_with_an_empty_default_is_refused_so_kubepar_checks_its_password_itself() -> None:
    # Why kubepar:password is not `secret: true`: the default would be plain text.
    project = with_keys(password={"type": "string", "secret": True, "default": ""})
    assert refusal(project, {}) == "Stack 'dev' with configuration key 'password' must be encrypted as it's secret"
    assert "secret" not in PROJECT["config"]["password"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"type": "integer", "default": "x"},
            "The default value specified for configuration key 'k' is not of the expected type 'integer'",
        ),
        (
            {"type": "array", "default": []},
            "The configuration key 'k' declares an array but does not specify the underlying type "
            "via the 'items' attribute",
        ),
        ({"default": 1, "value": 2}, "project config 'k' cannot have both a 'default' and 'value' attribute"),
    ],
)  # fmt: skip
def test_a_malformed_declaration_stops_every_stack(spec: dict[str, Any], message: str) -> None:
    assert refusal(with_keys(k=spec), {}) == message


def test_the_render_cli_reports_the_clis_refusal_without_a_traceback() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tools.render", "local", "--set", "kubepar:workers=many"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "render: error: Stack 'local' with configuration key 'workers' must be of type 'integer'"
    )
    assert "Traceback" not in result.stderr
