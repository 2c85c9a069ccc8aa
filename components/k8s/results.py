"""Sweep results as pods see them: the claim on an existing cluster, and the volume of either store.

Owns: on an existing cluster, a PersistentVolumeClaim that outlives every
sweep; and the pod volume that mounts the store (GKE: the bucket through the
Cloud Storage FUSE CSI driver, with its sidecar's annotations). Does not:
create the bucket (gcp/results.py).
Invariant: with deletion protection on the claim is Pulumi-protected.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.ground.pools import GCSFUSE_SIDECAR_EPHEMERAL
from components.ground.settings import WorkloadSettings
from components.k8s.labels import labels, object_meta

RESULTS_VOLUME = "results"
GCSFUSE_DRIVER = "gcsfuse.csi.storage.gke.io"
# Size of the results claim on an existing cluster (platform existing).
RESULTS_CLAIM_SIZE = "10Gi"
# Node disk the FUSE sidecar reserves and may use to stage a file until it is closed.


@dataclass(frozen=True, kw_only=True)
class ResultsClaimArgs:
    namespace: pulumi.Input[str]
    stack: str
    protect: bool
    """deletionProtection: Pulumi-protect the claim."""


class ResultsClaim(pulumi.ComponentResource):
    """platform existing: results on the cluster's default StorageClass.

    ReadWriteOnce, as most default classes offer: every pod that mounts it
    must run on one node (a single-node cluster such as kind or minikube).
    """

    claim: pulumi.Output[str]

    def __init__(self, name: str, args: ResultsClaimArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kubepar:k8s:ResultsClaim", name, None, opts)
        claim = k8s.core.v1.PersistentVolumeClaim(
            f"{name}-claim",
            metadata=object_meta(args.namespace, labels(args.stack, "results")),
            spec={"access_modes": ["ReadWriteOnce"], "resources": {"requests": {"storage": RESULTS_CLAIM_SIZE}}},
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        self.claim = claim.metadata.name
        self.register_outputs({"claim": self.claim})


@dataclass(frozen=True, kw_only=True)
class ResultsStore:
    """Where results live, as a pod mounts it: a bucket (GKE) or a claim (existing)."""

    bucket: pulumi.Input[str] | None = None
    claim: pulumi.Input[str] | None = None
    ready: pulumi.Resource | None = None
    """Exists once the bucket's grants have propagated: pods that mount the store wait for it."""

    def after_grants(self, opts: pulumi.ResourceOptions) -> pulumi.ResourceOptions:
        """``opts`` for a workload whose pods mount the store: created only once they may mount it."""
        if self.ready is None:
            return opts
        return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[self.ready]))

    def volume(self, *, read_only: bool, uid: int, gid: int) -> dict[str, Any]:
        """The pod volume (snake_case, as the Pulumi SDK takes it)."""
        if self.bucket is not None:
            return {
                "name": RESULTS_VOLUME,
                "csi": {
                    "driver": GCSFUSE_DRIVER,
                    "read_only": read_only,
                    "volume_attributes": {
                        "bucketName": self.bucket,
                        # Files belong to the pod's user; folders appear without placeholder objects.
                        "mountOptions": f"uid={uid},gid={gid},file-mode=664,dir-mode=775,implicit-dirs",
                        # The driver's own pre-mount check of bucket access costs an
                        # STS exchange per pod (quota exhaustion when a sweep starts
                        # hundreds); the grants are known to exist (``ready``), and a
                        # real denial still fails the mount in the sidecar.
                        "skipCSIBucketAccessCheck": "true",
                    },
                },
            }
        assert self.claim is not None
        return {"name": RESULTS_VOLUME, "persistent_volume_claim": {"claim_name": self.claim, "read_only": read_only}}

    def pod_annotations(self) -> dict[str, str]:
        if self.bucket is None:
            return {}
        return {
            # GKE injects the Cloud Storage FUSE sidecar only into pods that ask for it.
            "gke-gcsfuse/volumes": "true",
            # The sidecar stages a file on the node's disk until it is closed: its
            # default 5Gi, requested whole as every container's disk is (config
            # counts it, with its CPU and memory, in each pool's boot disk).
            "gke-gcsfuse/ephemeral-storage-request": GCSFUSE_SIDECAR_EPHEMERAL,
            "gke-gcsfuse/ephemeral-storage-limit": GCSFUSE_SIDECAR_EPHEMERAL,
        }

    @property
    def mounts_bucket(self) -> bool:
        """Pods of this store mount a bucket through the FUSE sidecar, which needs the metadata server."""
        return self.bucket is not None


def results_claim(
    settings: WorkloadSettings, namespace: pulumi.Input[str], opts: pulumi.ResourceOptions
) -> tuple[ResultsStore, dict[str, pulumi.Output[str]]]:
    """platform existing: the results claim, as a store and as the stack output ``resultsClaim``."""
    claim = ResultsClaim(
        "kubepar-results",
        ResultsClaimArgs(namespace=namespace, stack=settings.stack, protect=settings.deletion_protection),
        opts=opts,
    ).claim
    return ResultsStore(claim=claim), {"resultsClaim": claim}
