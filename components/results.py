"""Sweep results: one store per stack that outlives every sweep, and how pods mount it.

Owns: on GKE, a Cloud Storage bucket (uniform access, public access
prevention enforced) with object access granted straight to Kubernetes
service accounts through Workload Identity Federation (``principal://``
members: no Google service account, no key anywhere); on an existing
cluster, a PersistentVolumeClaim. And the pod volume that mounts either one
(GKE: the Cloud Storage FUSE CSI driver).

Does not: know sweeps. The store exists whether or not sweeps are
configured, so removing a sweep from config never removes its results.
Invariant: with deletion protection on the store is Pulumi-protected, and the
bucket is never force-destroyed with objects in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from components.labels import labels, object_meta

RESULTS_VOLUME = "results"
GCSFUSE_DRIVER = "gcsfuse.csi.storage.gke.io"
# Object read and write (no bucket administration) for the sweeps; read for the session.
WRITER_ROLE = "roles/storage.objectUser"
READER_ROLE = "roles/storage.objectViewer"
# Size of the results claim on an existing cluster (platform existing).
RESULTS_CLAIM_SIZE = "10Gi"
# Node disk the FUSE sidecar reserves and may use to stage a file until it is closed.
GCSFUSE_SIDECAR_EPHEMERAL_REQUEST = "1Gi"
GCSFUSE_SIDECAR_EPHEMERAL_LIMIT = "5Gi"


@dataclass(frozen=True, kw_only=True)
class Principal:
    """A Kubernetes service account, as Workload Identity Federation for GKE names it."""

    namespace: pulumi.Input[str]
    service_account: pulumi.Input[str]


@dataclass(frozen=True, kw_only=True)
class ResultsBucketArgs:
    project: str
    """GCP project id."""
    location: str
    """Region of the bucket (the cluster's), so reads and writes stay in region."""
    stack: str
    """Stack name, for labels."""
    protect: bool
    """deletionProtection: Pulumi-protect the bucket, and never delete it with objects in it."""
    writers: dict[str, Principal]
    """Service accounts that write results, by a stable name (``sweeps``)."""
    readers: dict[str, Principal]
    """Service accounts that read them, by a stable name (``session``: RStudio's or the notebook's)."""
    apis: tuple[pulumi.Resource, ...] = ()


def principal(project: str, project_number: pulumi.Input[str], who: Principal) -> pulumi.Output[str]:
    """The IAM member of a Kubernetes service account, with no Google service account in between."""
    return pulumi.Output.concat(
        "principal://iam.googleapis.com/projects/",
        project_number,
        f"/locations/global/workloadIdentityPools/{project}.svc.id.goog/subject/ns/",
        who.namespace,
        "/sa/",
        who.service_account,
    )


class ResultsBucket(pulumi.ComponentResource):
    bucket: pulumi.Output[str]

    def __init__(self, name: str, args: ResultsBucketArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kubepar:gcp:ResultsBucket", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, depends_on=list(args.apis))
        bucket = gcp.storage.Bucket(
            f"{name}-bucket",
            project=args.project,
            location=args.location.upper(),
            # IAM only, no object ACLs; never public, whatever an IAM binding says.
            uniform_bucket_level_access=True,
            public_access_prevention="enforced",
            # With deletion protection, destroy fails while results remain.
            force_destroy=not args.protect,
            labels={"app": "kubepar", "stack": args.stack},
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.apis), protect=args.protect),
        )
        # At preview too this reads the project through the Resource Manager
        # API, which a new project has only once the stack enabled it.
        number = gcp.organizations.get_project_output(
            project_id=args.project, opts=pulumi.InvokeOutputOptions(depends_on=list(args.apis))
        ).number
        for role, members in ((WRITER_ROLE, args.writers), (READER_ROLE, args.readers)):
            for member_name, who in members.items():
                gcp.storage.BucketIAMMember(
                    f"{name}-{member_name}",
                    bucket=bucket.name,
                    role=role,
                    member=principal(args.project, number, who),
                    opts=child,
                )
        self.bucket = bucket.name
        self.register_outputs({"bucket": self.bucket})


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
            # The sidecar asks for 5Gi of node disk by default, which would cap
            # a 50 GB boot disk at a handful of pods whatever their CPU; it
            # stages writes there until a file is closed, so results of up to
            # the limit still fit (config counts its CPU and memory).
            "gke-gcsfuse/ephemeral-storage-request": GCSFUSE_SIDECAR_EPHEMERAL_REQUEST,
            "gke-gcsfuse/ephemeral-storage-limit": GCSFUSE_SIDECAR_EPHEMERAL_LIMIT,
        }

    @property
    def mounts_bucket(self) -> bool:
        """Pods of this store mount a bucket through the FUSE sidecar, which needs the metadata server."""
        return self.bucket is not None
