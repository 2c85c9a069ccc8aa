"""Home: the user's files, on a PersistentVolumeClaim that outlives the pods.

Owns: one ReadWriteOnce claim per stack, under a logical name that does not
depend on the engine, so switching ``engine`` between r and dask keeps the
same volume (rstudio and jovyan are both UID 1000 in their images). Does not:
mount it (the engine's user-facing role does).

Invariant: with deletion protection on, the claim is Pulumi-protected, so
``pulumi destroy`` and any change that would replace it fail at preview,
before anything is deleted. A namespace change is refused earlier, in
__main__, by comparing with the stack's last outputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.ground.settings import WorkloadSettings
from components.k8s.labels import labels, object_meta

# Where the claim lived before it had a component of its own: the Workload of
# the role that mounts it. The aliases keep an existing stack's volume.
_FORMER_OWNERS = (("scheduler", "scheduler-home"), ("notebook", "notebook-home"))


@dataclass(frozen=True, kw_only=True)
class HomeArgs:
    namespace: pulumi.Input[str]
    """Namespace of the claim."""
    stack: str
    """Stack name, for labels."""
    size: str
    """Requested size (Kubernetes quantity); can grow, never shrink."""
    protect: bool
    """Pulumi-protect the claim (deletionProtection)."""

    @classmethod
    def of(cls, settings: WorkloadSettings, namespace: pulumi.Input[str]) -> HomeArgs:
        return cls(
            namespace=namespace, stack=settings.stack, size=settings.home_size, protect=settings.deletion_protection
        )


class Home(pulumi.ComponentResource):
    claim: pulumi.Output[str]
    """Name of the PersistentVolumeClaim."""

    def __init__(self, name: str, args: HomeArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kubepar:k8s:Home", name, None, opts)
        aliases = [
            pulumi.Alias(name=former, parent=pulumi.create_urn(owner, "kubepar:k8s:Workload"))
            for owner, former in _FORMER_OWNERS
        ]
        claim = k8s.core.v1.PersistentVolumeClaim(
            f"{name}-claim",
            metadata=object_meta(args.namespace, labels(args.stack, "home")),
            spec={"access_modes": ["ReadWriteOnce"], "resources": {"requests": {"storage": args.size}}},
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, aliases=aliases),
        )
        self.claim = claim.metadata.name
        self.register_outputs({"claim": self.claim})
