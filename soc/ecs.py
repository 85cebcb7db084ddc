"""The ECS fields the service reads and writes: the one list that owns them.

The index templates are built from it, the collectors' output is tested against it, and the Sigma
processing pipeline maps rule fields onto it. Types are OpenSearch mapping types; ``keyword``
fields that analysts and rules match case-insensitively use the ``soc_lowercase`` normalizer.
"""

from __future__ import annotations

from typing import Any

# field -> mapping type. "ci_keyword" is a keyword normalized to lower case (case-insensitive
# matching, as Sigma expects), "text+keyword" is full text with an exact keyword sub-field.
FIELDS: dict[str, str] = {
    "@timestamp": "date",
    "message": "text",
    "tags": "keyword",
    "labels.marker": "keyword",
    # event
    "event.original": "text+keyword",
    "event.ingested": "date",
    "event.created": "date",
    "event.dataset": "keyword",
    "event.module": "keyword",
    "event.kind": "keyword",
    "event.category": "keyword",
    "event.type": "keyword",
    "event.action": "keyword",
    "event.code": "keyword",
    "event.outcome": "keyword",
    "event.severity": "long",
    "event.sequence": "long",
    "event.timezone": "keyword",
    "event.reason": "ci_keyword",
    # who sent it
    "organization.id": "keyword",
    "observer.name": "keyword",
    "observer.hostname": "keyword",
    "agent.id": "keyword",
    "agent.type": "keyword",
    "agent.version": "keyword",
    "log.source.id": "keyword",
    "log.file.path": "keyword",
    "log.offset": "long",
    "log.level": "keyword",
    "log.syslog.facility.code": "long",
    "log.syslog.facility.name": "keyword",
    "log.syslog.severity.code": "long",
    "log.syslog.severity.name": "keyword",
    "log.syslog.priority": "long",
    "log.syslog.version": "keyword",
    "log.syslog.hostname": "keyword",
    "log.syslog.appname": "keyword",
    "log.syslog.procid": "keyword",
    "log.syslog.msgid": "keyword",
    "log.syslog.structured_data": "flat_object",
    # host and process
    "host.name": "ci_keyword",
    "host.hostname": "ci_keyword",
    "host.ip": "ip",
    "process.name": "ci_keyword",
    "process.pid": "long",
    "process.command_line": "text+keyword",
    "process.executable": "ci_keyword",
    "process.working_directory": "keyword",
    # network peers
    "source.ip": "ip",
    "source.port": "long",
    "source.address": "keyword",
    "source.domain": "ci_keyword",
    "destination.ip": "ip",
    "destination.port": "long",
    "destination.address": "keyword",
    "network.transport": "keyword",
    "related.ip": "ip",
    "related.user": "keyword",
    "related.hosts": "keyword",
    # users and groups
    "user.name": "ci_keyword",
    "user.id": "keyword",
    "user.target.name": "ci_keyword",
    "user.effective.name": "ci_keyword",
    "group.name": "ci_keyword",
    "group.id": "keyword",
    # web
    "url.original": "ci_keyword",
    "url.path": "ci_keyword",
    "url.query": "ci_keyword",
    "url.domain": "ci_keyword",
    "url.extension": "ci_keyword",
    "url.decoded.original": "ci_keyword",
    "url.decoded.path": "ci_keyword",
    "url.decoded.query": "ci_keyword",
    "http.request.method": "keyword",
    # The request's Content-Type header where the log records it (nginx JSON "content_type"). ECS
    # reserves this field for a type sniffed from the body; no ECS field holds the header, and
    # Sigma's cs-content-type rules need one.
    "http.request.mime_type": "ci_keyword",
    "http.request.referrer": "ci_keyword",
    "http.request.body.bytes": "long",
    "http.response.status_code": "long",
    "http.response.body.bytes": "long",
    "http.version": "keyword",
    "user_agent.original": "ci_keyword",
    "user_agent.name": "keyword",
    "user_agent.version": "keyword",
    "user_agent.os.name": "keyword",
    "user_agent.os.version": "keyword",
    "user_agent.device.name": "keyword",
    # files (a hash a log line names, e.g. an upload or a download): threat-intelligence indicators match them
    "file.hash.md5": "ci_keyword",
    "file.hash.sha1": "ci_keyword",
    "file.hash.sha256": "ci_keyword",
    # service-specific details that have no ECS field
    "soc.parser": "keyword",
    "soc.truncated": "boolean",
    "soc.sequence": "long",
    "soc.original_timestamp": "keyword",  # a claimed event time the pipeline clamped (from the future)
}

# Tags the ingest pipeline puts on an event whose own time it could not take as it came
# (soc.opensearch.ingest.EVENT_TIME_SCRIPT).
TIME_TAGS = ("_late", "_future_timestamp", "_time_missing")

LOWERCASE_NORMALIZER = "soc_lowercase"

# Fields that Sigma rules match with infix wildcards and regular expressions. Each also gets a
# lower-cased ``wildcard``-type sub-field (``<field>.wildcard``): OpenSearch indexes its trigrams, so
# a pattern costs the documents that may match it, not a walk over every distinct value ever indexed
# (which is what a leading wildcard or a regex costs on a ``keyword`` field). The raw line's sub-field
# serves the case-insensitive keyword searches of rules without fields.
PATTERN_FIELDS: tuple[str, ...] = (
    "event.original",
    "url.original", "url.path", "url.query",
    "url.decoded.original", "url.decoded.path", "url.decoded.query",
    "user_agent.original", "http.request.referrer",
)
PATTERN_SUBFIELD = "wildcard"
# 8191 characters of at most 4 UTF-8 bytes each stay under Lucene's 32766-byte limit for a term
IGNORE_ABOVE = 8191
# Lower case, and NUL (a decoded %00 in a URL) replaced: OpenSearch's wildcard trigram tokenizer reads
# NUL as its own end marker and, on a value ending in NUL plus one character, loops until the document
# is refused (an attacker could hide a request and burn the node's CPU). Patterns get the same treatment.
PATTERN_NORMALIZER = "soc_pattern"
_PATTERN_LEAF = {"type": "wildcard", "normalizer": PATTERN_NORMALIZER, "doc_values": True,
                 "ignore_above": IGNORE_ABOVE}


def pattern_field(name: str) -> str | None:
    """The wildcard-type sub-field that answers patterns on ``name`` (None when it has none)."""
    return f"{name}.{PATTERN_SUBFIELD}" if name in PATTERN_FIELDS else None


def _leaf(kind: str, name: str = "") -> dict[str, Any]:
    leaf = _kind_leaf(kind)
    if name in PATTERN_FIELDS:
        leaf.setdefault("fields", {})[PATTERN_SUBFIELD] = dict(_PATTERN_LEAF)
    return leaf


def _kind_leaf(kind: str) -> dict[str, Any]:
    if kind == "ci_keyword":
        return {"type": "keyword", "normalizer": LOWERCASE_NORMALIZER, "ignore_above": IGNORE_ABOVE}
    if kind == "text+keyword":
        return {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": IGNORE_ABOVE}}}
    if kind == "keyword":
        return {"type": "keyword", "ignore_above": 4096}
    if kind == "date":
        return {"type": "date", "format": "strict_date_optional_time||epoch_millis"}
    return {"type": kind}


def properties(fields: dict[str, str] | None = None) -> dict[str, Any]:
    """Nested ``properties`` mapping for dotted field names."""
    root: dict[str, Any] = {}
    for name, kind in (fields or FIELDS).items():
        parts = name.split(".") if name != "@timestamp" else ["@timestamp"]
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {"properties": {}})["properties"]
        node[parts[-1]] = _leaf(kind, name)
    return root


def flatten(doc: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{'a': {'b': 1}} -> {'a.b': 1}; lists and flattened objects stay as values."""
    out: dict[str, Any] = {}
    for key, value in doc.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and FIELDS.get(name) != "flat_object":
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def unknown_fields(doc: dict[str, Any]) -> list[str]:
    """Field names in ``doc`` that the list does not own (the collectors are tested against it)."""
    return sorted(name for name in flatten(doc) if name not in FIELDS)
