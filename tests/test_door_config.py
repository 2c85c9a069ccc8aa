"""The door keys read directly: HTTPS for a domain on GKE, or no LoadBalancer at all; each refusal word for word."""

from __future__ import annotations

import pytest

from components.config.door import parse_door
from components.ground.reader import Reader
from components.ground.settings import Door

RANGES = ("81.2.69.0/24",)


def door(
    engine: str = "r", platform: str = "gke", allowed: tuple[str, ...] = RANGES, project: str | None = "p-1", **raw: str
) -> tuple[Door | None, list[str]]:
    read = Reader(raw)
    return parse_door(read, engine, platform, allowed, project), read.problems


def test_a_domain_and_its_zone_with_ranges_on_gke_is_a_door() -> None:
    assert door(domain="Lab.Example.org", dnsZone="lab-zone") == (
        Door(domain="lab.example.org", dns_zone="lab-zone", project="p-1"),
        [],
    )
    assert door("hub", hubDomain="hub.example.org", hubDnsZone="z") == (
        Door(domain="hub.example.org", dns_zone="z", project="p-1"),
        [],
    )


def test_no_domain_and_no_ranges_is_no_door_and_no_problem() -> None:
    assert door(allowed=()) == (None, [])
    assert door("hub", platform="existing", allowed=()) == (None, [])


@pytest.mark.parametrize(
    ("engine", "what", "keys"),
    [
        ("r", "RStudio's login", "domain and dnsZone"),
        ("dask", "JupyterLab's login", "domain and dnsZone"),
        ("hub", "the hub's login page", "hubDomain and hubDnsZone"),
        ("toy", "the session's login", "domain and dnsZone"),
    ],
)
def test_ranges_without_a_domain_would_be_plain_http(engine: str, what: str, keys: str) -> None:
    assert door(engine) == (
        None,
        [
            f"kubepar:allowedSourceRanges: would serve {what} over plain HTTP through a LoadBalancer, so passwords "
            f"and session cookies would cross the internet readable; set {keys} for an HTTPS door, or remove "
            "allowedSourceRanges and use the portForward output (make forward)"
        ],
    )


@pytest.mark.parametrize(
    ("raw", "messages"),
    [
        (
            {"domain": "not a domain", "dnsZone": "z"},
            [
                "kubepar:domain: 'not a domain' is not a DNS name; use one such as lab.example.org, in your Cloud DNS "
                "zone"
            ],
        ),
        (
            {"domain": "lab.example.org", "dnsZone": "Lab_Zone"},
            ["kubepar:dnsZone: 'Lab_Zone' is not a Cloud DNS managed zone name; use the zone's name, such as lab-zone"],
        ),
        (
            {"domain": "lab.example.org"},
            [
                "kubepar:dnsZone: domain lab.example.org needs the Cloud DNS managed zone that serves it (gcloud dns "
                "managed-zones list), for its A record and the certificate's DNS challenge"
            ],
        ),
    ],
)
def test_a_malformed_domain_or_zone_is_named(raw: dict[str, str], messages: list[str]) -> None:
    assert door("r", "gke", RANGES, "p-1", **raw) == (None, messages)


def test_a_zone_alone_is_refused() -> None:
    assert door(allowed=(), dnsZone="z") == (
        None,
        ["kubepar:dnsZone: only applies with domain; remove it, or set domain"],
    )


def test_the_door_is_built_on_gke_only() -> None:
    assert door(platform="existing", domain="lab.example.org", dnsZone="z") == (
        None,
        [
            "kubepar:domain: the HTTPS door is built on GKE (Cloud DNS and Workload Identity); on an existing "
            "cluster put the session behind your own HTTPS ingress, or remove domain and use the portForward output"
        ],
    )


def test_a_domain_needs_ranges_to_have_a_load_balancer() -> None:
    assert door(allowed=(), domain="lab.example.org", dnsZone="z") == (
        None,
        [
            "kubepar:domain: names a public door, but allowedSourceRanges is empty, so there is no LoadBalancer to "
            "serve it; list the addresses your users connect from, or remove domain and use the portForward output"
        ],
    )


def test_engine_hub_reads_its_own_keys() -> None:
    _, problems = door("hub", domain="hub.example.org", dnsZone="z", hubDomain="hub.example.org", hubDnsZone="z")
    assert problems == [
        "kubepar:domain: engine hub reads hubDomain instead; move the value there",
        "kubepar:dnsZone: engine hub reads hubDnsZone instead; move the value there",
    ]


def test_no_door_on_ranges_already_refused() -> None:
    read = Reader({"domain": "lab.example.org", "dnsZone": "z"})
    read.fail("allowedSourceRanges", "refused")
    assert parse_door(read, "r", "gke", RANGES, "p-1") is None
    assert read.problems == ["kubepar:allowedSourceRanges: refused"]


def test_without_a_project_there_is_no_door_to_build() -> None:
    assert door(project=None, domain="lab.example.org", dnsZone="z") == (None, [])


@pytest.mark.parametrize("domain", ["a.io", "x" * 63 + ".example.org", "a-b.c-d.example.museum"])
def test_dns_names_at_the_edges_are_taken(domain: str) -> None:
    assert door(domain=domain, dnsZone="z")[1] == []


@pytest.mark.parametrize("domain", ["a.b", "x" * 64 + ".example.org", "-a.example.org", "example", "a..org"])
def test_names_no_dns_would_take_are_refused(domain: str) -> None:
    assert door(domain=domain, dnsZone="z")[1][0].startswith("kubepar:domain:")
