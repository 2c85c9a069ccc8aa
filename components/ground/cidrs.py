"""How open a list of address ranges is, as one plain function.

Owns: parsing lists of ranges as Kubernetes and Go read them (IPv4-mapped
IPv6 as IPv4), and the floor below which a list is too open.

Shared by config (``allowedSourceRanges``, ``masterAuthorizedNetworks``) and
the policy pack (``loadBalancerSourceRanges``, authorized networks), so both
refuse the same lists. Standard library only: the policy pack imports it
from its own virtual environment.

The floor, and why: these lists name the addresses of a person or an
organisation's egress. The largest single allocation an organisation
routinely has is an IPv4 /16 or an IPv6 /48 (a site); anything wider,
alone or as the union of several entries (two /1 halves are the whole
internet), reaches far beyond the user. So: after merging, no block wider
than /16 (IPv4) or /48 (IPv6), and at most sixteen /16s of IPv4 addresses
(or sixteen /48s of IPv6) in all.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

# Where a cluster's own ranges may lie (RFC 1918 and RFC 6598's shared space,
# which GKE takes for VPC-native clusters), and what every pod's internet egress
# excludes: those, plus link-local space, where the node metadata server answers.
CLUSTER_RANGES = tuple(
    ipaddress.ip_network(cidr) for cidr in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")
)
PRIVATE_RANGES = (*(str(network) for network in CLUSTER_RANGES), "169.254.0.0/16")


def not_excluded(cidrs: Iterable[str]) -> list[str]:
    """The ranges among ``cidrs`` that PRIVATE_RANGES do not already cover."""
    covered = [ipaddress.ip_network(cidr) for cidr in PRIVATE_RANGES]
    return [
        cidr
        for cidr in cidrs
        if not any(ipaddress.ip_network(cidr).subnet_of(private) for private in covered)  # type: ignore[arg-type]
    ]


IPV4_FLOOR = 16
IPV6_FLOOR = 48
MAX_BLOCKS = 16

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


# IPv4-mapped IPv6 (RFC 4291): Go, and so Kubernetes, treat ::ffff:a.b.c.d as a.b.c.d.
_IPV4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
# Reserved for documentation (RFC 5737, RFC 3849): no user connects from them.
DOCUMENTATION = tuple(
    ipaddress.ip_network(cidr) for cidr in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
)


def as_routed(network: Network) -> Network:
    """The network as traffic sees it: an IPv4-mapped IPv6 block is the IPv4 block it maps."""
    if isinstance(network, ipaddress.IPv6Network) and network.subnet_of(_IPV4_MAPPED):
        first = ipaddress.IPv4Address(int(network.network_address) & 0xFFFFFFFF)
        return ipaddress.IPv4Network(f"{first}/{network.prefixlen - 96}")
    return network


def documentation(network: Network) -> bool:
    """Whether the block lies in a range reserved for documentation examples (a wider one is too open anyway)."""
    routed = as_routed(network)
    return any(routed.version == doc.version and routed.subnet_of(doc) for doc in DOCUMENTATION)  # type: ignore[arg-type]


def parse(values: Iterable[object]) -> tuple[list[Network], list[str]]:
    """Networks of the values that are CIDR blocks (IPv4-mapped blocks as IPv4), and the values that are not."""
    networks: list[Network] = []
    bad: list[str] = []
    for value in values:
        text = str(value)
        try:
            # strict=False: 10.0.0.1/8 still opens 10.0.0.0/8.
            networks.append(as_routed(ipaddress.ip_network(text.strip(), strict=False)))
        except ValueError:
            bad.append(text)
    return networks, bad


def too_open(networks: Iterable[Network]) -> str | None:
    """Why this list opens too much (merged, per address family), or None."""
    for version, floor in ((4, IPV4_FLOOR), (6, IPV6_FLOOR)):
        family = [n for n in networks if n.version == version]
        if not family:
            continue
        merged = list(ipaddress.collapse_addresses(family))  # type: ignore[type-var]
        widest = min(merged, key=lambda n: n.prefixlen)
        if widest.prefixlen < floor:
            whole = " (the whole internet)" if widest.prefixlen == 0 else ""
            return f"together they open {widest}{whole}, wider than /{floor}"
        total = sum(n.num_addresses for n in merged)
        limit = MAX_BLOCKS * 2 ** ((32 if version == 4 else 128) - floor)
        if total > limit:
            return f"together they open {total} IPv{version} addresses, more than {MAX_BLOCKS} /{floor} blocks"
    return None
