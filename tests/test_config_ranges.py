"""Config: address ranges, which must name the user's own addresses and nothing wider."""

from __future__ import annotations

import json

import pytest

from tests.conftest import OWN_ADDRESS, OWN_RANGE
from tests.test_config import parse, problems

# A LoadBalancer serves HTTPS only: the ranges come with a door.
DOOR = {"domain": "lab.example.org", "dnsZone": "lab-zone"}

# ------------------------------------------------------------- ranges that together open everything


@pytest.mark.parametrize("key", ["allowedSourceRanges", "masterAuthorizedNetworks"])
@pytest.mark.parametrize(
    ("ranges", "opened"),
    [
        (["0.0.0.0/1", "128.0.0.0/1"], "0.0.0.0/0 (the whole internet)"),
        (["::/1", "8000::/1"], "::/0 (the whole internet)"),
        (["10.128.0.0/9", "0.0.0.0/1", "128.0.0.0/2", "192.0.0.0/2"], "0.0.0.0/0 (the whole internet)"),
        (["198.18.0.0/15"], "198.18.0.0/15, wider than /16"),
        (["2a02:1388::/32"], "2a02:1388::/32, wider than /48"),
        # IPv4-mapped IPv6 is IPv4 to Kubernetes and Go.
        (["::ffff:0:0/97", "::ffff:128.0.0.0/97"], "0.0.0.0/0 (the whole internet)"),
        (["::ffff:10.0.0.0/104"], "10.0.0.0/8, wider than /16"),
        ([f"{n}.0.0.0/16" for n in range(100, 117)], "1114112 IPv4 addresses, more than 16 /16 blocks"),
    ],
)
def test_ranges_that_together_open_too_much_are_refused(key: str, ranges: list[str], opened: str) -> None:
    found = [p for p in problems(**{key: json.dumps(ranges)}) if p.startswith(f"kubepar:{key}:")]
    assert len(found) == 1, found
    assert "together they open" in found[0]
    assert opened in found[0]


@pytest.mark.parametrize(
    "ranges", [[f"{OWN_ADDRESS}/32"], ["81.2.70.0/24", OWN_RANGE], ["2a02:1388:1::/48"], ["198.18.0.0/16"]]
)
def test_own_addresses_pass(ranges: list[str]) -> None:
    settings = parse(allowedSourceRanges=json.dumps(ranges), **DOOR)
    assert settings.workload.allowed_source_ranges == tuple(ranges)


@pytest.mark.parametrize("key", ["allowedSourceRanges", "masterAuthorizedNetworks"])
@pytest.mark.parametrize(
    "cidr", ["203.0.113.0/24", "198.51.100.7/32", "192.0.2.0/28", "2001:db8::1/128", "::ffff:203.0.113.9/128"]
)
def test_documentation_ranges_are_refused_asking_for_your_own_address(key: str, cidr: str) -> None:
    found = [p for p in problems(**{key: json.dumps([cidr])}) if p.startswith(f"kubepar:{key}:")]
    assert len(found) == 1, found
    assert "reserved for documentation examples" in found[0]
    assert "put your own address there instead" in found[0]
    assert ("curl -6 ifconfig.me`, then add /128" if ":" in cidr else "curl -4 ifconfig.me`, then add /32") in found[0]


@pytest.mark.parametrize(("cidr", "help_"), [("81.2.69.7/24", "/32"), ("2a02:1388::1/48", "/128")])
def test_a_range_with_host_bits_gets_the_help_of_its_own_family(cidr: str, help_: str) -> None:
    found = problems(allowedSourceRanges=json.dumps([cidr]))
    assert any("is not a CIDR block" in p and f"one address with {help_}" in p for p in found), found


def test_bare_addresses_are_one_address() -> None:
    settings = parse(allowedSourceRanges=json.dumps([OWN_ADDRESS, "2a02:1388::1"]), **DOOR)
    assert settings.workload.allowed_source_ranges == (f"{OWN_ADDRESS}/32", "2a02:1388::1/128")


def test_the_api_needs_no_authorized_network_the_dns_endpoint_is_the_way_in() -> None:
    gke = parse(masterAuthorizedNetworks="[]").gke
    assert gke is not None and gke.master_authorized_networks == ()


@pytest.mark.parametrize(
    ("cidr", "own"), [("10.20.1.0/24", "podCidr"), ("10.10.0.5/32", "nodeCidr"), ("10.24.0.0/24", "serviceCidr")]
)
def test_allowed_ranges_inside_the_clusters_own_ranges_are_a_mistake(cidr: str, own: str) -> None:
    found = problems(allowedSourceRanges=json.dumps([cidr]))
    assert any(p.startswith(f"kubepar:allowedSourceRanges: {cidr} overlaps the cluster's own {own}") for p in found)
