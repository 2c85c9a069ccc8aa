"""Address ranges: how open a list is, at each edge of the floor, and what egress always excludes.

Every expected value is written out: the floor is RFC-sized (an IPv4 /16, an IPv6 /48, sixteen of them),
the private ranges are RFC 1918, RFC 6598 and RFC 3927's link-local block, the documentation ranges
RFC 5737 and RFC 3849.
"""

from __future__ import annotations

import ipaddress

import pytest

from components.ground import cidrs


def too_open(*values: str) -> str | None:
    networks, bad = cidrs.parse(values)
    assert bad == []
    return cidrs.too_open(networks)


@pytest.mark.parametrize("block", ["81.2.0.0/16", "81.2.69.7/32", "2a00:1450:4000::/48", "2a00:1450:4000:1::/64"])
def test_a_block_at_the_floor_or_narrower_is_open_enough(block: str) -> None:
    assert too_open(block) is None


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (("81.2.0.0/15",), "together they open 81.2.0.0/15, wider than /16"),
        (("2a00:1450::/47",), "together they open 2a00:1450::/47, wider than /48"),
        (("0.0.0.0/0",), "together they open 0.0.0.0/0 (the whole internet), wider than /16"),
        # Two halves merge into the whole internet; two adjacent /17s into a /16 are fine (below).
        (("0.0.0.0/1", "128.0.0.0/1"), "together they open 0.0.0.0/0 (the whole internet), wider than /16"),
        (("::/0",), "together they open ::/0 (the whole internet), wider than /48"),
    ],
)
def test_a_block_one_step_wider_than_the_floor_is_refused(values: tuple[str, ...], message: str) -> None:
    assert too_open(*values) == message


def test_adjacent_blocks_are_merged_before_the_floor_is_applied() -> None:
    assert too_open("81.2.0.0/17", "81.2.128.0/17") is None
    assert too_open("81.2.0.0/16", "81.3.0.0/16") == "together they open 81.2.0.0/15, wider than /16"


def sixteens(count: int, version: int = 4) -> list[str]:
    # Every other /16 (or /48): none merge into a wider block.
    if version == 4:
        return [f"{10 + index * 2}.0.0.0/16" for index in range(count)]
    return [f"2a00:{index * 2:x}::/48" for index in range(count)]


def test_sixteen_blocks_at_the_floor_are_allowed_and_seventeen_are_not() -> None:
    assert too_open(*sixteens(16)) is None
    assert too_open(*sixteens(17)) == "together they open 1114112 IPv4 addresses, more than 16 /16 blocks"
    assert too_open(*sixteens(16, version=6)) is None
    seventeen = 17 * 2**80
    assert (
        too_open(*sixteens(17, version=6)) == f"together they open {seventeen} IPv6 addresses, more than 16 /48 blocks"
    )


def test_each_family_is_judged_on_its_own() -> None:
    assert too_open("81.2.69.0/24", "2a00::/47") == "together they open 2a00::/47, wider than /48"
    assert too_open("81.0.0.0/15", "2a00::/64") == "together they open 81.0.0.0/15, wider than /16"
    assert cidrs.too_open([]) is None


def test_ipv4_mapped_ipv6_is_judged_as_the_ipv4_block_it_maps() -> None:
    networks, _ = cidrs.parse(["::ffff:0:0/96"])
    assert networks == [ipaddress.IPv4Network("0.0.0.0/0")]
    assert cidrs.as_routed(ipaddress.IPv6Network("::ffff:a00:0/104")) == ipaddress.IPv4Network("10.0.0.0/8")
    plain = ipaddress.IPv6Network("2a00::/48")
    assert cidrs.as_routed(plain) is plain
    four = ipaddress.IPv4Network("81.2.0.0/16")
    assert cidrs.as_routed(four) is four


def test_parse_keeps_what_is_not_a_block_as_written() -> None:
    networks, bad = cidrs.parse(["10.0.0.1/8", " 81.2.69.7/32 ", "10.0.0.0/33", "x", 7])
    # strict=False: a host address with a prefix opens its whole block.
    assert networks == [ipaddress.IPv4Network("10.0.0.0/8"), ipaddress.IPv4Network("81.2.69.7/32")]
    assert bad == ["10.0.0.0/33", "x", "7"]


def test_the_excluded_private_ranges_are_exactly_the_rfc_ones() -> None:
    assert cidrs.PRIVATE_RANGES == ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16")


@pytest.mark.parametrize(
    ("cidr", "kept"),
    [
        ("10.20.0.0/14", False),
        ("172.31.255.0/24", False),
        ("172.32.0.0/16", True),  # just past 172.16.0.0/12
        ("192.168.7.0/24", False),
        ("192.169.0.0/16", True),
        ("100.127.0.0/16", False),
        ("100.128.0.0/16", True),  # just past 100.64.0.0/10
        ("169.254.169.254/32", False),  # the metadata server
        ("169.255.0.0/16", True),
        ("34.118.0.5/32", True),  # an API server's public address
        ("10.0.0.0/7", True),  # wider than the private block it starts in
    ],
)
def test_egress_exclusion_names_each_range_no_private_block_covers(cidr: str, kept: bool) -> None:
    assert cidrs.not_excluded([cidr]) == ([cidr] if kept else [])


@pytest.mark.parametrize(
    ("cidr", "documentation"),
    [
        ("192.0.2.0/24", True),
        ("192.0.2.7/32", True),
        ("198.51.100.0/24", True),
        ("203.0.113.128/25", True),
        ("2001:db8:1::/48", True),
        ("::ffff:192.0.2.0/120", True),
        ("192.0.3.0/24", False),
        ("198.51.101.0/24", False),
        ("203.0.112.0/24", False),
        ("2001:db9::/48", False),
        ("192.0.2.0/23", False),  # wider than the documentation block: too open anyway
    ],
)
def test_documentation_ranges_are_recognised_and_their_neighbours_are_not(cidr: str, documentation: bool) -> None:
    networks, _ = cidrs.parse([cidr])
    assert cidrs.documentation(networks[0]) is documentation


def test_the_widest_of_several_blocks_is_the_one_judged() -> None:
    assert too_open("81.2.69.0/24", "90.0.0.0/15", "81.3.0.0/24") == "together they open 90.0.0.0/15, wider than /16"
