"""The service's side of the ECS fields: index mappings built from the one field list.

The list itself (``SENT_FIELDS``, with ``flatten`` and ``unknown_fields``) is part of the contract the
collectors share, ``collectors.contract.ecs``; it is re-exported here for the service, and ``FIELDS``
adds the fields the ingest pipeline sets. Types are
OpenSearch mapping types; ``keyword`` fields that analysts and rules match case-insensitively use
the ``soc_lowercase`` normalizer.
"""

from __future__ import annotations

from typing import Any

from collectors.contract.ecs import FIELDS as SENT_FIELDS
from collectors.contract.ecs import flatten as flatten
from collectors.contract.ecs import unknown_fields as unknown_fields

# Fields the ingest pipeline adds beside an event's addresses (soc.opensearch.geoip); collectors never
# send them.
ENRICHED_FIELDS: dict[str, str] = {
    **{f"labels.{side}_ip_scope": "keyword" for side in ("source", "destination")},
    **{f"{side}.{name}": kind for side in ("source", "destination") for name, kind in (
        ("geo.country_iso_code", "keyword"), ("geo.country_name", "keyword"), ("geo.continent_name", "keyword"),
        ("geo.city_name", "keyword"),
        ("as.number", "long"), ("as.organization.name", "keyword"))},
}
# Every field of a stored event: what collectors send and what the pipeline adds.
FIELDS: dict[str, str] = {**SENT_FIELDS, **ENRICHED_FIELDS}

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
