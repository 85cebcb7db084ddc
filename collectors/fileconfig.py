"""The ``type: file`` source of the collector YAML: tailed files (access logs, syslog files).

Example (every key not marked required has the default shown)::

    sources:
      - id: portal-access                 # required: log.source.id
        type: file
        format: nginx                     # required: nginx | apache | nginx-json | syslog
        paths: [/var/log/nginx/access.log*]   # required: glob patterns
        exclude: []                       # glob patterns of files never read
        read_gzip: false                  # read compressed (rotated) files once
        domain: null                      # url.domain for lines that carry no virtual host
        timezone: UTC                     # defaults to collector.timezone
        max_line_bytes: 65536             # longer lines are truncated and tagged, never dropped
        partial_flush_seconds: 5          # an unterminated last line is shipped after this long
        fingerprint_bytes: 1024           # at most this much of the first line identifies a file
        poll_seconds: 0.2                 # how often open files are read
        scan_seconds: 1                   # how often the patterns are matched again
        close_idle_seconds: 5             # a file at its end this long is closed (reopened when it grows)
        checkpoint_seconds: 1             # acknowledged offsets are written at most this often (and at stop)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import yaml

if TYPE_CHECKING:
    from collectors.config import SourceConfig, _Reader

FORMATS = ("nginx", "apache", "nginx-json", "syslog")
_KEYS = {"id", "type", "format", "paths", "exclude", "read_gzip", "domain", "timezone", "max_line_bytes",
         "partial_flush_seconds", "fingerprint_bytes", "poll_seconds", "scan_seconds", "close_idle_seconds",
         "checkpoint_seconds"}
_FLOATS = {"partial_flush_seconds": 5.0, "poll_seconds": 0.2, "scan_seconds": 1.0, "close_idle_seconds": 5.0,
           "checkpoint_seconds": 1.0}
_INTS = {"max_line_bytes": (65536, 64), "fingerprint_bytes": (1024, 16)}


@dataclass(frozen=True)
class FileOptions:
    format: str
    paths: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    read_gzip: bool = False
    domain: str | None = None
    max_line_bytes: int = 65536
    partial_flush_seconds: float = 5.0
    fingerprint_bytes: int = 1024
    poll_seconds: float = 0.2
    scan_seconds: float = 1.0
    close_idle_seconds: float = 5.0
    checkpoint_seconds: float = 1.0


def _patterns(r: _Reader, node: yaml.Node, name: str) -> tuple[str, ...]:
    if isinstance(node, yaml.ScalarNode):
        return (r.text(node, name),)
    if not isinstance(node, yaml.SequenceNode):
        raise r.fail(node, f"{name} must be a list of glob patterns")
    return tuple(r.text(item, f"{name}[{i}]") for i, item in enumerate(node.value))


def file_source(r: _Reader, node: yaml.MappingNode, where: str, default_tz: str) -> SourceConfig:
    from collectors.config import _ID, SourceConfig

    m = r.mapping(node, where, _KEYS, {"id", "format", "paths"})
    fmt = r.text(m["format"], f"{where}.format")
    if fmt not in FORMATS:
        raise r.fail(m["format"], f"{where}.format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    paths = _patterns(r, m["paths"], f"{where}.paths")
    if not paths:
        raise r.fail(m["paths"], f"{where}.paths must name at least one pattern")
    numbers: dict[str, float | int] = {}
    for key, default in _FLOATS.items():
        numbers[key] = r.number(m[key], f"{where}.{key}", float, 0.01) if key in m else default
    for key, (default_int, low) in _INTS.items():
        numbers[key] = r.number(m[key], f"{where}.{key}", int, low) if key in m else default_int
    options = FileOptions(
        format=fmt, paths=paths,
        exclude=_patterns(r, m["exclude"], f"{where}.exclude") if "exclude" in m else (),
        read_gzip=r.boolean(m["read_gzip"], f"{where}.read_gzip") if "read_gzip" in m else False,
        domain=r.optional_text(m.get("domain"), f"{where}.domain"),
        **numbers,  # type: ignore[arg-type]
    )
    return SourceConfig(
        id=r.text(m["id"], f"{where}.id", _ID), protocol="file", host="", port=0, type="file",
        timezone=r.timezone(m["timezone"], f"{where}.timezone") if "timezone" in m else default_tz,
        max_message_bytes=options.max_line_bytes, file=options,
    )
