"""Who is on the other end: the client address and scheme, believing forwarded headers only
from the reverse proxies the operator named (``trusted_proxies``).

Uvicorn runs with its own proxy-header handling off, so a request's peer is the TCP peer. When
that peer is a trusted proxy, the client is the right-most ``X-Forwarded-For`` address that is
not itself a trusted proxy (the left-most entries are whatever the client chose to send), and
``X-Forwarded-Proto: https`` marks the request as arrived over TLS.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from fastapi import Request

from soc.errors import ConfigError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(spec: str) -> tuple[Network, ...]:
    out = []
    for item in (x.strip() for x in spec.split(",")):
        if not item:
            continue
        try:
            out.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(f"trusted_proxies: {item!r} is not an address or network") from None
    return tuple(out)


@dataclass(frozen=True)
class ProxyPolicy:
    trusted: tuple[Network, ...] = ()
    force_secure: bool = False

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.strip())
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in net for net in self.trusted)

    def client_address(self, request: Request) -> str:
        peer = request.client.host if request.client else "unknown"
        if not self._trusted(peer):
            return peer
        chain = [x.strip() for h in request.headers.getlist("x-forwarded-for") for x in h.split(",") if x.strip()]
        for address in reversed(chain):
            if not self._trusted(address):
                try:
                    return str(ipaddress.ip_address(address))
                except ValueError:
                    return peer  # garbage from beyond the proxy: count it on the proxy's address
        return peer

    def secure(self, request: Request) -> bool:
        if self.force_secure or request.url.scheme == "https":
            return True
        peer = request.client.host if request.client else ""
        proto = request.headers.get("x-forwarded-proto", "").split(",")[-1].strip().lower()
        return proto == "https" and self._trusted(peer)


def policy(request: Request) -> ProxyPolicy:
    found = getattr(request.app.state, "console_proxy", None)
    return found if isinstance(found, ProxyPolicy) else ProxyPolicy()
