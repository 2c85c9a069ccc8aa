"""GKE config: the project, location, cluster ranges, pools and maintenance of platform ``gke``.

Owns: every check of the GCP-side keys, and the worker pool's ceiling (via
ground/sizing.py). Does not: create anything (gcp/).
Invariant: the cluster's three ranges are private and disjoint, and no
user's address range overlaps them.
"""

from __future__ import annotations

import ipaddress
import re

from components.ground.parsers import parse_cidr, parse_maintenance
from components.ground.reader import Reader
from components.ground.settings import GkeSettings, SparkSettings, SweepSettings
from components.ground.sizing import machine_types, worker_pool_size

RELEASE_CHANNELS = ("RAPID", "REGULAR", "STABLE")
_GCP_LOCATION = re.compile(r"[a-z]+-[a-z]+[0-9]{1,2}(-[a-z])?")
_GCP_PROJECT = re.compile(r"[a-z][-a-z0-9]{4,28}[a-z0-9]")


def parse_gke(
    read: Reader,
    gcp_project: str | None,
    workers: int,
    worker_cpu: str,
    worker_memory: str,
    sweeps: list[SweepSettings],
    spark: SparkSettings | None = None,
) -> GkeSettings:
    if not gcp_project:
        read.problems.append(
            "gcp:project: not set; platform gke needs a GCP project "
            '(`make config STACK=<stack> SET="gcp:project=<id>"`), or use platform existing'
        )
    elif not _GCP_PROJECT.fullmatch(gcp_project):
        read.problems.append(f"gcp:project: {gcp_project!r} is not a GCP project id")
    location = read.text("location")
    if not location:
        read.fail("location", "not set; platform gke needs a zone such as europe-west1-b")
    elif not _GCP_LOCATION.fullmatch(location):
        read.fail("location", f"{location!r} is not a GCP zone or region such as europe-west1-b")
    regional = re.search(r"-[a-z]\Z", location) is None
    region = location if regional else location.rsplit("-", 1)[0]
    if regional and location and not read.failed("location"):
        read.warn(
            "location",
            f"{location!r} is a region: GKE runs the control plane in three of its zones and spreads the pools "
            "over them. The pools' limits are totals, so the node count stays as it would be in a zone, but the "
            "system pool starts with a node in every zone until the autoscaler removes the extras, traffic "
            "between zones is billed, and GKE's free tier covers only a zonal cluster's fee; "
            f"name a zone such as {location}-b unless you need a zone's outage not to stop the cluster",
        )

    # Optional: kubectl, `pulumi up` and CI reach the API through the DNS
    # endpoint (authorised by IAM); these ranges open the IP endpoint too.
    networks = read.cidrs("masterAuthorizedNetworks", "the Kubernetes API")

    cidr_fix = "use a private CIDR such as 10.10.0.0/20"
    node_cidr = read.parsed("nodeCidr", parse_cidr, cidr_fix, "10.10.0.0/20")
    pod_cidr = read.parsed("podCidr", parse_cidr, cidr_fix, "10.20.0.0/14")
    service_cidr = read.parsed("serviceCidr", parse_cidr, cidr_fix, "10.24.0.0/20")
    ranges = {"nodeCidr": node_cidr, "podCidr": pod_cidr, "serviceCidr": service_cidr}
    keys = list(ranges)
    for i, first in enumerate(keys):
        for second in keys[i + 1 :]:
            if ipaddress.ip_network(ranges[first]).overlaps(ipaddress.ip_network(ranges[second])):
                read.fail(second, f"{ranges[second]} overlaps {first} {ranges[first]}; pick disjoint ranges")

    system_machine, worker_machine = machine_types(read)

    weekend: tuple[str, ...] = ("SA", "SU")
    maintenance = read.parsed("maintenanceWindow", parse_maintenance, "GKE upgrades only inside it", (weekend, "01:00"))

    max_nodes = worker_pool_size(read, worker_machine, workers, worker_cpu, worker_memory, sweeps, spark=spark)

    return GkeSettings(
        project=gcp_project or "",
        location=location,
        region=region,
        release_channel=read.choice("releaseChannel", RELEASE_CHANNELS),
        master_authorized_networks=networks,
        maintenance_days=maintenance[0],
        maintenance_start=maintenance[1],
        node_cidr=node_cidr,
        pod_cidr=pod_cidr,
        service_cidr=service_cidr,
        system_machine_type=system_machine,
        worker_machine_type=worker_machine,
        spot=read.boolean("spot"),
        worker_pool_max_nodes=max_nodes,
        regional=regional,
    )


def check_not_cluster_ranges(read: Reader, allowed: tuple[str, ...], gke: GkeSettings) -> None:
    """Users' addresses never lie in the cluster's own ranges: such an entry is a mistake."""
    own = {"nodeCidr": gke.node_cidr, "podCidr": gke.pod_cidr, "serviceCidr": gke.service_cidr}
    for item in allowed:
        network = ipaddress.ip_network(item)
        for key, cidr in own.items():
            if network.overlaps(ipaddress.ip_network(cidr)):
                read.fail(
                    "allowedSourceRanges",
                    f"{item} overlaps the cluster's own {key} {cidr}: those are the cluster's addresses, "
                    "not your users'. List the public addresses you connect from",
                )
