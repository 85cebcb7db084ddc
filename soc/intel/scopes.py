"""Which addresses are never looked up in a geo database, and the label each kind gets.

One declared table read by two evaluators: ``scope`` in Python (alerts, soc.intel.geo) and the ingest
pipeline's Painless step (soc.opensearch.geoip), which receives the table as bit-string prefixes.
Rows are tried in order and the first whose network holds the address names its kind; an address
outside the global unicast spaces (IPv4, and IPv6 2000::/3) that no row names is ``reserved``.
"""

from __future__ import annotations

import ipaddress

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

SPECIAL: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("documentation", ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32", "3fff::/20")),
    ("unspecified", ("0.0.0.0/32", "::/128")),
    ("loopback", ("127.0.0.0/8", "::1/128")),
    ("link-local", ("169.254.0.0/16", "fe80::/10")),
    ("multicast", ("224.0.0.0/4", "ff00::/8")),
    ("shared", ("100.64.0.0/10",)),
    ("private", ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")),
    # "this network", IETF protocol assignments, benchmarking, the old class E and broadcast
    ("reserved", ("0.0.0.0/8", "192.0.0.0/24", "198.18.0.0/15", "240.0.0.0/4", "2001::/23")),
)
# Where public addresses live: IPv4 (as IPv4-mapped IPv6, ::ffff:0:0/96) and IPv6 global unicast.
GLOBAL = ("::ffff:0:0/96", "2000::/3")
MAPPED = ipaddress.ip_network("::ffff:0:0/96")


def _as_v6(net: IPNetwork) -> ipaddress.IPv6Network:
    if isinstance(net, ipaddress.IPv4Network):
        return ipaddress.IPv6Network((int(MAPPED.network_address) | int(net.network_address), 96 + net.prefixlen))
    return net


def bits(net: str) -> str:
    """The network as the leading bits of a 128-bit address (an IPv4 network as IPv4-mapped IPv6)."""
    v6 = _as_v6(ipaddress.ip_network(net))
    return format(int(v6.network_address), "0128b")[: v6.prefixlen]


def prefixes() -> list[list[str]]:
    """[[bit prefix, kind], ...] in table order: the pipeline step's parameters."""
    return [[bits(net), kind] for kind, nets in SPECIAL for net in nets]


def scope(address: str) -> str | None:
    """None for a public address, else the kind of range it is in ("documentation", "private"...)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "invalid"
    v6 = ipaddress.IPv6Address(int(MAPPED.network_address) | int(ip)) if ip.version == 4 else ip
    for kind, nets in SPECIAL:
        if any(v6 in _as_v6(ipaddress.ip_network(n)) for n in nets):
            return kind
    if not any(v6 in ipaddress.ip_network(n) for n in GLOBAL):
        return "reserved"
    return None
