"""A pause after granting IAM to a new service account, on create only.

GKE refuses a node service account for a short while after it is created
and granted its role (IAM is eventually consistent: Google documents up to
a few minutes, usually under one), which fails the first ``pulumi up`` with
a precondition error and passes on a re-run. This dynamic resource sits
between the grant and the cluster: it waits once when it is created (a new
account or a new grant replaces it), and costs nothing on later updates or
in previews.

Owns: only the wait. Invariant: it never calls a cloud API and holds no credential.
"""

from __future__ import annotations

import time
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider

# Long enough for IAM to propagate in the cases seen in practice.
DEFAULT_SECONDS = 60


class _WaitProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        time.sleep(float(props["seconds"]))
        return CreateResult(id_=str(props["grant"]), outs=props)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # A new grant is a new wait; a changed duration alone changes nothing.
        changed = olds.get("grant") != news.get("grant")
        return DiffResult(changes=changed, replaces=["grant"] if changed else [], delete_before_replace=False)


class IamPropagation(Resource):
    grant: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        grant: pulumi.Input[str],
        seconds: int = DEFAULT_SECONDS,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Waits ``seconds`` once, after ``grant`` (an IAM member id) exists."""
        super().__init__(_WaitProvider(), name, {"grant": grant, "seconds": seconds}, opts)
