"""make recover: make a stack whole after an interrupted `make up` (a laptop closed, a terminal killed).

Usage: ``.venv/bin/python -m tools.recover --stack STACK [--yes] [--kubeconfig PATH]``; then ``make up``.

An `up` that dies mid-way leaves two things in the stack's state. The stack
stays locked (a file or bucket backend keeps the lock of the run that died),
so every later `make up` is refused. And each resource it was creating stays
a *pending create*: the engine asked the provider for it and never heard
back, so the state does not know whether it exists. The next `up` drops those
with a warning and creates them again: whatever the dead run had made is left
behind, outside the state, billed and never destroyed (the Kubernetes objects
Pulumi names with a random suffix come back under new names).

This makes the stack whole without editing its state by hand:

1. unlocks it (``pulumi cancel``), after asking that no other update of the
   stack runs (a second terminal, CI);
2. for each pending create of a Kubernetes object, deletes the object the
   dead run made, if it exists and nothing the state records is that object;
3. clears the pending creates and reads every recorded resource back
   (``pulumi refresh --clear-pending-creates``).

Then `make up` creates what is missing, once, and `make destroy` removes it
all. Pending creates of Google Cloud resources are listed with their names,
not deleted: kubepar names them itself, so one that exists makes the next
`make up` fail with "already exists", and docs/operations.md says what to do.

Why not ``pulumi refresh --import-pending-creates``: with the CLI built here
(3.274.0) the resources it imports do not reach the state it writes (tried
on the local control plane), and it needs each resource's provider ID.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pulumi import automation as auto

from tools import stack as engine_stack

ROOT = Path(__file__).resolve().parent.parent
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "StorageClass", "PersistentVolume"}


@dataclass(frozen=True)
class Made:
    """A Kubernetes object a pending create names: what `kubectl delete` needs."""

    urn: str
    api_version: str
    kind: str
    name: str
    namespace: str | None

    @property
    def id(self) -> str:
        """The provider's ID of the object: ``namespace/name``, or ``name`` if cluster-scoped."""
        return f"{self.namespace}/{self.name}" if self.namespace else self.name


@dataclass
class Report:
    deleted: list[str] = field(default_factory=list)
    absent: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    """Pending creates that name an object the state records (left alone)."""
    elsewhere: list[str] = field(default_factory=list)
    """Pending creates outside Kubernetes (Google Cloud): to check by hand."""


def pending_creates(deployment: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [op["resource"] for op in deployment.get("pending_operations") or [] if op.get("type") == "creating"]


def kubernetes_object(resource: dict[str, Any]) -> Made | None:
    """The object a pending create of the Kubernetes provider names (its inputs carry the generated name)."""
    kind_token = resource.get("type", "")
    if not kind_token.startswith("kubernetes:") or kind_token.startswith("kubernetes:helm"):
        return None
    inputs = resource.get("inputs") or {}
    metadata = inputs.get("metadata") or {}
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        return None
    kind = inputs.get("kind") or kind_token.rsplit(":", 1)[-1]
    group_version = kind_token.split(":")[1].replace("core/", "")
    api_version = inputs.get("apiVersion") or group_version
    namespace = None if kind in CLUSTER_SCOPED else (metadata.get("namespace") or "default")
    return Made(urn=resource["urn"], api_version=api_version, kind=kind, name=name, namespace=namespace)


def _describe(resource: dict[str, Any]) -> str:
    inputs = resource.get("inputs") or {}
    name = inputs.get("name") or inputs.get("accountId") or inputs.get("role") or "(no name input)"
    return f"{resource['type']} {resource['urn'].rsplit('::', 1)[-1]} ({name})"


def recover(selected: auto.Stack, kubectl: Callable[..., subprocess.CompletedProcess[str]]) -> Report:
    """Steps 1-3 on an unlocked-or-not stack; ``kubectl(*args)`` reaches the stack's cluster."""
    selected.cancel()
    deployment = selected.export_stack().deployment or {}
    recorded = {resource.get("id") for resource in deployment.get("resources") or [] if resource.get("custom")}
    report = Report()
    for resource in pending_creates(deployment):
        made = kubernetes_object(resource)
        if made is None:
            report.elsewhere.append(_describe(resource))
            continue
        label = f"{made.kind} {made.id}"
        # A namespace the state's objects live in is never deleted, whatever the pending create says.
        if made.id in recorded or (
            made.kind == "Namespace" and any(str(r).startswith(f"{made.name}/") for r in recorded)
        ):
            report.kept.append(label)
            continue
        scope = ["-n", made.namespace] if made.namespace else []
        group = made.api_version.split("/")[0] if "/" in made.api_version else ""
        resource_name = f"{made.kind.lower()}.{group}" if group else made.kind.lower()
        done = kubectl("delete", resource_name, made.name, *scope, "--ignore-not-found", "--wait=false")
        if done.returncode != 0:
            raise RuntimeError(f"kubectl could not delete {label}: {done.stderr.strip()}")
        (report.deleted if done.stdout.strip() else report.absent).append(label)
    selected.refresh(clear_pending_creates=True, color="never", on_output=print)
    return report


def _kubectl_for(kubeconfig: Path | None, context: str | None) -> Callable[..., subprocess.CompletedProcess[str]]:
    binary = engine_stack.ENGINE_BIN / "kubectl"
    command = [str(binary) if binary.exists() else "kubectl"]
    if kubeconfig is not None:
        command += ["--kubeconfig", str(kubeconfig)]
    if context:
        command += ["--context", context]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*command, *args], capture_output=True, text=True, timeout=120, check=False)

    return run


@contextmanager
def _stack_kubeconfig(selected: auto.Stack) -> Iterator[Path | None]:
    """The GKE stack's own kubeconfig output (an exec-plugin one, no credential), or None."""
    outputs = selected.outputs()
    if "kubeconfig" not in outputs:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="kubepar-recover-") as folder:
        path = Path(folder) / "kubeconfig"
        path.write_text(str(outputs["kubeconfig"].value))
        yield path


def _select(stack_name: str) -> tuple[auto.Stack, Path | None, str | None]:
    """The stack as `make up` runs it: the engine built here for kwok stacks, your CLI otherwise."""
    if stack_name == "kwok" or stack_name.startswith("kwok-"):
        engine_stack.pin_environment(ROOT / ".pulumi-state")
        return engine_stack.stack(stack_name), engine_stack.KUBECONFIG, None
    selected = auto.select_stack(stack_name=stack_name, work_dir=str(ROOT))
    context = selected.get_all_config().get("kubepar:kubeContext")
    return selected, None, (context.value or None) if context else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="local")
    parser.add_argument("--yes", action="store_true", help="do not ask whether another update runs")
    args = parser.parse_args(argv)
    if "PULUMI_CONFIG_PASSPHRASE" not in os.environ and "PULUMI_CONFIG_PASSPHRASE_FILE" not in os.environ:
        print("recover: set PULUMI_CONFIG_PASSPHRASE first (the one the stack's secrets use)", file=sys.stderr)
        return 1
    if not args.yes:
        question = (
            f"Unlock stack {args.stack}? Only if no other `make up` or `make destroy` of it runs now "
            "(another terminal, CI): its run would be cut off. [yes/no] "
        )
        try:
            if input(question).strip() != "yes":
                return 1
        except EOFError:
            return 1
    selected, kubeconfig, context = _select(args.stack)
    with _stack_kubeconfig(selected) as own:
        report = recover(selected, _kubectl_for(own or kubeconfig, context))
    print(json.dumps(report.__dict__, indent=2))
    for line in report.elsewhere:
        print(f"recover: check by hand whether this exists (docs/operations.md): {line}")
    print(f"recover: stack {args.stack} is unlocked and whole; `make up STACK={args.stack}` finishes it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
