"""What a run of the program under mocks declared: its resources, providers and outputs.

Owns: the record of each registered resource (inputs with secrets masked,
what the mock returned, options that matter to a later `pulumi up`) and
the Kubernetes documents and GCP resources in the form the render writes.
Does not: run anything (program.py) or answer the engine (mocks.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SECRET_MASK = "[secret]"

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
