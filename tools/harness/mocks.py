"""Pulumi's mock engine, answering as the real providers would for what the program reads.

Owns: recording every registered resource into a :class:`Capture`, the
provider-computed outputs the program reads (auto-names, the cluster's
endpoints, a LoadBalancer address, the project number), and failing loudly
on any call the program should not make. Does not: decide config (cli.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc

from tools.harness.capture import SECRET_MASK, Recorded

# Wire signatures of the Pulumi property format (sdk/go/common/resource/sig).
_SIG = "4dabf18193072939515e22adb298388d"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
_RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
# Addresses from the documentation ranges (RFC 5737): never real hosts.
MOCK_CLUSTER_ENDPOINT = "192.0.2.10"
MOCK_LOAD_BALANCER_IP = "198.51.100.7"
MOCK_DNS_ENDPOINT = "gke-0123456789abcdef-123456789012.europe-west1.gke.goog"
MOCK_PROJECT_NUMBER = "123456789012"


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
    the outputs of the last `pulumi up` (none for a new stack). As the real
    engine does, a deployed stack's outputs hold its secret ``password``, so
    the map as a whole comes back secret and ``secretOutputNames`` names it.
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
            if not self.previous_outputs:
                return str(args.resource_id), {**state, "outputs": {}, "secretOutputNames": []}
            outputs = {"password": "MockPreviousPassword", **self.previous_outputs}
            secret = {rpc._special_sig_key: rpc._special_secret_sig, "value": outputs}
            return str(args.resource_id), {**state, "outputs": secret, "secretOutputNames": ["password"]}
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
        elif typ == "gcp:compute/address:Address":
            # A reserved external address, as GCP assigns one (a documentation address here).
            state["address"] = "203.0.113.80"
        elif typ == "random:index/randomId:RandomId":
            # As the provider computes it: byte_length random bytes, here from the name.
            state["hex"] = hashlib.sha256(args.name.encode()).hexdigest()[: 2 * int(inputs["byteLength"])]
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
