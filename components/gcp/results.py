"""The sweep results bucket on GKE, and keyless access to it for Kubernetes service accounts.

Owns: a Cloud Storage bucket (uniform access, public access prevention
enforced) with object access granted straight to Kubernetes service accounts
through Workload Identity Federation (``principal://`` members: no Google
service account, no key anywhere). Does not: know sweeps, or how pods mount
it (k8s/results.py). The bucket exists whether or not sweeps are configured,
so removing a sweep from config never removes its results.
Invariant: with deletion protection on the bucket is Pulumi-protected, and it
is never force-destroyed with objects in it; ``ready`` exists only once every
grant has been made and given time to propagate, so a pod that depends on it
never mounts the bucket before it may.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from components.gcp.propagation import IamPropagation

# Object read and write (no bucket administration) for the sweeps; read for the session.
WRITER_ROLE = "roles/storage.objectUser"
READER_ROLE = "roles/storage.objectViewer"


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
    ready: pulumi.Resource
    """Created once the grants exist and have propagated: what bucket-mounting pods depend on."""

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
        grants = [
            gcp.storage.BucketIAMMember(
                f"{name}-{member_name}",
                bucket=bucket.name,
                role=role,
                member=principal(args.project, number, who),
                opts=child,
            )
            for role, members in ((WRITER_ROLE, args.writers), (READER_ROLE, args.readers))
            for member_name, who in members.items()
        ]
        # IAM is eventually consistent: a pod whose FUSE sidecar mounts before
        # its grant has propagated fails, and GKE before 1.34.1-gke.3899001
        # does not retry the mount (the pod stays Pending until deleted).
        self.ready = IamPropagation(
            f"{name}-grants-ready",
            grant=pulumi.Output.all(*(grant.id for grant in grants)).apply(lambda ids: ",".join(sorted(ids))),
            opts=pulumi.ResourceOptions(parent=self, depends_on=grants),
        )
        self.bucket = bucket.name
        self.register_outputs({"bucket": self.bucket})
