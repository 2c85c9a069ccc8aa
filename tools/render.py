"""Run the real program under Pulumi's mock engine and write what it declares.

Owns: the recording mocks (shared with the tests), stack config as the CLI
would pass it (Pulumi.yaml defaults, then the stack file), and the offline
render ``build/render/<stack>/{kubernetes,gcp}.yaml``. Does not: talk to any
cloud or cluster. Values that are Pulumi secrets are written as ``[secret]``.

Usage: python tools/render.py STACK [--out DIR] [--set kubepar:KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import hashlib
import json
import re
import runpy
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime.settings import SETTINGS
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "kubepar"
SECRET_MASK = "[secret]"
# Wire signatures of the Pulumi property format (sdk/go/common/resource/sig).
_SIG = "4dabf18193072939515e22adb298388d"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
_RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
# Addresses from the documentation ranges (RFC 5737): never real hosts.
MOCK_CLUSTER_ENDPOINT = "192.0.2.10"
MOCK_LOAD_BALANCER_IP = "198.51.100.7"
MOCK_DNS_ENDPOINT = "gke-0123456789abcdef-123456789012.europe-west1.gke.goog"
MOCK_PROJECT_NUMBER = "123456789012"

KIND_ORDER = [
    "Namespace",
    "ServiceAccount",
    "ConfigMap",
    "Secret",
    "PersistentVolumeClaim",
    "NetworkPolicy",
    "Service",
    "Deployment",
]


@dataclass
class Recorded:
    """One registered custom resource."""

    type: str
    name: str
    urn: str
    inputs: dict[str, Any]
    """Inputs with secret values replaced by ``[secret]``."""
    secret_paths: list[str]
    """Dotted paths of inputs that were Pulumi secrets."""
    state: dict[str, Any]
    """What the mock returned (inputs plus computed outputs, secrets plain)."""
    protect: bool = False
    """The ``protect`` resource option: Pulumi refuses to delete or replace it."""
    dependencies: list[str] = field(default_factory=list)
    """URNs it waits for (``depends_on`` and inputs from other resources)."""
    ignore_changes: list[str] = field(default_factory=list)
    """The ``ignore_changes`` resource option: inputs a later `pulumi up` never diffs."""


@dataclass
class Capture:
    resources: list[Recorded] = field(default_factory=list)
    """Custom resources, in registration order (providers apart)."""
    providers: list[Recorded] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: set[str] = field(default_factory=set)

    def of_type(self, type_: str) -> list[Recorded]:
        return [r for r in self.resources if r.type == type_]

    def kubernetes(self, kind: str) -> list[dict[str, Any]]:
        return [doc for doc in kubernetes_documents(self) if doc["kind"] == kind]


def _integral(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _unwrap(value: Any, path: str, secrets: list[str], mask: bool) -> Any:
    """Struct-as-dict to plain Python, noting (and masking) secret values."""
    if isinstance(value, dict):
        if value.get(_SIG) == _SECRET_SIG:
            secrets.append(path)
            inner = _unwrap(value.get("value"), path, [], mask=False)
            return _mask_leaves(inner) if mask else inner
        if value.get(_SIG) == _RESOURCE_SIG:
            return value.get("urn")
        return {
            key: _unwrap(item, f"{path}.{key}" if path else key, secrets, mask)
            for key, item in value.items()
            if not key.startswith("__")
        }
    if isinstance(value, list):
        return [_unwrap(item, f"{path}[{i}]", secrets, mask) for i, item in enumerate(value)]
    return _integral(value)


def _mask_leaves(value: Any) -> Any:
    """Keep a secret's shape (a Secret's stringData stays a mapping), hide its values."""
    if isinstance(value, dict):
        return {key: _mask_leaves(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_mask_leaves(item) for item in value]
    return SECRET_MASK


def _autoname(name: str) -> str:
    return f"{name}-{hashlib.sha1(name.encode()).hexdigest()[:8]}"


class RecordingMocks(pulumi_mocks.Mocks):
    """Returns provider-computed outputs the program reads; fails on any call but getProject.

    ``previous_outputs`` are what a StackReference to the stack itself reads:
    the outputs of the last `pulumi up` (none for a new stack).
    """

    def __init__(self, previous_outputs: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self.previous_outputs = dict(previous_outputs or {})
        self.created: list[tuple[str, dict[str, Any]]] = []
        """(type, inputs) of every resource the engine has created so far, in order."""
        self.calls: list[tuple[str, list[tuple[str, dict[str, Any]]]]] = []
        """(token, what had been created when the call was made) of every provider call."""

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        result = self._new_resource(args)
        self.created.append((args.typ, json.loads(json.dumps(args.inputs, default=str))))
        return result

    def _new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs = json.loads(json.dumps(args.inputs, default=str))
        state: dict[str, Any] = dict(inputs)
        typ = args.typ
        if typ == "pulumi:pulumi:StackReference":
            return str(args.resource_id), {**state, "outputs": self.previous_outputs, "secretOutputNames": []}
        if typ.startswith("kubernetes:") and not typ.startswith("kubernetes:index:"):
            metadata = dict(state.get("metadata") or {})
            metadata.setdefault("name", _autoname(args.name))
            state["metadata"] = metadata
            spec = state.get("spec") or {}
            if typ == "kubernetes:core/v1:Service" and spec.get("type") == "LoadBalancer":
                state["status"] = {"loadBalancer": {"ingress": [{"ip": MOCK_LOAD_BALANCER_IP}]}}
            return f"{metadata.get('namespace', '')}/{metadata['name']}", state
        if typ == "gcp:container/cluster:Cluster":
            state.setdefault("name", _autoname(args.name))
            state["endpoint"] = MOCK_CLUSTER_ENDPOINT
            state["masterAuth"] = {
                **(state.get("masterAuth") or {}),
                "clusterCaCertificate": "bW9jay1jYQ==",
            }
            endpoints = dict(state.get("controlPlaneEndpointsConfig") or {})
            endpoints["dnsEndpointConfig"] = {
                **(endpoints.get("dnsEndpointConfig") or {}),
                "endpoint": MOCK_DNS_ENDPOINT,
            }
            state["controlPlaneEndpointsConfig"] = endpoints
        elif typ == "gcp:serviceaccount/account:Account":
            state["email"] = f"{inputs['accountId']}@{inputs['project']}.iam.gserviceaccount.com"
        elif typ == "random:index/randomPassword:RandomPassword":
            digest = hashlib.sha256(args.name.encode()).hexdigest()
            state["result"] = f"MockPw{digest[:18]}"
        elif typ.startswith("gcp:"):
            state.setdefault("name", _autoname(args.name))
        return f"{args.name}-id", state

    def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        self.calls.append((args.token, list(self.created)))
        if args.token == "gcp:organizations/getProject:getProject":
            # The project number, for Workload Identity principals on the results bucket.
            return {"projectId": args.args.get("projectId"), "number": MOCK_PROJECT_NUMBER}, []
        raise AssertionError(f"kubepar makes no other provider call, got {args.token}")


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """A mock monitor that also keeps every registration with its secrets marked."""

    def __init__(self, mocks: pulumi_mocks.Mocks) -> None:
        super().__init__(mocks)
        self.records: list[Recorded] = []
        self.providers: list[Recorded] = []

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)
        if request.custom:
            raw = json_format.MessageToDict(request.object)
            secrets: list[str] = []
            inputs = _unwrap(raw, "", secrets, mask=True)
            registration = self.resources[response.urn]
            kept = self.providers if request.type.startswith("pulumi:providers:") else self.records
            kept.append(
                Recorded(
                    type=request.type,
                    name=request.name,
                    urn=response.urn,
                    inputs=inputs,
                    secret_paths=secrets,
                    state=json.loads(json.dumps(registration.state, default=str)),
                    protect=bool(request.protect),
                    dependencies=list(request.dependencies),
                    ignore_changes=list(request.ignoreChanges),
                )
            )
        return response


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


def project_file() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "Pulumi.yaml").read_text()))


def stack_config(stack: str, overrides: Mapping[str, Any] | None = None) -> tuple[dict[str, str], list[str]]:
    """Config as `pulumi up` would pass it: the stack file and overrides, then the CLI's project rules.

    Raises :class:`CliConfigError` where the CLI would refuse the stack before the program runs.
    """
    values: dict[str, Any] = {}
    stack_file = ROOT / f"Pulumi.{stack}.yaml"
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
) -> Capture:
    """Run __main__.py for ``stack`` under mocks; raises pulumi.RunError on bad config.

    ``previous_outputs`` stand for the stack's last `pulumi up` (default: a new stack).
    """
    config, secret_keys = stack_config(stack, overrides)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    monitor = monitor or RecordingMonitor(RecordingMocks(previous_outputs))

    def program() -> None:
        runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")

    return contextvars.Context().run(_run, stack, config, secret_keys, program, monitor)


def kubernetes_documents(capture: Capture) -> list[dict[str, Any]]:
    documents = []
    for record in capture.resources:
        if not record.type.startswith("kubernetes:"):
            continue
        metadata = dict(record.inputs.get("metadata") or {})
        metadata.setdefault("name", (record.state.get("metadata") or {}).get("name"))
        document = {
            "apiVersion": record.inputs.get("apiVersion"),
            "kind": record.inputs.get("kind"),
            "metadata": metadata,
        }
        document.update(
            (key, value) for key, value in record.inputs.items() if key not in ("apiVersion", "kind", "metadata")
        )
        documents.append(document)

    def order(doc: dict[str, Any]) -> tuple[int, str]:
        kind = doc.get("kind", "")
        rank = KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)
        return rank, str(doc["metadata"].get("name"))

    return sorted(documents, key=order)


def gcp_documents(capture: Capture) -> list[dict[str, Any]]:
    return [
        {"type": r.type, "name": r.name, "inputs": r.inputs}
        for r in sorted(capture.resources, key=lambda r: (r.type, r.name))
        if r.type.startswith("gcp:")
    ]


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stack", help="stack name: local, dev, prod, or any Pulumi.<stack>.yaml")
    parser.add_argument("--out", type=Path, help="output folder (default build/render/<stack>)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. kubepar:workers=8 (lists as JSON)",
    )
    args = parser.parse_args(argv)
    overrides: dict[str, Any] = {}
    for item in args.set:
        key, separator, value = item.partition("=")
        if not separator:
            print(f"render: --set {item!r}: expected KEY=VALUE", file=sys.stderr)
            return 2
        overrides[key] = json.loads(value) if value.startswith("[") else value
    if not (ROOT / f"Pulumi.{args.stack}.yaml").exists():
        print(f"render: no Pulumi.{args.stack}.yaml in {ROOT}", file=sys.stderr)
        return 2
    try:
        capture = run_program(args.stack, overrides)
    except CliConfigError as error:
        print(f"render: error: {error}", file=sys.stderr)
        return 2
    except pulumi.RunError as error:
        print(f"render: stack {args.stack}: {error}", file=sys.stderr)
        return 2
    for path in write_render(capture, args.out or ROOT / "build" / "render" / args.stack):
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
