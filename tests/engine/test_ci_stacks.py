"""How CI creates and finds its stacks, with the real CLI: no committed salt, one backend.

CI's first run creates the stack in its backend (pulumi/actions' upsert, the
passphrase secrets provider); every checkout after it, CI's or a laptop's,
has a stack file without the encryption salt. With
PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER (set by the workflows and the
Makefile) it takes the secrets manager the stack's state records, so the
stack keeps one salt whoever runs it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pulumi
import yaml
from pulumi import automation as auto

from tests.conftest import ROOT
from tools import stack as engine_stack


def _program() -> None:
    pulumi.export("password", pulumi.Output.secret("kept-across-checkouts"))


def _checkout(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    shutil.copy(ROOT / "Pulumi.yaml", folder / "Pulumi.yaml")
    # As committed: config only, no encryptionsalt.
    (folder / "Pulumi.ci.yaml").write_text(yaml.safe_dump({"config": {"kubepar:platform": "existing"}}))
    return folder


def _stack(folder: Path, state: Path) -> auto.Stack:
    env = {**engine_stack.engine_env(state, None), "PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER": "true"}
    (state / ".tmp").mkdir(parents=True, exist_ok=True)
    command = auto.PulumiCommand(root=str(engine_stack.ENGINE_BIN.parent), skip_version_check=True)
    options = auto.LocalWorkspaceOptions(
        work_dir=str(folder), pulumi_command=command, env_vars=env, secrets_provider="passphrase"
    )
    return auto.create_or_select_stack("ci", project_name="kubepar", program=_program, opts=options)


def _salt(folder: Path) -> str:
    return str(yaml.safe_load((folder / "Pulumi.ci.yaml").read_text()).get("encryptionsalt"))


def test_a_second_checkout_without_the_salt_uses_the_stacks_own_secrets_manager(tmp_path: Path, state: Path) -> None:
    first = _checkout(tmp_path, "first")
    _stack(first, state).up(color="never")  # the first run: upsert creates the stack
    second = _checkout(tmp_path, "second")
    stack = _stack(second, state)
    stack.preview(color="never")
    assert stack.outputs()["password"].value == "kept-across-checkouts"
    # The second checkout adopted the state's secrets manager, not a new salt of its own.
    assert _salt(second) == _salt(first) != "None"
    stack.workspace.remove_stack("ci", force=True)
