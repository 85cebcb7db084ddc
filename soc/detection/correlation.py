"""Sigma correlation rules (event_count, value_count, temporal, temporal_ordered) as OpenSearch aggregations.

Each cycle evaluates a correlation over the ingest-time range (end - timespan, end], grouped by
agency plus the rule's group-by fields. Before that, a cheap probe over the cycle's new window only
(start, end] finds the groups that received a base match since the last evaluation. For a
condition that only grows with events (``gte``/``gt``: event and distinct-value counts, and the
temporal kinds, whose set of present rules can only grow), a group without a new match cannot newly
meet it (its range now holds a subset of what it held at the last evaluation), so the
full-timespan aggregation runs only for the probed groups, and not at all when there are none. A
condition such as "fewer than N" can fire on silence and always runs in full.

A group that meets the condition fires once per episode: when an alert of the same rule and group
already covers part of the range (its window ends after the range starts), the burst is the one
already reported, so a burst that spans two cycles (or a re-run after a crash) never fires twice.
The alert id is rule + agency + group key + window start.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from opensearchpy import OpenSearch

from soc.alerts import store as alert_store
from soc.alerts.documents import AlertDoc, EventRef
from soc.detection import alerting, store
from soc.detection.convert import CompiledCorrelation
from soc.search import Names

_OPS: dict[str, Callable[[float, float], bool]] = {
    "gte": operator.ge, "gt": operator.gt, "lte": operator.le, "lt": operator.lt, "eq": operator.eq,
    "neq": operator.ne}
_SAMPLE = 20


def _body(corr: CompiledCorrelation, start: datetime, end: datetime, after: dict[str, Any] | None,
          must_not: list[dict[str, Any]], only: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    sources = _sources(corr)
    sub: dict[str, Any] = {
        "sample": {"top_hits": {"size": _SAMPLE, "_source": False, "sort": [{"event.ingested": "desc"}]}},
        "first": {"min": {"field": "@timestamp"}}, "last": {"max": {"field": "@timestamp"}},
    }
    for i, base in enumerate(corr.bases):
        sub[f"b{i}"] = {"filter": base.dsl(), "aggs": {"first": {"min": {"field": "@timestamp"}},
                                                       "last": {"max": {"field": "@timestamp"}}}}
    if corr.field:
        sub["distinct"] = {"cardinality": {"field": corr.field}}
    composite: dict[str, Any] = {"size": 500, "sources": sources}
    if after:
        composite["after"] = after
    return {"size": 0, "query": {"bool": {
        "filter": [{"range": {"event.ingested": {"gt": store.iso(start), "lte": store.iso(end)}}}, *(only or [])],
        "should": [b.dsl() for b in corr.bases], "minimum_should_match": 1, "must_not": must_not}},
        "aggs": {"groups": {"composite": composite, "aggs": sub}}}


PROBE_GROUPS = 1000  # more groups than this with new matches: evaluate without restricting to them


def growing(corr: CompiledCorrelation) -> bool:
    """True when only a new match can make a group newly meet the condition."""
    return corr.op in ("gte", "gt")


def _sources(corr: CompiledCorrelation) -> list[dict[str, Any]]:
    return [{"organization.id": {"terms": {"field": "organization.id"}}}] + [
        {g: {"terms": {"field": g}}} for g in corr.group_by]


def probe_body(corr: CompiledCorrelation, start: datetime, end: datetime,
               must_not: list[dict[str, Any]]) -> dict[str, Any]:
    """The groups with a base match in the new window (start, end]: no documents, one small aggregation."""
    return {"size": 0, "track_total_hits": False, "query": {"bool": {
        "filter": [{"range": {"event.ingested": {"gt": store.iso(start), "lte": store.iso(end)}}}],
        "should": [b.dsl() for b in corr.bases], "minimum_should_match": 1, "must_not": must_not}},
        "aggs": {"groups": {"composite": {"size": PROBE_GROUPS, "sources": _sources(corr)}}}}


def probed_groups(corr: CompiledCorrelation, resp: dict[str, Any]) -> list[dict[str, Any]] | None:
    """From a probe's answer: a filter per group field limiting the evaluation to the probed groups
    ([] = no group had a new match), or None when the evaluation must not be restricted."""
    if "error" in resp or not growing(corr):
        return None
    buckets = resp.get("aggregations", {}).get("groups", {}).get("buckets", [])
    if not buckets:
        return []
    if len(buckets) >= PROBE_GROUPS:
        return None
    fields = ["organization.id", *corr.group_by]
    # One terms filter per field: their product is a superset of the probed groups, which is harmless
    # (an extra group is evaluated exactly as an unrestricted run would).
    return [{"terms": {f: sorted({b["key"][f] for b in buckets}, key=str)}} for f in fields]


def _fires(corr: CompiledCorrelation, bucket: dict[str, Any]) -> int | None:
    """The count the condition was met with, or None."""
    op: Callable[[float, float], bool] = _OPS.get(corr.op, operator.ge)
    if corr.kind == "event_count":
        n = int(bucket["doc_count"])
        return n if op(n, corr.count) else None
    if corr.kind == "value_count":
        n = int(bucket["distinct"]["value"])
        return n if op(n, corr.count) else None
    present = [bucket[f"b{i}"] for i in range(len(corr.bases))]
    minimums = corr.minimums or (1,) * len(present)
    seen = sum(1 for b, least in zip(present, minimums, strict=True) if b["doc_count"] >= least)
    if corr.kind == "temporal":
        return int(bucket["doc_count"]) if op(seen, corr.count) and seen == len(present) else None
    if seen < len(present):
        return None
    # temporal_ordered: each rule's first match is no later than the next rule's last match.
    for prev, nxt in itertools.pairwise(present):
        begin, finish = prev["first"]["value"], nxt["last"]["value"]
        if begin is None or finish is None or begin > finish:
            return None
    return int(bucket["doc_count"])


def evaluate(client: OpenSearch, names: Names, corr: CompiledCorrelation, end: datetime, created: str,
             must_not: list[dict[str, Any]], timeout_s: float,
             only: list[dict[str, Any]] | None = None) -> list[tuple[str, AlertDoc]]:
    """The groups that meet the condition over (end - timespan, end] (``only``: filters limiting the
    aggregation to some groups, from ``probed_groups``)."""
    start = end - timedelta(seconds=corr.timespan_s)
    window = {"start": store.iso(start), "end": store.iso(end)}
    index = ",".join(names(s) for s in corr.streams)
    alerts: list[tuple[str, AlertDoc]] = []
    reported: set[tuple[str, str]] | None = None  # read once, and only when some group fires
    after: dict[str, Any] | None = None
    while True:
        resp = store.search(client, index, _body(corr, start, end, after, must_not, only), timeout_s)
        agg = resp.get("aggregations", {}).get("groups", {})
        for bucket in agg.get("buckets", []):
            count = _fires(corr, bucket)
            if count is None:
                continue
            group = dict(bucket["key"])
            events = [EventRef(index=h["_index"], id=h["_id"]) for h in reversed(bucket["sample"]["hits"]["hits"])]
            first = bucket["first"].get("value_as_string") or window["start"]
            last = bucket["last"].get("value_as_string") or window["end"]
            alert = alerting.correlation(corr.rule, group, count, events, first, last, created, window)
            if reported is None:
                reported = alert_store.recent_correlation_groups(client, names, corr.rule.id, window["start"])
            if (alert[1]["organization"]["id"], alert[1]["group_key"]) in reported:
                continue  # this burst was reported by an earlier cycle
            alerts.append(alert)
        after = agg.get("after_key")
        if not after or not agg.get("buckets"):
            return alerts
