"""Where a webhook may point: public addresses only, unless the operator allows private ones.

A webhook URL names a host the service will POST to, from inside the SOC's network. Pointed at
loopback, link-local (cloud metadata), private or otherwise non-public addresses it would make
the service a probe of its own network, so such destinations are refused unless the setting
``webhook_allow_private`` is on. A host name is resolved and *every* address it resolves to must
be public; the check runs when a webhook is created and again before each delivery (the name may
resolve elsewhere later).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from soc.errors import Invalid

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _why_not_public(ip: IPAddress) -> str | None:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for test, what in ((ip.is_loopback, "loopback"), (ip.is_link_local, "link-local"),
                       (ip.is_unspecified, "unspecified"), (ip.is_multicast, "multicast"),
                       (ip.is_private, "private"), (ip.is_reserved, "reserved"), (not ip.is_global, "not public")):
        if test:
            return what
    return None


def resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Invalid(f"webhook host {host!r} cannot be resolved: {exc}") from None
    return sorted({ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos}, key=str)


def check(url: str, allow_private: bool) -> None:
    """Raise ``Invalid`` (a 4xx with the reason) unless ``url`` is an http(s) URL whose host
    resolves only to public addresses (any address when ``allow_private``)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid(f"a webhook URL must be http:// or https:// with a host, not {url[:200]!r}")
    if parts.username or parts.password:
        raise Invalid("a webhook URL must not carry a user name or password (the body is signed instead)")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise Invalid(f"the webhook URL has an invalid port: {url[:200]!r}") from None
    addresses = resolve(parts.hostname, port)
    if allow_private:
        return
    for ip in addresses:
        why = _why_not_public(ip)
        if why:
            raise Invalid(f"webhook host {parts.hostname!r} resolves to {ip}, a {why} address; "
                          "only public destinations are allowed unless the setting webhook_allow_private is on")
