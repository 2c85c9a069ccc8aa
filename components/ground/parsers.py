"""Value parsers: one key's text to a checked value, or ValueError saying why not.

Owns: the forms of quantities, sizes, namespaces, cluster ranges, dates,
maintenance windows and stack names. Does not: know which key a value came
from (the reader names it) or what the value is used for.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import date

from components.ground import quantities
from components.ground.cidrs import CLUSTER_RANGES
from components.ground.reader import Reader
from components.ground.settings import MAINTENANCE_HOURS

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_SNAPSHOT_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_MAINTENANCE = re.compile(r"((?:MO|TU|WE|TH|FR|SA|SU)(?:,(?:MO|TU|WE|TH|FR|SA|SU))*) ([01][0-9]|2[0-3]):([0-5][0-9])")
# Stack names go into the node service account id (kubepar-<stack>-nodes, at
# most 30 characters) and into label values: lowercase, digits and '-'.
_STACK_NAME = re.compile(r"[a-z]([a-z0-9-]{0,14}[a-z0-9])?")


def parse_snapshot(value: str) -> str:
    if not _SNAPSHOT_DATE.fullmatch(value):
        raise ValueError("expected a date YYYY-MM-DD such as 2026-06-30")
    day = date.fromisoformat(value)
    if day < date(2020, 1, 1) or day > date.today():
        raise ValueError("the snapshot date must lie between 2020-01-01 and today")
    return value


def parse_maintenance(value: str) -> tuple[tuple[str, ...], str]:
    match = _MAINTENANCE.fullmatch(value)
    if not match:
        raise ValueError("expected DAYS HH:MM in UTC, such as SA,SU 01:00")
    days = tuple(day for day in _WEEKDAYS if day in match[1].split(","))
    if len(days) < 2:
        # GKE wants 48 hours of windows in any 32 days: two 6-hour days a week give about 55.
        raise ValueError(f"name at least two days: GKE needs 48 hours of windows a month ({MAINTENANCE_HOURS} h each)")
    return days, f"{match[2]}:{match[3]}"


def check_stack_name(read: Reader, stack: str) -> None:
    if not _STACK_NAME.fullmatch(stack):
        read.problems.append(
            f"stack name {stack!r}: kubepar puts it into service account ids and labels, so it must be "
            "1-16 lowercase letters, digits or '-', starting with a letter; "
            "name its stack file so (Pulumi.dev-eu.yaml, then make up STACK=dev-eu)"
        )


# Upper bounds: the largest GCE machines have a few hundred vCPUs and about
# 12 TiB of memory; a persistent disk holds at most 64 TiB.
MAX_CPU_MILLIS = 512_000
MAX_MEMORY_BYTES = 12 * 1024**4
MAX_DISK_BYTES = 64 * 1024**4


def parse_cpu(value: str) -> str:
    millis = quantities.cpu_millis(value)
    if millis <= 0:
        raise ValueError("must be more than 0")
    if millis > MAX_CPU_MILLIS:
        raise ValueError(f"more than {MAX_CPU_MILLIS // 1000} CPUs, beyond any machine")
    return value


def parse_memory(value: str) -> str:
    size = quantities.memory_bytes(value)
    if size < 256 * 1024**2:
        raise ValueError("must be at least 256Mi")
    if size > MAX_MEMORY_BYTES:
        raise ValueError("more than 12Ti, beyond any machine")
    return value


def parse_disk(value: str) -> str:
    size = quantities.memory_bytes(value)
    if size < 1024**3:
        raise ValueError("must be at least 1Gi")
    if size > MAX_DISK_BYTES:
        raise ValueError("more than 64Ti, the largest persistent disk")
    return value


def parse_namespace(value: str) -> str:
    if not _DNS_LABEL.fullmatch(value):
        raise ValueError("a namespace is lowercase letters, digits and '-', at most 63")
    if value.startswith("kube-") or value == "default":
        # Kubernetes' own namespaces: kubepar would share them, and destroy would empty them.
        raise ValueError("kube-* and default belong to Kubernetes; use a namespace of the stack's own")
    return value


def parse_cidr(value: str) -> str:
    """A cluster range: IPv4, inside the private ranges GKE takes for VPC-native clusters and every pod's
    egress excludes (RFC 1918, and RFC 6598's shared space)."""
    network = ipaddress.ip_network(value, strict=True)
    if network.version != 4:
        raise ValueError("cluster ranges are IPv4 here")
    if not any(network.subnet_of(private) for private in CLUSTER_RANGES):  # type: ignore[arg-type]
        raise ValueError(
            f"cluster ranges must be private: inside {', '.join(map(str, CLUSTER_RANGES))} "
            "(reserved, benchmarking, link-local and public blocks are refused)"
        )
    return str(network)
