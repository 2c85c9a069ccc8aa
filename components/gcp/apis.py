"""Project APIs: the Google Cloud services the stack uses, enabled by the stack.

Owns: one ``projects.Service`` per API. Does not: disable them on destroy
(other workloads in the project may use them, and disabling Compute would
take every VM of the project with it).
Invariant: every GCP resource of the stack depends on these, so a first
``pulumi up`` on a fresh project never races an API that is still off.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

# What the stack calls, by the resource that needs it.
SERVICES = {
    "compute": "compute.googleapis.com",  # VPC, subnet, router, NAT, node VMs, load balancers
    "container": "container.googleapis.com",  # the GKE cluster and node pools
    "iam": "iam.googleapis.com",  # the node service account
    "resourcemanager": "cloudresourcemanager.googleapis.com",  # the project IAM member
    "containerfilesystem": "containerfilesystem.googleapis.com",  # image streaming (gcfs) on the pools
    "storage": "storage.googleapis.com",  # the sweep results bucket
    "sts": "sts.googleapis.com",  # Workload Identity Federation token exchange for the bucket mount
}


@dataclass(frozen=True, kw_only=True)
class ProjectApisArgs:
    project: str
    """GCP project id."""


class ProjectApis(pulumi.ComponentResource):
    services: list[gcp.projects.Service]
    """The enabled services, for ``depends_on``."""

    def __init__(self, name: str, args: ProjectApisArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kubepar:gcp:ProjectApis", name, None, opts)
        self.services = [
            gcp.projects.Service(
                f"{name}-{key}",
                project=args.project,
                service=service,
                disable_on_destroy=False,
                disable_dependent_services=False,
                opts=pulumi.ResourceOptions(parent=self),
            )
            for key, service in SERVICES.items()
        ]
        self.register_outputs({"services": [service.service for service in self.services]})
