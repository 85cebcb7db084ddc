"""Indicators as the importers produce them: typed atoms, normalized and checked for breadth.

An atom is one observable (an address or network, a domain, a URL, a file hash). An indicator is a
conjunction of atoms that must all be seen in the same event (most have one atom; a STIX pattern
``[a AND b]`` has two). Parsers give each indicator the place it came from (``where``: a line, an
object id), so every error names it.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass, field
from functools import lru_cache

from publicsuffixlist import PublicSuffixList

# ECS threat.indicator.type values the service matches
IP_TYPES = ("ipv4-addr", "ipv6-addr")
TYPES = (*IP_TYPES, "domain-name", "url", "file")
HASH_LENGTHS = {32: "md5", 40: "sha1", 64: "sha256"}
HASH_ALGORITHMS = ("md5", "sha1", "sha256")
URL_SCHEMES = ("http", "https", "ftp")
# Networks wider than these would match a large share of all traffic (0.0.0.0/0 is everything).
MIN_PREFIX = {4: 8, 6: 32}
_HEX = re.compile(r"^[0-9a-f]+$")
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")


class IndicatorError(ValueError):
    """An indicator that cannot be imported; the message names where it came from."""


@lru_cache(maxsize=1)
def _suffixes() -> PublicSuffixList:
    # The Public Suffix List as the maintained package ships it (no download at run time).
    return PublicSuffixList()


@dataclass(frozen=True)
class Atom:
    type: str  # one of TYPES
    value: str  # normalized: an address or network (CIDR), a lower-case domain, a URL, a lower-case hex hash
    hash: str | None = None  # md5 | sha1 | sha256 for type "file"

    @property
    def key(self) -> str:
        return f"{self.type}:{self.hash or ''}:{self.value}"

    @property
    def label(self) -> str:
        return f"{self.hash}:{self.value}" if self.hash else self.value


@dataclass
class Indicator:
    atoms: tuple[Atom, ...]
    where: str  # "line 4", "indicator--9c1e...", "attribute 5f1a..."
    confidence: int | None = None  # 0-100
    valid_from: str | None = None  # ISO 8601
    valid_until: str | None = None
    description: str = ""
    source_ref: str = ""  # the feed's own id (STIX id, MISP uuid), when it has one
    tags: list[str] = field(default_factory=list)

    @property
    def type(self) -> str:
        return self.atoms[0].type

    @property
    def name(self) -> str:
        return " AND ".join(a.label for a in self.atoms)

    def ident(self, feed: str) -> str:
        """Deterministic id: the feed and the atoms (a re-import of the same indicator updates it)."""
        key = "\x00".join([feed, *sorted(a.key for a in self.atoms)])
        return hashlib.sha256(key.encode()).hexdigest()[:40]


def ip_atom(value: str) -> Atom:
    try:
        net = ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise IndicatorError(f"{value!r} is not an IP address or network") from None
    if net.prefixlen < MIN_PREFIX[net.version]:
        raise IndicatorError(f"{value!r} is too broad: a /{net.prefixlen} network would match a large share of "
                             f"all traffic (at least /{MIN_PREFIX[net.version]} is accepted)")
    if net.network_address.is_unspecified or (net.num_addresses == 1 and net.network_address.is_multicast):
        raise IndicatorError(f"{value!r} is not a usable indicator (unspecified or multicast address)")
    if net.version == 4 and net.network_address == ipaddress.IPv4Address("255.255.255.255"):
        raise IndicatorError(f"{value!r} is the broadcast address")
    text = str(net.network_address) if net.num_addresses == 1 else str(net)
    return Atom("ipv4-addr" if net.version == 4 else "ipv6-addr", text)


def domain_atom(value: str) -> Atom:
    text = value.strip().rstrip(".").lower()
    if text.startswith("*."):
        raise IndicatorError(f"{value!r}: wildcard domains are not supported (give the domain itself)")
    try:
        text = text.encode("idna").decode("ascii") if any(ord(c) > 127 for c in text) else text
    except UnicodeError:
        raise IndicatorError(f"{value!r} is not a valid domain name") from None
    labels = text.split(".")
    if len(text) > 253 or not all(_LABEL.match(label) for label in labels):
        raise IndicatorError(f"{value!r} is not a valid domain name")
    if len(labels) < 2 or _suffixes().is_public(text):
        raise IndicatorError(f"{value!r} is too broad: it is a public suffix (a top-level or registry domain "
                             "such as com or gov.vn) under which anyone can register names")
    return Atom("domain-name", text)


def url_atom(value: str) -> Atom:
    """An http, https or ftp URL; one without a scheme (``host/path``, as some feeds write them) is http."""
    text = value.strip()
    if "://" not in text and re.match(r"^[A-Za-z0-9.-]+\.[A-Za-z]{2,}(:\d+)?/", text):
        text = f"http://{text}"
    m = re.match(r"^([a-z][a-z0-9+.-]*)://([^/?#]+)", text, re.IGNORECASE)
    if not m or any(c.isspace() for c in text):
        raise IndicatorError(f"{value!r} is not a URL (scheme://host/...)")
    if m.group(1).lower() not in URL_SCHEMES:
        raise IndicatorError(f"{value!r}: only {', '.join(URL_SCHEMES)} URLs are matched")
    if len(text) > 8191:
        raise IndicatorError(f"URL of {len(text)} characters is longer than the 8191 the service indexes")
    host = m.group(2).rsplit("@", 1)[-1].split(":")[0].strip("[]").lower()
    if not host:
        raise IndicatorError(f"{value!r} has no host")
    return Atom("url", text)


def hash_atom(value: str, algorithm: str | None = None) -> Atom:
    text = value.strip().lower()
    guessed = HASH_LENGTHS.get(len(text))
    alg = (algorithm or guessed or "").lower().replace("-", "")
    if alg not in HASH_ALGORITHMS or not _HEX.match(text) or guessed != alg:
        raise IndicatorError(f"{value!r} is not a {algorithm or 'MD5, SHA-1 or SHA-256'} hash")
    return Atom("file", text, alg)


def atom(kind: str, value: str) -> Atom:
    """An atom of a declared kind: an ECS type, ``ip``, ``domain``, ``hostname`` or a hash algorithm."""
    k = kind.strip().lower()
    if k in ("ip", "ipv4-addr", "ipv6-addr", "ipv4", "ipv6", "cidr", "ip-src", "ip-dst"):
        return ip_atom(value)
    if k in ("domain", "domain-name", "hostname", "fqdn"):
        return domain_atom(value)
    if k in ("url", "uri", "link"):
        return url_atom(value)
    if k.replace("-", "") in HASH_ALGORITHMS:
        return hash_atom(value, k.replace("-", ""))
    if k in ("file", "hash"):
        return hash_atom(value)
    raise IndicatorError(f"unknown indicator type {kind!r} (ip, domain, url, md5, sha1, sha256)")


def guess(value: str) -> Atom:
    """The atom a bare value stands for: an address or network, a hash, a URL, else a domain."""
    text = value.strip()
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        pass
    else:
        return ip_atom(text)
    if len(text) in HASH_LENGTHS and _HEX.match(text.lower()):
        return hash_atom(text)
    if "://" in text:
        return url_atom(text)
    return domain_atom(text)


def confidence(value: object, where: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        raise IndicatorError(f"{where}: confidence {value!r} is not a whole number from 0 to 100") from None
    if not 0 <= number <= 100:
        raise IndicatorError(f"{where}: confidence {number} is not between 0 and 100")
    return number


def timestamp(value: object, where: str, what: str) -> str | None:
    """An ISO 8601 time (or epoch seconds) as UTC ISO text; a time without zone is taken as UTC."""
    from datetime import UTC, datetime

    if value in (None, ""):
        return None
    text = str(value).strip()
    try:
        moment = datetime.fromtimestamp(float(text), UTC) if re.fullmatch(r"\d{9,11}(\.\d+)?", text) \
            else datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        raise IndicatorError(f"{where}: {what} {value!r} is not a date and time (ISO 8601)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
