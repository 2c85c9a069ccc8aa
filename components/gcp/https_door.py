"""HttpsDoor: what the stack's HTTPS door needs from GCP: its address, its name, and the right to prove it.

Owns: a reserved regional address for the door's LoadBalancer, the A record
of the door's domain (``domain``, or the hub's ``hubDomain``) in its Cloud
DNS zone naming it, and a Google service
account that may change that zone's records (and nothing else), which the
HTTPS front's Kubernetes ServiceAccount acts as through Workload Identity: the
front answers Let's Encrypt's DNS challenge there, so no inbound connection
is needed and the LoadBalancer keeps admitting allowedSourceRanges only.
Does not: run the front (engines/https_front.py declares it; k8s/workload.py serves it).
Invariant: the service account's one grant is on the one zone; no key exists.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from components.ground.hub_rights import acme_account_id

# Creating and deleting the challenge's TXT records in the zone.
ZONE_ROLE = "roles/dns.admin"


@dataclass(frozen=True, kw_only=True)
class HttpsDoorArgs:
    project: str
    region: str
    stack: str
    domain: str
    zone: str
    """The Cloud DNS managed zone that serves ``domain``."""
    namespace: str
    account: str
    """The HTTPS front's Kubernetes ServiceAccount (fixed name) in ``namespace``."""
    apis: tuple[pulumi.Resource, ...] = ()


class HttpsDoor(pulumi.ComponentResource):
    address: pulumi.Output[str]

    def __init__(self, name: str, args: HttpsDoorArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kubepar:gcp:HttpsDoor", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, depends_on=list(args.apis))
        address = gcp.compute.Address(
            f"{name}-address",
            project=args.project,
            region=args.region,
            address_type="EXTERNAL",
            description=f"kubepar {args.stack}: the HTTPS door ({args.domain})",
            opts=child,
        )
        gcp.dns.RecordSet(
            f"{name}-record",
            project=args.project,
            managed_zone=args.zone,
            name=f"{args.domain}.",
            type="A",
            ttl=300,
            rrdatas=[address.address],
            opts=child,
        )
        account = gcp.serviceaccount.Account(
            f"{name}-acme",
            project=args.project,
            account_id=acme_account_id(args.stack),
            display_name=f"kubepar {args.stack} HTTPS certificates (DNS challenge in {args.zone})",
            opts=child,
        )
        gcp.dns.DnsManagedZoneIamMember(
            f"{name}-zone",
            project=args.project,
            managed_zone=args.zone,
            role=ZONE_ROLE,
            member=account.email.apply(lambda email: f"serviceAccount:{email}"),
            opts=child,
        )
        gcp.serviceaccount.IAMMember(
            f"{name}-workload-identity",
            service_account_id=account.name,
            role="roles/iam.workloadIdentityUser",
            member=f"serviceAccount:{args.project}.svc.id.goog[{args.namespace}/{args.account}]",
            opts=child,
        )
        self.address = address.address
        self.register_outputs({"address": self.address})
