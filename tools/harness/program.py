"""Running the real program (or any function that declares resources) under the mock engine.

Owns: a fresh Pulumi context per run with the CLI's config, the recording
mocks, collecting outputs, cleaning up after a program that failed, and
writing the offline render. Does not: parse the project file (ground) or
apply the CLI's rules (cli.py).
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import runpy
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime.settings import SETTINGS
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from components.ground.project import PROJECT, PROJECT_ROOT
from tools.harness.capture import SECRET_MASK, Capture, gcp_documents, kubernetes_documents
from tools.harness.cli import stack_config
from tools.harness.mocks import RecordingMocks, RecordingMonitor


def _run(
    stack: str,
    config: dict[str, str],
    secret_keys: list[str],
    program: Callable[[], None],
    monitor: RecordingMonitor,
) -> Capture:
    pulumi.runtime.set_all_config(config, secret_keys)
    pulumi_mocks.set_mocks(monitor.mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor)
    try:
        _sync_await(run_pulumi_func(program))
    except BaseException:
        # A program that failed leaves tasks behind that would fail the next
        # run with the old error: cancel them and let them finish.
        loop = asyncio.get_event_loop()
        pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        SETTINGS.outputs.clear()
        raise
    capture = Capture(resources=list(monitor.records), providers=list(monitor.providers))
    root = pulumi.runtime.get_root_resource()
    for key, value in (getattr(root, "outputs", None) or {}).items():
        output = pulumi.Output.from_input(value)
        capture.outputs[key] = _sync_await(output.future())
        if _sync_await(output.is_secret()):
            capture.secret_outputs.add(key)
    return capture


def run_function(
    program: Callable[[], None],
    stack: str = "test",
    config: Mapping[str, str] | None = None,
    monitor: RecordingMonitor | None = None,
) -> Capture:
    """Run ``program`` (which declares resources) under mocks, in a fresh Pulumi context."""
    monitor = monitor or RecordingMonitor(RecordingMocks())
    # A fresh context per run: Pulumi keeps its settings and root stack in context variables.
    return contextvars.Context().run(_run, stack, dict(config or {}), [], program, monitor)


def run_program(
    stack: str,
    overrides: Mapping[str, Any] | None = None,
    monitor: RecordingMonitor | None = None,
    previous_outputs: Mapping[str, Any] | None = None,
    backend: str | None = None,
) -> Capture:
    """Run __main__.py for ``stack`` under mocks; raises pulumi.RunError on bad config.

    ``previous_outputs`` stand for the stack's last `pulumi up` (default: a new stack);
    ``backend`` for the state backend the run keeps state in (PULUMI_BACKEND_URL;
    default: none known, whatever the caller's environment says).
    """
    config, secret_keys = stack_config(stack, overrides)
    monitor = monitor or RecordingMonitor(RecordingMocks(previous_outputs))

    def program() -> None:
        saved = os.environ.pop("PULUMI_BACKEND_URL", None)
        if backend is not None:
            os.environ["PULUMI_BACKEND_URL"] = backend
        try:
            # The project root is on the path (tests, `python -m tools.render`), so __main__.py finds components/.
            runpy.run_path(str(PROJECT_ROOT / "__main__.py"), run_name="__main__")
        finally:
            os.environ.pop("PULUMI_BACKEND_URL", None)
            if saved is not None:
                os.environ["PULUMI_BACKEND_URL"] = saved

    return contextvars.Context().run(_run, stack, config, secret_keys, program, monitor)


class _ReadableDumper(yaml.SafeDumper):
    """Writes multi-line strings (the scripts in ConfigMaps) as literal blocks."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_ReadableDumper.add_representer(str, _represent_str)


def write_render(capture: Capture, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    kube = out_dir / "kubernetes.yaml"
    kube.write_text(yaml.dump_all(kubernetes_documents(capture), Dumper=_ReadableDumper, sort_keys=False))
    gcp = out_dir / "gcp.yaml"
    gcp.write_text(yaml.dump(gcp_documents(capture), Dumper=_ReadableDumper, sort_keys=False))
    outputs = out_dir / "outputs.yaml"
    outputs.write_text(
        yaml.safe_dump(
            {
                key: SECRET_MASK if key in capture.secret_outputs else value
                for key, value in sorted(capture.outputs.items())
            },
            sort_keys=False,
        )
    )
    return [kube, gcp, outputs]
