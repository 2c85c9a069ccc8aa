"""Run the real program under the real Pulumi CLI, through Pulumi's Automation API.

Owns: a stack of the project in ``work_dir`` (its Pulumi.yaml and
Pulumi.<stack>.yaml, as the CLI reads them) on a file backend, run by the CLI
in build/engine/bin (or the one on PATH) with the plugins beside it and no
plugin downloads. The program is the project's own __main__.py, run by the
Python SDK's in-process language server (an Automation API inline program):
the CLI built here has no Python language host, because the module proxy does
not serve it (docs/engine.md). Does not: run the policy pack through the CLI
(policy packs need that language host); `preview`/`up` first check the pack
against the render of the same config instead, and say so.
``Isolated`` runs each program in a process of its own, for callers (the
engine tests) that run the engine many times in one process.

Usage (from the project root): python -m tools.stack preview|up|destroy [--stack kwok] [--yes] [--expect-no-changes]
``check`` runs only the checks on the render (config, then the policy pack): `make up|preview`
of every stack runs it first, so a config error is said once, by kubepar, with its fix.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import runpy
import secrets
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pulumi
from pulumi import automation as auto
from pulumi_policy import EnforcementLevel

from components.ground.project import PROJECT, PROJECT_ROOT
from tools import harness
from tools.harness.pack import violations

ROOT = PROJECT_ROOT
ENGINE_BIN = ROOT / "build" / "engine" / "bin"
KUBECONFIG = ROOT / "build" / "cluster" / "kubeconfig"


def file_backend(state: Path) -> str:
    """The backend URL of a state folder, without the blob library's sidecar files.

    gocloud's fileblob writes a ``<checkpoint>.attrs`` file beside each blob by
    truncating and rewriting it in place, and reads it on every read. The
    program's StackReference to its own stack (components/config/previous.py)
    reads the checkpoint while the engine saves it, so it can decode an empty
    sidecar and fail the ``up`` ("failed to load checkpoint: EOF").
    ``metadata=skip`` writes no sidecar; the checkpoint itself is replaced by
    rename, atomically.
    """
    return f"file://{state}?metadata=skip"


def engine_env(state: Path, kubeconfig: Path | None = KUBECONFIG) -> dict[str, str]:
    """The CLI's environment: the built engine first on PATH, a file backend, no downloads or update checks."""
    env = {
        "PATH": f"{ENGINE_BIN}:{os.environ.get('PATH', '')}",
        "PULUMI_BACKEND_URL": file_backend(state),
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_HOME": str(state / ".pulumi-home"),
        # The Kubernetes provider writes a kubeconfig per run to its temporary
        # folder and leaves it there: keep those beside the state, not in /tmp.
        "TMPDIR": str(state / ".tmp"),
    }
    if kubeconfig is not None:
        env["KUBECONFIG"] = str(kubeconfig)
    return env


def pin_environment(state: Path) -> None:
    """Keep the shell's cluster and backend away from the program, which runs in this process.

    The Kubernetes provider the program declares takes the ``KUBECONFIG`` of
    the process it is declared in as its ``kubeconfig`` input: left as the
    shell had it, one exported variable would deploy the kwok stack into a
    real cluster. Without it the provider plugin, started by the CLI with
    ``engine_env``, reads the local control plane's kubeconfig (and the
    provider's inputs stay what they always were). The state-backend check
    reads ``PULUMI_BACKEND_URL``: the backend the CLI really uses.
    """
    os.environ.pop("KUBECONFIG", None)
    os.environ["PULUMI_BACKEND_URL"] = file_backend(state)


def program_of(work_dir: Path) -> Callable[[], None]:
    """The project's __main__.py as an inline program: what `pulumi up` would run."""

    def program() -> None:
        # Run from the project root (`python -m tools.stack`): __main__.py finds components/ there.
        runpy.run_path(str(work_dir / "__main__.py"), run_name="__main__")

    return program


def stack(
    name: str,
    work_dir: Path = ROOT,
    state: Path = ROOT / ".pulumi-state",
    env: Mapping[str, str] | None = None,
    kubeconfig: Path | None = KUBECONFIG,
) -> auto.Stack:
    """The stack ``name`` of the project in ``work_dir``, created in the file backend at ``state`` if new."""
    (state / ".tmp").mkdir(parents=True, exist_ok=True)
    cli = ENGINE_BIN / "pulumi"
    command = auto.PulumiCommand(root=str(ENGINE_BIN.parent), skip_version_check=True) if cli.exists() else None
    options = auto.LocalWorkspaceOptions(
        work_dir=str(work_dir),
        pulumi_command=command,
        env_vars={**engine_env(state, kubeconfig), **(env or {})},
    )
    return auto.create_or_select_stack(
        stack_name=name, project_name=PROJECT, program=program_of(work_dir), opts=options
    )


@dataclass(frozen=True)
class Isolated:
    """A stack whose every run of the program (up, preview, destroy) happens in a fresh Python process.

    The real CLI starts a fresh language host for each run; an inline program
    runs in the caller's process instead, and when the CLI gives up on a run
    (a provider it does not have) that program keeps running in the caller's
    threads, beside whatever runs next. Tests that run the engine many times
    use this, so no run can meet another's leftovers. Everything that runs no
    program (config, exports) goes to the stack in this process.
    """

    name: str
    work_dir: Path
    state: Path
    kubeconfig: Path | None

    @property
    def local(self) -> auto.Stack:
        return stack(self.name, work_dir=self.work_dir, state=self.state, kubeconfig=self.kubeconfig)

    def set_config(self, key: str, value: auto.ConfigValue) -> None:
        self.local.set_config(key, value)

    def export_stack(self) -> auto.Deployment:
        return self.local.export_stack()

    def up(self, on_event: Callable[[auto.EngineEvent], Any] | None = None, **options: Any) -> auto.UpResult:
        return self._run("up", on_event, options)

    def preview(self, on_event: Callable[[auto.EngineEvent], Any] | None = None, **options: Any) -> auto.PreviewResult:
        return self._run("preview", on_event, options)

    def destroy(self, on_event: Callable[[auto.EngineEvent], Any] | None = None, **options: Any) -> auto.DestroyResult:
        return self._run("destroy", on_event, options)

    def _run(self, operation: str, on_event: Callable[[auto.EngineEvent], Any] | None, options: dict[str, Any]) -> Any:
        context = multiprocessing.get_context("spawn")
        receive, send = context.Pipe(duplex=False)
        child = context.Process(target=_run_in_child, args=(send, self, operation, options), daemon=True)
        child.start()
        send.close()
        try:
            result, events, error = receive.recv()
        except EOFError:
            raise RuntimeError(f"the process running `pulumi {operation}` died (exit code {child.exitcode})") from None
        finally:
            child.join(timeout=60)
            if child.is_alive():
                child.kill()
        for event in events:
            if on_event is not None:
                on_event(event)
        if error is not None:
            raise error
        return result


def _run_in_child(send: Connection, isolated: Isolated, operation: str, options: dict[str, Any]) -> None:
    events: list[auto.EngineEvent] = []
    outcome: tuple[Any, list[auto.EngineEvent], BaseException | None]
    pin_environment(isolated.state)
    try:
        result = getattr(isolated.local, operation)(on_event=events.append, **options)
        outcome = (result, events, None)
    except auto.CommandError as error:
        outcome = (None, events, error)
    except Exception as error:  # handed to the parent, which raises it
        outcome = (None, events, RuntimeError(f"{type(error).__name__}: {error}"))
    send.send(outcome)
    send.close()
    # Leave at once: a program the CLI gave up on may still hold threads that would keep this process alive.
    os._exit(0)


class RefusedError(Exception):
    """What stops `make up|preview|destroy STACK=kwok` before the CLI runs, in one sentence with its fix."""


# The fix for each way the CLI refuses a stack's config (its own wording names none).
_CLI_FIXES = (
    ("must be of type 'integer'", 'set a whole number, e.g. make config STACK={stack} SET="workers=2"'),
    ("must be of type 'boolean'", 'set true or false, e.g. make config STACK={stack} SET="spot=false"'),
    ("must be of type 'array<", "set a JSON list, e.g. make config STACK={stack} SET='packages=[\"data.table\"]'"),
    ("must be encrypted", "set it as a secret: make config-secret STACK={stack} KEY=<key>"),
    ("is missing configuration", 'set it: make config STACK={stack} SET="<key>=<value>"'),
)


def _check_prerequisites(stack_name: str, selected: auto.Stack, command: str, kubeconfig: Path = KUBECONFIG) -> None:
    if not kubeconfig.exists():
        raise RefusedError("no local control plane is running: make cluster (then this again)")
    config = selected.get_all_config()
    if command != "destroy" and _is(config, "kubepar:engine", "hub"):
        _generate_once(selected, stack_name, config, "hubSecretSeed", 32, "a secret the hub's keys derive from")
        return
    if command != "destroy" and _is(config, "kubepar:rBackend", "redis"):
        _generate_once(selected, stack_name, config, "queuePassword", 16, "the task queue's password")
    if command != "destroy" and not _set(config, "kubepar:password"):
        raise RefusedError(
            f"stack {stack_name} has no login password, and the engine built here has no random provider to "
            f"make one: make config-secret STACK={stack_name} KEY=password (12 characters or more)"
        )


def _generate_once(
    selected: auto.Stack, stack_name: str, config: Mapping[str, auto.ConfigValue], key: str, nbytes: int, what: str
) -> None:
    """Set ``key`` to a random secret (hex) unless the stack has one: the random provider that would
    make it on GKE is not built here. Kept once set, so what derives from it stays the same."""
    if not _set(config, f"kubepar:{key}"):
        selected.set_config(f"kubepar:{key}", auto.ConfigValue(value=secrets.token_hex(nbytes), secret=True))
        print(f"set kubepar:{key} of stack {stack_name} ({what}; kept)")


def _is(config: Mapping[str, auto.ConfigValue], key: str, value: str) -> bool:
    return key in config and config[key].value == value


def _set(config: Mapping[str, auto.ConfigValue], key: str) -> bool:
    """Whether the stack sets ``key`` (the CLI lists every declared key, with its default, "", when unset)."""
    return key in config and bool(config[key].value)


def _check_on_render(
    stack_name: str,
    overrides: Mapping[str, Any] | None = None,
    passed: str = "policy pack: no mandatory violation (checked on the render; the CLI here cannot run policy packs)",
) -> None:
    """Config, then the policy pack, on the render of the same config; ``passed`` is said when both pass."""
    try:
        capture = harness.run_program(stack_name, overrides)
    except harness.CliConfigError as error:
        fix = next((fix for text, fix in _CLI_FIXES if text in str(error)), None)
        raise RefusedError(f"{error}{'; ' + fix.format(stack=stack_name) if fix else ''}") from None
    except pulumi.RunError as error:
        raise RefusedError(str(error)) from None
    found = violations(capture, EnforcementLevel.MANDATORY)
    if found:
        raise RefusedError("policy pack: mandatory violations:\n  " + "\n  ".join(found))
    print(passed)


def _ask(question: str) -> bool:
    try:
        return input(f"{question} [yes/no] ").strip() == "yes"
    except EOFError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["preview", "up", "destroy", "check"])
    parser.add_argument("--stack", default="kwok")
    parser.add_argument("--yes", action="store_true", help="do not ask before changing anything")
    parser.add_argument("--expect-no-changes", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "check":
        # `make up|preview` of any stack, before the CLI: config errors said once, with their fix.
        _check_on_render(args.stack, passed=f"config of {args.stack}: checked on the render, no problem")
        return 0
    if "PULUMI_CONFIG_PASSPHRASE" not in os.environ:
        raise RefusedError(
            "set PULUMI_CONFIG_PASSPHRASE first (export PULUMI_CONFIG_PASSPHRASE=<a passphrase you keep>): "
            "it encrypts the stack's secrets"
        )
    pin_environment(ROOT / ".pulumi-state")
    selected = stack(args.stack)
    _check_prerequisites(args.stack, selected, args.command)
    if args.command == "destroy":
        if not args.yes:
            selected.preview_destroy(on_output=print)
            if not _ask(f"Destroy every resource of stack {args.stack}?"):
                return 1
        selected.destroy(on_output=print)
        return 0
    _check_on_render(args.stack)
    if args.command == "preview" or not args.yes:
        selected.preview(on_output=print, expect_no_changes=args.expect_no_changes, diff=True)
        if args.command == "preview":
            return 0
        if not _ask("Do you want to perform this update?"):
            return 1
    selected.up(on_output=print, expect_no_changes=args.expect_no_changes)
    return 0


def _cli_error(error: auto.CommandError) -> str:
    """The CLI's own error lines, once (its output was already printed as it ran)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip().startswith("error:")]
    seen: list[str] = []
    for line in lines:
        if line not in seen:
            seen.append(line)
    if "locked" in str(error) or "ConcurrentUpdateError" in str(error):
        # The lock of an `up` that died (a closed laptop): docs/operations.md, "`make up` says the stack is locked".
        seen.append("if no other update of this stack runs, an earlier one was interrupted: make recover, then make up")
    return "\n".join(seen) or "the Pulumi CLI failed (its output is above)"


if __name__ == "__main__":
    try:
        sys.exit(main())
    except RefusedError as refused:
        print(f"stack: {refused}", file=sys.stderr)
        sys.exit(2)
    except auto.CommandError as error:
        print(f"stack: {_cli_error(error)}", file=sys.stderr)
        sys.exit(1)
