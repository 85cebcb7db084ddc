"""What the service needs in OpenSearch, declared as data: templates, pipeline, indices, ISM policies."""

from __future__ import annotations

from typing import Any

from collectors.metrics import TAIL_COUNTERS
from soc import ecs
from soc.config import Settings
from soc.search import Names

ANALYSIS = {
    "char_filter": {"soc_no_nul": {"type": "mapping", "mappings": ["\\u0000 => \\uFFFD"]}},
    "normalizer": {ecs.LOWERCASE_NORMALIZER: {"type": "custom", "filter": ["lowercase"]},
                   ecs.PATTERN_NORMALIZER: {"type": "custom", "char_filter": ["soc_no_nul"], "filter": ["lowercase"]}},
}

# Strings in our own documents are exact keywords unless a field says otherwise.
_STRINGS_AS_KEYWORDS = [{"strings": {"match_mapping_type": "string",
                                     "mapping": {"type": "keyword", "ignore_above": 8191}}}]

_TEXT = {"type": "text"}
_KW = {"type": "keyword"}
_DATE = {"type": "date", "format": "strict_date_optional_time||epoch_millis"}
_LONG = {"type": "long"}

# Fields of the system indices whose type must not be left to dynamic mapping.
SYSTEM_FIELDS: dict[str, dict[str, Any]] = {
    "soc-alerts": {
        "@timestamp": _DATE, "created": _DATE, "first_seen": _DATE, "last_seen": _DATE, "kind": _KW,
        "rule": {"properties": {"id": _KW, "name": _TEXT | {"fields": {"keyword": _KW}}, "level": _KW,
                                "author": _KW, "reference": _KW, "tags": _KW}},
        "threat": {"properties": {"tactic": {"properties": {"name": _KW}},
                                  "technique": {"properties": {"id": _KW}}}},
        "source": {"properties": {"ip": {"type": "ip"}}}, "user": {"properties": {"name": _KW}},
        "host": {"properties": {"name": _KW}}, "url": {"properties": {"domain": _KW}},
        "severity": _KW, "severity_rank": _LONG, "organization": {"properties": {"id": _KW}},
        "incident_id": _KW, "grouped": {"type": "boolean"},
        "events": {"properties": {"index": _KW, "id": _KW}}, "event_count": _LONG,
        "group_key": _KW, "window": {"properties": {"start": _DATE, "end": _DATE}},
        "ingest_window": {"properties": {"start": _DATE, "end": _DATE}}, "detected_at": _DATE,
        "delay_s": {"type": "double"}, "superseded_by": _KW,
        "summary": _TEXT,
    },
    "soc-incidents": {
        "id": _KW, "created": _DATE, "updated": _DATE, "first_seen": _DATE, "last_seen": _DATE,
        "title": _TEXT | {"fields": {"keyword": _KW}}, "status": _KW, "resolution": _KW,
        "severity": _KW, "severity_rank": _LONG, "assignee": _KW, "organization": {"properties": {"id": _KW}},
        "rule_ids": _KW, "keys": _KW, "alert_count": _LONG, "tags": _KW, "entities": _KW,
        "acknowledged_at": _DATE, "resolved_at": _DATE, "closed_at": _DATE, "merged_into": _KW, "merged_from": _KW,
        "detection_delay_s": {"type": "double"},
        "history": {"properties": {"status": _KW, "at": _DATE, "actor": _KW}},
        "comments": {"properties": {"id": _KW, "at": _DATE, "author": _KW, "text": _TEXT}},
        "sla": {"properties": {"ack_due": _DATE, "resolve_due": _DATE, "ack_breached": {"type": "boolean"},
                               "resolve_breached": {"type": "boolean"}}},
        "tta_seconds": _LONG, "ttr_seconds": _LONG, "merge_state": {"type": "object", "enabled": False},
    },
    "soc-sources": {"created": _DATE, "organization": {"properties": {"id": _KW}}, "type": _KW, "name": _KW,
                    "expected_rate": {"type": "double"}, "silence_after_minutes": _LONG,
                    # onboarded sources (kind: source); heartbeats of earlier versions (kind: heartbeat)
                    "kind": _KW, "id": _KW, "host": _KW, "log_path": _KW, "created_by": _KW,
                    "log": {"properties": {"source": {"properties": {"id": _KW}}}},
                    "collector": {"properties": {"id": _KW, "address": _KW, "port": _LONG, "protocol": _KW}},
                    "@timestamp": _DATE, "last_event": _DATE},
    # The collectors' heartbeats (written by them, nothing else), apart from the source definitions.
    "soc-heartbeats": {"kind": _KW, "@timestamp": _DATE, "organization": {"properties": {"id": _KW}},
                       "agent": {"properties": {"id": _KW, "type": _KW, "version": _KW}},
                       "observer": {"properties": {"name": _KW, "hostname": _KW}},
                       "log": {"properties": {"source": {"properties": {"id": _KW}}}},
                       "source_type": _KW, "protocol": _KW, "last_event": _DATE,
                       # Every field a collector sends is declared: on a secured cluster its role may
                       # write documents but not change the mapping, so a new field would be refused.
                       "rate_per_second": {"type": "double"}, "received_total": _LONG,
                       "parse_failures_total": _LONG, "dropped_total": _LONG,
                       "collector": {"properties": {"queued": _LONG, "shipped_total": _LONG,
                                                    "dead_lettered_total": _LONG,
                                                    "oldest_unacked_age_seconds": {"type": "double"},
                                                    "status": _KW}},
                       "tail": {"properties": {f"{name}_total": _LONG for name in TAIL_COUNTERS}}},
    "soc-rules-state": {"rule_id": _KW, "last_run": _DATE, "duration_ms": _LONG, "hits": _LONG,
                        "errors": _LONG, "last_error": _TEXT, "enabled": {"type": "boolean"}},
    "soc-audit": {"@timestamp": _DATE, "actor": _KW, "action": _KW, "object_type": _KW, "object_id": _KW,
                  "organization": {"properties": {"id": _KW}}, "summary": _TEXT,
                  "details": {"type": "object", "enabled": False}},
    "soc-reports": {"id": _KW, "created": _DATE, "week": _KW, "week_start": _DATE, "week_end": _DATE, "scope": _KW,
                    "organization": {"properties": {"id": _KW}}, "lang": _KW, "formats": _KW, "trigger": _KW,
                    "files": {"type": "object", "enabled": False}, "summary": {"type": "object", "enabled": False},
                    "content": {"type": "object", "enabled": False},
                    "delivery": {"type": "object", "enabled": False}},
    "soc-users": {"kind": _KW, "name": _KW, "user": _KW, "role": _KW, "agencies": _KW, "token_hash": _KW,
                  "password_hash": {"type": "keyword", "index": False}, "created": _DATE, "expires": _DATE,
                  "disabled": {"type": "boolean"}, "url": {"type": "keyword", "index": False},
                  "secret": {"type": "keyword", "index": False}, "min_severity": _KW},
    "soc-checkpoints": {"job": _KW, "position": _DATE, "updated": _DATE},
    "soc-exceptions": {"created": _DATE, "updated": _DATE, "expires": _DATE, "rule_id": _KW, "owner": _KW,
                       "reason": _TEXT, "organization": {"properties": {"id": _KW}}, "enabled": {"type": "boolean"},
                       "hits": _LONG, "last_hit": _DATE, "incident_id": _KW, "created_by": _KW,
                       "conditions": {"type": "object", "enabled": False}},
    "soc-agencies": {"id": _KW, "name_vi": _TEXT | {"fields": {"keyword": _KW}},
                     "name_en": _TEXT | {"fields": {"keyword": _KW}}, "timezone": _KW, "contacts": _KW,
                     "collector_address": _KW, "created": _DATE},
    # Threat-intelligence indicators (soc.intel.store): the atoms to look up as address (ip), network
    # (ip_range), domain, url (lower case) and hash; the atoms themselves only in _source.
    "soc-indicators": {"feed": _KW, "type": _KW, "name": _KW, "address": {"type": "ip"}, "ip": {"type": "ip_range"},
                       "domain": _KW, "url": _KW,
                       "hash": _KW, "atom_count": _LONG, "atoms": {"type": "object", "enabled": False},
                       "confidence": _LONG, "valid_from": _DATE, "valid_until": _DATE, "first_import": _DATE,
                       "last_import": _DATE, "source_ref": _KW, "description": _TEXT, "tags": _KW,
                       "retro": {"properties": {"done": {"type": "boolean"}, "at": _DATE, "alerts": _LONG}}},
    # Feed subscriptions (soc.intel.store): where and how often to pull, and the last pull's outcome;
    # an authorization is the name of an environment variable, never the secret itself.
    "soc-intel-feeds": {"name": _KW, "url": {"type": "keyword", "index": False}, "format": _KW, "interval_s": _LONG,
                        "expires_days": {"type": "float"}, "confidence": _LONG, "auth_env": _KW, "auth_header": _KW,
                        "withdraw": {"type": "boolean"}, "created": _DATE, "created_by": _KW,
                        "etag": {"type": "keyword", "index": False},
                        "last_modified": {"type": "keyword", "index": False},
                        "lease": {"properties": {"owner": _KW, "until": _DATE}},
                        "last": {"properties": {"attempt": _DATE, "imported": _DATE, "status": _KW, "error": _TEXT,
                                                "http_status": _LONG, "bytes": _LONG, "read": _LONG, "created": _LONG,
                                                "updated": _LONG, "withdrawn": _LONG}}},
    # Saved searches (soc.hunt.saved) and the key that signs search cursors (kind: cursor-key).
    "soc-saved-searches": {"kind": _KW, "id": _KW, "owner": _KW, "agency": _KW, "shared": {"type": "boolean"},
                           "name": _KW, "query": {"type": "keyword", "index": False}, "created": _DATE,
                           "key": {"type": "keyword", "index": False}},
}

# Which data class each log stream and system index belongs to, for retention.
DATA_CLASS = {"logs-syslog": "syslog", "logs-web": "web", "soc-alerts": "alerts", "soc-audit": "audit"}


# The log streams' settings that an existing write index takes too (`soc init` sets them there: they
# are dynamic, and the template only reaches the backing indices made after it).
STREAM_DYNAMIC_SETTINGS: dict[str, Any] = {
    # Every detection cycle refreshes the streams before it reads them (soc.detection.runner), about
    # once a second while events arrive; the streams' own refresh only bounds how stale a search is
    # when no detection runs. At 1 s the two refreshes together cost the node about a fifth of its
    # ingest rate on the 2-core benchmark machine (BENCHMARKS.md).
    "refresh_interval": "5s",
    # Lucene's merge-on-refresh: with it on (OpenSearch's default, waiting up to 10 s) a refresh waits
    # for merges of the small segments it has just written. Detection waits for that refresh each
    # cycle, so the merge's time was latency; merges still run, in the background.
    "merge_on_flush": {"enabled": "false"},
}


# The log streams' settings that only a new backing index takes (the next rollover of a stream made
# before them). Each detection cycle refreshes every agency's write index (82 shards for 41 agencies,
# about every 1.5 s under load), and each refresh writes a small new segment per shard. With the
# defaults, every such segment was then copied into a compound file, and Lucene on this Java reads
# files through memory maps whose unmapping yields the thread's turn (`Thread.yield` in
# `ByteBufferGuard.invalidateAndUnmap`): on a machine whose cores are busy indexing, the refresh of
# the 82 shards took 1.3 s at the median and up to 3 s, the longest step a window waited for
# (BENCHMARKS.md, "Refresh without memory maps"). Without the compound copy at refresh and without
# memory maps, it took 0.7 s. Merged segments still become compound files as OpenSearch decides
# (`index.compound_format`); searches read through positional reads from the page cache.
STREAM_STATIC_SETTINGS: dict[str, Any] = {
    "use_compound_file": "false",
    "store": {"type": "niofs"},
}


def stream_template(settings: Settings, names: Names, stream: str, replicas: int) -> dict[str, Any]:
    """Every agency's data stream of a log stream (``logs-web-*``). Its priority is above the one of
    the single-stream template of earlier versions (``logs-web*``), which stays until ``soc init``
    has moved that stream's events into the agencies' streams."""
    return {
        "index_patterns": [names.pattern(stream)],
        "data_stream": {"timestamp_field": {"name": "@timestamp"}},
        "priority": 210,
        "_meta": {"managed_by": "soc", "data_class": DATA_CLASS[stream]},
        "template": {
            # Spelled as OpenSearch returns them, so that `soc init` can tell "unchanged".
            "settings": {"index": {
                "number_of_shards": 1,
                "number_of_replicas": replicas,
                **STREAM_STATIC_SETTINGS,
                **STREAM_DYNAMIC_SETTINGS,
                "final_pipeline": names.pipeline,
                "analysis": ANALYSIS,
                "mapping": {"total_fields": {"limit": 2000}},
            }},
            # Attackers write log content: unknown fields are kept in _source but never mapped.
            "mappings": {"dynamic": False, "properties": ecs.properties()},
        },
    }


def system_index_body(logical: str, replicas: int) -> dict[str, Any]:
    return {
        "settings": {"number_of_shards": 1, "number_of_replicas": replicas, "analysis": ANALYSIS},
        "mappings": {"dynamic_templates": _STRINGS_AS_KEYWORDS, "properties": SYSTEM_FIELDS[logical]},
    }


def ism_policy(settings: Settings, names: Names, stream: str) -> dict[str, Any]:
    days = getattr(settings.retention, DATA_CLASS[stream])
    return {
        "policy": {
            "description": f"Rollover and {days}-day retention for {names(stream)}",
            "default_state": "hot",
            "states": [
                {"name": "hot",
                 "actions": [{"rollover": {"min_primary_shard_size": f"{settings.rollover_max_size_gb}gb",
                                           "min_index_age": f"{settings.rollover_max_age_days}d"}}],
                 # counted from the rollover (when the index stopped receiving events), as the core job does
                 "transitions": [{"state_name": "delete", "conditions": {"min_rollover_age": f"{days}d"}}]},
                {"name": "delete", "actions": [{"delete": {}}], "transitions": []},
            ],
            "ism_template": [{"index_patterns": [f".ds-{names(stream)}-*"], "priority": 100}],
        }
    }
