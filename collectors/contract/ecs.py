"""The ECS fields an event may carry: the one list that owns them, with their OpenSearch mapping types.

The collectors' output is tested against it, the service builds its index templates from it
(``soc.ecs``) and its Sigma processing pipeline maps rule fields onto it. ``keyword`` fields that
analysts and rules match case-insensitively are ``ci_keyword`` (a normalizer lower-cases them).
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
