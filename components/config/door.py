"""The public door's config: a LoadBalancer serves HTTPS for a domain, or there is none.

Owns: reading ``domain`` and ``dnsZone`` (engines r and dask) or ``hubDomain``
and ``hubDnsZone`` (engine hub) into a :class:`Door`, and the rule every
engine follows: a password never crosses the internet in plain text, so
``allowedSourceRanges`` (a LoadBalancer) needs a door with a certificate, and
without one the portForward output is the way in. Does not: build the door
(engines/https_front.py, gcp/https_door.py).
Invariant: a door exists only on GKE, with its zone, and with source ranges.
"""

from __future__ import annotations

import re

from components.ground.reader import Reader
from components.ground.settings import Door

_DOMAIN = re.compile(r"(?=.{4,253}$)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
_ZONE = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?")
WHAT = {"r": "RStudio's login", "dask": "JupyterLab's login", "hub": "the hub's login page"}


def parse_door(read: Reader, engine: str, platform: str, allowed: tuple[str, ...], project: str | None) -> Door | None:
    """The door the engine's keys describe, checked; None when there is none (or a problem)."""
    domain_key, zone_key = ("hubDomain", "hubDnsZone") if engine == "hub" else ("domain", "dnsZone")
    if engine == "hub":
        for key, instead in (("domain", "hubDomain"), ("dnsZone", "hubDnsZone")):
            if read.text(key):
                read.fail(key, f"engine hub reads {instead} instead; move the value there")
    domain = read.text(domain_key).strip().lower() or None
    zone = read.text(zone_key).strip() or None
    what = WHAT.get(engine, "the session's login")
    if domain is not None and not _DOMAIN.fullmatch(domain):
        read.fail(domain_key, f"{domain!r} is not a DNS name; use one such as lab.example.org, in your Cloud DNS zone")
    if zone is not None and not _ZONE.fullmatch(zone):
        read.fail(zone_key, f"{zone!r} is not a Cloud DNS managed zone name; use the zone's name, such as lab-zone")
    if allowed and domain is None and not read.failed(domain_key):
        read.fail(
            "allowedSourceRanges",
            f"would serve {what} over plain HTTP through a LoadBalancer, so passwords and session cookies would "
            f"cross the internet readable; set {domain_key} and {zone_key} for an HTTPS door, or remove "
            "allowedSourceRanges and use the portForward output (make forward)",
        )
    if domain is None:
        if zone is not None:
            read.fail(zone_key, f"only applies with {domain_key}; remove it, or set {domain_key}")
        return None
    if platform != "gke":
        read.fail(
            domain_key,
            "the HTTPS door is built on GKE (Cloud DNS and Workload Identity); on an existing cluster put the "
            f"session behind your own HTTPS ingress, or remove {domain_key} and use the portForward output",
        )
    elif zone is None:
        read.fail(
            zone_key,
            f"{domain_key} {domain} needs the Cloud DNS managed zone that serves it (gcloud dns managed-zones "
            "list), for its A record and the certificate's DNS challenge",
        )
    if not allowed:
        read.fail(
            domain_key,
            "names a public door, but allowedSourceRanges is empty, so there is no LoadBalancer to serve it; "
            f"list the addresses your users connect from, or remove {domain_key} and use the portForward output",
        )
    if read.failed(domain_key, zone_key, "allowedSourceRanges") or zone is None or project is None:
        return None
    return Door(domain=domain, dns_zone=zone, project=project)
