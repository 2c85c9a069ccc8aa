"""GCP IAM and storage rules: nothing public, no powerful project-wide grant, no keys.

Owns: the results bucket's forms of publicity (uniform access off, public
access prevention not enforced, an allUsers or allAuthenticatedUsers member
or ACL entry, a public predefined ACL); grants of powerful roles (owner,
editor, token creator, service account user and their kin, and the admins
of every cluster or bucket) on a project,
folder or organisation, or to the public anywhere; and service account keys,
which kubepar never uses (Workload Identity Federation needs none).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from .common import rule

PUBLIC_MEMBERS = ("allUsers", "allAuthenticatedUsers")
# Roles that let their holder act as others or change who may do what.
POWERFUL_ROLES = (
    "roles/owner",
    "roles/editor",
    "roles/iam.serviceAccountTokenCreator",
    "roles/iam.serviceAccountUser",
    "roles/iam.serviceAccountKeyAdmin",
    "roles/iam.serviceAccountAdmin",
    "roles/iam.workloadIdentityUser",
    "roles/iam.securityAdmin",
    "roles/resourcemanager.projectIamAdmin",
    "roles/resourcemanager.folderAdmin",
    "roles/resourcemanager.organizationAdmin",
)
# Roles that administer every resource of one kind there: every cluster (and the
# Secrets and pods in it), every bucket (and who may read it).
WIDE_ADMIN_ROLES = (
    "roles/container.admin",
    "roles/container.clusterAdmin",
    "roles/storage.admin",
    # The hub's HTTPS front changes records of one zone: granted on that zone, never the project.
    "roles/dns.admin",
)
# What a grant of each of these on a whole project, folder or organisation gives its holder.
WIDE_GRANTS = {
    **{role: "can act as any account there" for role in POWERFUL_ROLES},
    **{role: "administers every cluster, bucket or DNS zone there, not only kubepar's" for role in WIDE_ADMIN_ROLES},
}
# Project, folder and organisation grants: a member, a binding or a whole policy.
_WIDE_IAM = re.compile(r"gcp:(projects|folder|organizations)/iAM(Member|Binding|Policy):IAM(Member|Binding|Policy)")
# Every IAM type of the provider, whichever way it capitalises IAM (dns/dnsManagedZoneIamMember).
_ANY_IAM = re.compile(
    r"gcp:[A-Za-z0-9]+/[A-Za-z0-9]*[iI](?:AM|am)(Member|Binding|Policy):[A-Za-z0-9]*I(?:AM|am)(Member|Binding|Policy)"
)
BUCKET = "gcp:storage/bucket:Bucket"
ACL_TYPES = (
    "gcp:storage/bucketAccessControl:BucketAccessControl",
    "gcp:storage/defaultObjectAccessControl:DefaultObjectAccessControl",
    "gcp:storage/objectAccessControl:ObjectAccessControl",
)
PUBLIC_ACLS = ("publicRead", "publicReadWrite", "authenticatedRead")


def _grants(props: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(role, member) of an IAM member, binding, or policy document."""
    role = str(props.get("role") or "")
    if props.get("member"):
        yield role, str(props["member"])
    for member in props.get("members") or []:
        yield role, str(member)
    policy = props.get("policyData")
    if isinstance(policy, str):
        try:
            document = json.loads(policy)
        except ValueError:
            document = {}
        for binding in document.get("bindings") or []:
            for member in binding.get("members") or []:
                yield str(binding.get("role") or ""), str(member)


def _iam(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not _ANY_IAM.fullmatch(args.resource_type):
        return
    wide = _WIDE_IAM.fullmatch(args.resource_type) is not None
    for role, member in _grants(args.props or {}):
        if member in PUBLIC_MEMBERS:
            report(f"{args.resource_type} '{args.name}' grants {role} to {member}: anyone. Remove the member.", None)
        elif wide and role in WIDE_GRANTS:
            report(
                f"{args.resource_type} '{args.name}' grants {role} on the whole project, folder or organisation "
                f"to {member}: its holder {WIDE_GRANTS[role]}. Grant a narrow role on the one resource.",
                None,
            )


def _bucket(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = args.props or {}
    if args.resource_type == BUCKET:
        if props.get("uniformBucketLevelAccess") is not True:
            report(f"Bucket '{args.name}' allows object ACLs (uniform access off): objects can be made public.", None)
        if props.get("publicAccessPrevention") != "enforced":
            report(f"Bucket '{args.name}' does not enforce public access prevention. Set it to enforced.", None)
    elif args.resource_type in ACL_TYPES and str(props.get("entity") or "") in PUBLIC_MEMBERS:
        report(f"{args.resource_type} '{args.name}' makes objects readable by {props.get('entity')}. Remove it.", None)
    elif args.resource_type == "gcp:storage/bucketACL:BucketACL" or args.resource_type.startswith(
        "gcp:storage/defaultObjectACL:"
    ):
        entities = [str(entry) for entry in props.get("roleEntities") or []]
        if props.get("predefinedAcl") in PUBLIC_ACLS or any(e.split(":", 1)[-1] in PUBLIC_MEMBERS for e in entities):
            report(f"{args.resource_type} '{args.name}' makes the bucket's objects public. Remove it.", None)


def _keys(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type == "gcp:serviceaccount/key:Key":
        report(
            f"Service account key '{args.name}' is a long-lived credential in state and in whoever holds it. "
            "kubepar uses Workload Identity Federation and needs none; remove it.",
            None,
        )


POLICIES: list[ResourceValidationPolicy] = [
    rule(
        "gcp-no-public-or-powerful-iam",
        "No IAM grant to allUsers or allAuthenticatedUsers anywhere, and no owner, editor, token creator, "
        "service account user (and kin) on a whole project, folder or organisation.",
        _iam,
    ),
    rule(
        "gcp-bucket-private",
        "Buckets have uniform access and enforced public access prevention; no public ACL or ACL entry.",
        _bucket,
    ),
    rule("gcp-no-service-account-keys", "No service account keys: kubepar authenticates without them.", _keys),
]
