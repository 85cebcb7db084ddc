"""The collector's YAML configuration, checked against a declared schema with line numbers.

Example (every key not marked required has the default shown)::

    organization:
      id: so-tttt                       # required: the agency (its data streams: logs-syslog-so-tttt, logs-web-so-tttt)
    collector:
      id: col-hanoi-01                  # required: this collector (agent.id / observer.name)
      queue_dir: /var/lib/soc-collector # required: the disk queue (one collector, one folder)
      queue_max_bytes: 1073741824       # size cap; when full TCP/TLS stop reading, UDP drops (counted)
      segment_bytes: 67108864
      timezone: UTC                     # default for sources whose timestamps carry no offset
      heartbeat_seconds: 60
    opensearch:
      url: http://127.0.0.1:9200        # required; several nodes comma-separated for fail-over
      user: null
      password: null
      ca_file: null
      verify_certs: true
      index_prefix: ""                  # tests and shared clusters keep apart with a prefix
    sink:
      batch_max_events: 5000
      batch_max_bytes: 8388608
      in_flight: 2                      # bulk requests sent at once (acknowledged in queue order)
      gzip: true
      retry_initial_seconds: 0.5
      retry_max_seconds: 30
      unhealthy_after_seconds: 60       # /health degrades after the sink failed this long
      request_timeout_seconds: 60
    metrics:
      listen: 127.0.0.1:9108            # loopback only (no authentication); port 0: the system picks
    sources:
      - id: fw-core-01                  # required: log.source.id
        type: syslog
        protocol: udp                   # udp | tcp | tls
        listen: 0.0.0.0:514             # required
        timezone: Asia/Ho_Chi_Minh      # defaults to collector.timezone
        max_message_bytes: 65536        # longer messages are truncated and tagged, never dropped
        max_connections: 512            # tcp/tls: open connections at once, all senders together
        max_connections_per_peer: 16    # tcp/tls: open connections from one address
        idle_timeout_seconds: 300       # tcp/tls: a connection silent this long is closed
        allowed_networks: []            # sender networks (CIDR) let in; empty: all; others refused, counted
        tls: {cert: FILE, key: FILE, ca: FILE, client_auth: none}   # tls only; none | optional | required

A wrong key or value is refused with ``FILE:LINE: what is wrong``. A listen port 0 lets the
system pick; the collector writes the ports it got to ``runtime.json`` in the queue folder.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from collectors.contract.names import AGENCY_ID_RULE, is_agency_id
from collectors.fileconfig import FileOptions, file_source

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_PREFIX = re.compile(r"^[a-z0-9._-]{0,64}$")


class CollectorConfigError(Exception):
    """The configuration is wrong; the message starts with ``FILE:LINE:``."""


@dataclass(frozen=True)
class TlsConfig:
    cert: Path
    key: Path
    ca: Path | None = None
    client_auth: str = "none"


@dataclass(frozen=True)
class SourceConfig:
    id: str
    protocol: str
    host: str
    port: int
    type: str = "syslog"
    timezone: str = "UTC"
    max_message_bytes: int = 65536
    max_connections: int = 512
    max_connections_per_peer: int = 16
    idle_timeout_seconds: float = 300.0
    allowed_networks: tuple[IPNetwork, ...] = ()
    tls: TlsConfig | None = None
    file: FileOptions | None = None  # type: file (tailed files; see collectors.fileconfig)


@dataclass(frozen=True)
class OpenSearchConfig:
    url: str
    user: str | None = None
    password: str | None = None
    ca_file: Path | None = None
    verify_certs: bool = True
    index_prefix: str = ""


@dataclass(frozen=True)
class SinkConfig:
    batch_max_events: int = 5000
    batch_max_bytes: int = 8 * 1024 * 1024
    in_flight: int = 2
    gzip: bool = True
    retry_initial_seconds: float = 0.5
    retry_max_seconds: float = 30.0
    unhealthy_after_seconds: float = 60.0
    request_timeout_seconds: float = 60.0


@dataclass(frozen=True)
class CollectorConfig:
    organization_id: str
    collector_id: str
    queue_dir: Path
    opensearch: OpenSearchConfig
    sources: tuple[SourceConfig, ...]
    queue_max_bytes: int = 1024 * 1024 * 1024
    segment_bytes: int = 64 * 1024 * 1024
    timezone: str = "UTC"
    heartbeat_seconds: float = 60.0
    sink: SinkConfig = field(default_factory=SinkConfig)
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9108


class _Reader:
    """Walks composed YAML nodes, so that every error names its line."""

    def __init__(self, path: str) -> None:
        self.file = path

    def fail(self, node: yaml.Node, message: str) -> CollectorConfigError:
        return CollectorConfigError(f"{self.file}:{node.start_mark.line + 1}: {message}")

    def mapping(self, node: yaml.Node, where: str, keys: set[str], required: set[str]) -> dict[str, yaml.Node]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{where} must be a mapping")
        out: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key not in keys:
                raise self.fail(key_node, f"unknown key {key!r} under {where} (known: {', '.join(sorted(keys))})")
            if key in out:
                raise self.fail(key_node, f"{where}.{key} is given twice")
            out[key] = value_node
        for key in sorted(required - out.keys()):
            raise self.fail(node, f"{key if where == 'the file' else where + '.' + key} is required")
        return out

    def scalar(self, node: yaml.Node, name: str) -> str | None:
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node, f"{name} must be a single value")
        if node.tag == "tag:yaml.org,2002:null":
            return None
        return str(node.value)

    def text(self, node: yaml.Node, name: str, pattern: re.Pattern[str] | None = None) -> str:
        value = self.scalar(node, name)
        if value is None or (pattern is not None and not pattern.match(value)):
            raise self.fail(node, f"{name} has an invalid value {value!r}")
        return value

    def optional_text(self, node: yaml.Node | None, name: str) -> str | None:
        return None if node is None else self.scalar(node, name)

    def number(self, node: yaml.Node, name: str, kind: type[int] | type[float], low: float) -> Any:
        value = self.scalar(node, name)
        try:
            number = kind(value or "")
        except ValueError:
            raise self.fail(node, f"{name} must be a number, not {value!r}") from None
        if number < low:
            raise self.fail(node, f"{name} must be at least {low}")
        return number

    def boolean(self, node: yaml.Node, name: str) -> bool:
        value = (self.scalar(node, name) or "").lower()
        if value in {"true", "yes", "on", "1"}:
            return True
        if value in {"false", "no", "off", "0"}:
            return False
        raise self.fail(node, f"{name} must be true or false, not {value!r}")

    def timezone(self, node: yaml.Node, name: str) -> str:
        value = self.text(node, name)
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise self.fail(node, f"{name}: unknown time zone {value!r}") from None
        return value

    def address(self, node: yaml.Node, name: str, loopback: bool = False) -> tuple[str, int]:
        value = self.text(node, name)
        host, sep, port_text = value.rpartition(":")
        host = host.strip("[]")
        try:
            ip = ipaddress.ip_address(host)
            port = int(port_text)
        except ValueError:
            raise self.fail(node, f"{name} must be ADDRESS:PORT with a numeric address, not {value!r}") from None
        if not sep or not 0 <= port <= 65535:
            raise self.fail(node, f"{name} has an invalid port in {value!r}")
        if loopback and not ip.is_loopback:
            raise self.fail(node, f"{name} must be a loopback address (the endpoint has no authentication)")
        return str(ip), port

    def networks(self, node: yaml.Node, name: str) -> tuple[IPNetwork, ...]:
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, f"{name} must be a list of networks such as 10.1.0.0/16")
        out = []
        for item in node.value:
            value = self.text(item, name)
            try:
                out.append(ipaddress.ip_network(value, strict=False))
            except ValueError:
                raise self.fail(item, f"{name}: {value!r} is not a network (CIDR, e.g. 10.1.0.0/16)") from None
        return tuple(out)

    def path(self, node: yaml.Node, name: str, must_exist: bool) -> Path:
        p = Path(self.text(node, name)).expanduser()
        if must_exist and not p.is_file():
            raise self.fail(node, f"{name}: no such file {str(p)!r}")
        return p


def _source(r: _Reader, node: yaml.Node, index: int, default_tz: str, seen: dict[str, int]) -> SourceConfig:
    where = f"sources[{index}]"
    if isinstance(node, yaml.MappingNode) and any(k.value == "type" and v.value == "file" for k, v in node.value):
        source = file_source(r, node, where, default_tz)
        if source.id in seen:
            raise r.fail(node, f"source id {source.id!r} is already used on line {seen[source.id]}")
        seen[source.id] = node.start_mark.line + 1
        return source
    m = r.mapping(node, where, {"id", "type", "protocol", "listen", "timezone", "max_message_bytes",
                                "max_connections", "max_connections_per_peer", "idle_timeout_seconds",
                                "allowed_networks", "tls"}, {"id", "protocol", "listen"})
    sid = r.text(m["id"], f"{where}.id", _ID)
    if sid in seen:
        raise r.fail(m["id"], f"source id {sid!r} is already used on line {seen[sid]}")
    seen[sid] = m["id"].start_mark.line + 1
    kind = r.text(m["type"], f"{where}.type") if "type" in m else "syslog"
    if kind != "syslog":
        raise r.fail(m["type"], f"{where}.type {kind!r} is not supported by this collector (syslog)")
    protocol = r.text(m["protocol"], f"{where}.protocol")
    if protocol not in {"udp", "tcp", "tls"}:
        raise r.fail(m["protocol"], f"{where}.protocol must be udp, tcp or tls, not {protocol!r}")
    host, port = r.address(m["listen"], f"{where}.listen")
    tls = None
    if protocol == "tls":
        if "tls" not in m:
            raise r.fail(node, f"{where}.tls is required for protocol tls")
        t = r.mapping(m["tls"], f"{where}.tls", {"cert", "key", "ca", "client_auth"}, {"cert", "key"})
        auth = r.text(t["client_auth"], f"{where}.tls.client_auth") if "client_auth" in t else "none"
        if auth not in {"none", "optional", "required"}:
            raise r.fail(t["client_auth"], f"{where}.tls.client_auth must be none, optional or required")
        ca = r.path(t["ca"], f"{where}.tls.ca", True) if "ca" in t else None
        if auth != "none" and ca is None:
            raise r.fail(m["tls"], f"{where}.tls.ca is required to verify client certificates")
        tls = TlsConfig(r.path(t["cert"], f"{where}.tls.cert", True), r.path(t["key"], f"{where}.tls.key", True),
                        ca, auth)
    elif "tls" in m:
        raise r.fail(m["tls"], f"{where}.tls is only for protocol tls")
    return SourceConfig(
        id=sid, protocol=protocol, host=host, port=port, type=kind,
        timezone=r.timezone(m["timezone"], f"{where}.timezone") if "timezone" in m else default_tz,
        max_message_bytes=r.number(m["max_message_bytes"], f"{where}.max_message_bytes", int, 64)
        if "max_message_bytes" in m else 65536,
        max_connections=r.number(m["max_connections"], f"{where}.max_connections", int, 1)
        if "max_connections" in m else 512,
        max_connections_per_peer=r.number(m["max_connections_per_peer"], f"{where}.max_connections_per_peer", int, 1)
        if "max_connections_per_peer" in m else 16,
        idle_timeout_seconds=r.number(m["idle_timeout_seconds"], f"{where}.idle_timeout_seconds", float, 0.1)
        if "idle_timeout_seconds" in m else 300.0,
        allowed_networks=r.networks(m["allowed_networks"], f"{where}.allowed_networks")
        if "allowed_networks" in m else (),
        tls=tls,
    )


def parse_config(text: str, path: str = "<config>") -> CollectorConfig:
    r = _Reader(path)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise CollectorConfigError(f"{path}:{line}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if root is None:
        raise CollectorConfigError(f"{path}:1: the file is empty")
    top = r.mapping(root, "the file", {"organization", "collector", "opensearch", "sink", "metrics", "sources"},
                    {"organization", "collector", "opensearch", "sources"})
    org = r.mapping(top["organization"], "organization", {"id"}, {"id"})
    col = r.mapping(top["collector"], "collector", {"id", "queue_dir", "queue_max_bytes", "segment_bytes",
                                                    "timezone", "heartbeat_seconds"}, {"id", "queue_dir"})
    tz = r.timezone(col["timezone"], "collector.timezone") if "timezone" in col else "UTC"
    osn = r.mapping(top["opensearch"], "opensearch", {"url", "user", "password", "ca_file", "verify_certs",
                                                      "index_prefix"}, {"url"})
    url = r.text(osn["url"], "opensearch.url")
    # Several nodes may be named, comma-separated: the sink moves to the next when one is unreachable.
    if not all(part.strip().startswith(("http://", "https://")) for part in url.split(",")):
        raise r.fail(osn["url"], "opensearch.url must start with http:// or https:// (each, when several)")
    url = ",".join(part.strip().rstrip("/") for part in url.split(","))
    opensearch = OpenSearchConfig(
        url=url.rstrip("/"), user=r.optional_text(osn.get("user"), "opensearch.user"),
        password=r.optional_text(osn.get("password"), "opensearch.password"),
        ca_file=r.path(osn["ca_file"], "opensearch.ca_file", True) if "ca_file" in osn else None,
        verify_certs=r.boolean(osn["verify_certs"], "opensearch.verify_certs") if "verify_certs" in osn else True,
        index_prefix=r.text(osn["index_prefix"], "opensearch.index_prefix", _PREFIX) if "index_prefix" in osn else "",
    )
    sink = SinkConfig()
    if "sink" in top:
        s = r.mapping(top["sink"], "sink", set(SinkConfig.__dataclass_fields__), set())
        values: dict[str, Any] = {}
        for key, node in s.items():
            if key == "gzip":
                values[key] = r.boolean(node, "sink.gzip")
            elif key.startswith("batch_") or key == "in_flight":
                values[key] = r.number(node, f"sink.{key}", int, 1)
            else:
                values[key] = r.number(node, f"sink.{key}", float, 0.001)
        sink = SinkConfig(**values)
    metrics_host, metrics_port = "127.0.0.1", 9108
    if "metrics" in top:
        mm = r.mapping(top["metrics"], "metrics", {"listen"}, {"listen"})
        metrics_host, metrics_port = r.address(mm["listen"], "metrics.listen", loopback=True)
    if not isinstance(top["sources"], yaml.SequenceNode) or not top["sources"].value:
        raise r.fail(top["sources"], "sources must be a non-empty list")
    seen: dict[str, int] = {}
    sources = tuple(_source(r, n, i, tz, seen) for i, n in enumerate(top["sources"].value))
    listeners: dict[tuple[str, int, str], str] = {}
    for src, n in zip(sources, top["sources"].value, strict=True):
        where = (src.host, src.port, "udp" if src.protocol == "udp" else "tcp")
        if where in listeners and src.port != 0:
            raise r.fail(n, f"source {src.id!r} listens where {listeners[where]!r} already does")
        listeners[where] = src.id
    agency = r.scalar(org["id"], "organization.id")
    if not is_agency_id(agency):
        raise r.fail(org["id"], f"organization.id {agency!r} is not an agency id ({AGENCY_ID_RULE})")
    return CollectorConfig(
        organization_id=str(agency),
        collector_id=r.text(col["id"], "collector.id", _ID),
        queue_dir=r.path(col["queue_dir"], "collector.queue_dir", False),
        queue_max_bytes=r.number(col["queue_max_bytes"], "collector.queue_max_bytes", int, 65536)
        if "queue_max_bytes" in col else 1024 ** 3,
        segment_bytes=r.number(col["segment_bytes"], "collector.segment_bytes", int, 4096)
        if "segment_bytes" in col else 64 * 1024 ** 2,
        timezone=tz,
        heartbeat_seconds=r.number(col["heartbeat_seconds"], "collector.heartbeat_seconds", float, 0.05)
        if "heartbeat_seconds" in col else 60.0,
        opensearch=opensearch, sink=sink, sources=sources, metrics_host=metrics_host, metrics_port=metrics_port,
    )


def load_config(path: str | Path) -> CollectorConfig:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CollectorConfigError(f"{p}:1: cannot read: {exc}") from None
    return parse_config(text, str(p))
