"""GCP IAM and storage: nothing public, no powerful project-wide grant, no service account keys."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.policies.helpers import check

BUCKET = "gcp:storage/bucket:Bucket"
PRIVATE_BUCKET = {"uniformBucketLevelAccess": True, "publicAccessPrevention": "enforced"}


@pytest.mark.parametrize(
    ("props", "problem"),
    [
        ({**PRIVATE_BUCKET, "uniformBucketLevelAccess": False}, "uniform access off"),
        ({"publicAccessPrevention": "enforced"}, "uniform access off"),
        ({**PRIVATE_BUCKET, "publicAccessPrevention": "inherited"}, "does not enforce public access prevention"),
        ({"uniformBucketLevelAccess": True}, "does not enforce public access prevention"),
    ],
)
def test_a_bucket_that_can_be_public_is_refused(props: dict[str, Any], problem: str) -> None:
    assert any(problem in m for m in check("gcp-bucket-private", BUCKET, props))


@pytest.mark.parametrize(
    ("resource_type", "props"),
    [
        (
            "gcp:storage/bucketAccessControl:BucketAccessControl",
            {"bucket": "b", "entity": "allUsers", "role": "READER"},
        ),
        ("gcp:storage/defaultObjectAccessControl:DefaultObjectAccessControl", {"entity": "allAuthenticatedUsers"}),
        ("gcp:storage/objectAccessControl:ObjectAccessControl", {"entity": "allUsers", "object": "o"}),
        ("gcp:storage/bucketACL:BucketACL", {"bucket": "b", "predefinedAcl": "publicRead"}),
        ("gcp:storage/bucketACL:BucketACL", {"bucket": "b", "roleEntities": ["READER:allUsers"]}),
        ("gcp:storage/defaultObjectACL:DefaultObjectACL", {"bucket": "b", "roleEntities": ["READER:allUsers"]}),
    ],
)
def test_public_acls_are_refused(resource_type: str, props: dict[str, Any]) -> None:
    assert check("gcp-bucket-private", resource_type, props) != []


def test_the_private_bucket_and_a_named_acl_pass() -> None:
    assert check("gcp-bucket-private", BUCKET, PRIVATE_BUCKET) == []
    named = {"bucket": "b", "entity": "user-someone@example.com", "role": "READER"}
    assert check("gcp-bucket-private", "gcp:storage/bucketAccessControl:BucketAccessControl", named) == []


@pytest.mark.parametrize(
    ("resource_type", "props"),
    [
        ("gcp:storage/bucketIAMMember:BucketIAMMember", {"role": "roles/storage.objectViewer", "member": "allUsers"}),
        (
            "gcp:storage/bucketIAMBinding:BucketIAMBinding",
            {"role": "roles/storage.objectViewer", "members": ["allAuthenticatedUsers"]},
        ),
        ("gcp:projects/iAMMember:IAMMember", {"role": "roles/viewer", "member": "allUsers"}),
        ("gcp:projects/iAMMember:IAMMember", {"role": "roles/owner", "member": "user:a@example.com"}),
        (
            "gcp:projects/iAMMember:IAMMember",
            {"role": "roles/editor", "member": "serviceAccount:x@p.iam.gserviceaccount.com"},
        ),
        (
            "gcp:projects/iAMBinding:IAMBinding",
            {"role": "roles/iam.serviceAccountTokenCreator", "members": ["group:g@example.com"]},
        ),
        ("gcp:projects/iAMMember:IAMMember", {"role": "roles/iam.serviceAccountUser", "member": "user:a@example.com"}),
        ("gcp:folder/iAMMember:IAMMember", {"role": "roles/owner", "member": "user:a@example.com"}),
        ("gcp:organizations/iAMBinding:IAMBinding", {"role": "roles/editor", "members": ["user:a@example.com"]}),
        (
            "gcp:projects/iAMPolicy:IAMPolicy",
            {"policyData": json.dumps({"bindings": [{"role": "roles/owner", "members": ["user:a@example.com"]}]})},
        ),
        ("gcp:serviceaccount/iAMMember:IAMMember", {"role": "roles/iam.serviceAccountUser", "member": "allUsers"}),
        ("gcp:projects/iAMMember:IAMMember", {"role": "roles/container.admin", "member": "user:a@example.com"}),
        ("gcp:folder/iAMBinding:IAMBinding", {"role": "roles/storage.admin", "members": ["group:g@example.com"]}),
    ],
)
def test_public_or_powerful_wide_grants_are_refused(resource_type: str, props: dict[str, Any]) -> None:
    assert check("gcp-no-public-or-powerful-iam", resource_type, props) != []


@pytest.mark.parametrize(
    ("resource_type", "props"),
    [
        (
            "gcp:projects/iAMMember:IAMMember",
            {
                "role": "roles/container.defaultNodeServiceAccount",
                "member": "serviceAccount:n@p.iam.gserviceaccount.com",
            },
        ),
        (
            "gcp:storage/bucketIAMMember:BucketIAMMember",
            {"role": "roles/storage.objectUser", "member": "principal://iam.googleapis.com/x"},
        ),
        # A powerful role on one service account, to one principal, is not project-wide.
        (
            "gcp:serviceaccount/iAMMember:IAMMember",
            {"role": "roles/iam.workloadIdentityUser", "member": "serviceAccount:p.svc.id.goog[ns/sa]"},
        ),
    ],
)
def test_narrow_grants_pass(resource_type: str, props: dict[str, Any]) -> None:
    assert check("gcp-no-public-or-powerful-iam", resource_type, props) == []


def test_service_account_keys_are_refused() -> None:
    found = check("gcp-no-service-account-keys", "gcp:serviceaccount/key:Key", {"serviceAccountId": "x"})
    assert len(found) == 1 and "needs none" in found[0]
    assert check("gcp-no-service-account-keys", "gcp:serviceaccount/account:Account", {"accountId": "x"}) == []
