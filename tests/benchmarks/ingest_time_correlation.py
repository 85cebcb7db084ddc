"""The correlation step as it ran before event-time evaluation (ingest-time aggregations), kept only as
the detection benchmark's baseline: same window, same rules, same node, so the cost of judging on
event time is measured in one run. Not used by the service.

Per correlation: one probe (composite aggregation over the ingest window) for the groups with new
matches, then, for the probed groups, one aggregation per timespan-long step of the window over
(end - timespan, end] on ``event.ingested`` with the per-group sub-aggregations the engine used.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from opensearchpy import OpenSearch

from soc.detection import correlation, store
from soc.detection.convert import CompiledCorrelation
from soc.detection.episodes import OPS
from soc.detection.settings import DetectionSettings

_SAMPLE = 20


def _sources(corr: CompiledCorrelation) -> list[dict[str, Any]]:
    return [{f: {"terms": {"field": f}}} for f in ["organization.id", *corr.group_by]]


def _range(start: datetime, end: datetime) -> dict[str, Any]:
    return {"range": {"event.ingested": {"gt": store.iso(start), "lte": store.iso(end)}}}


def _aggregation(corr: CompiledCorrelation, start: datetime, end: datetime, only: list[dict[str, Any]],
                 after: dict[str, Any] | None) -> dict[str, Any]:
    sub: dict[str, Any] = {
        "sample": {"top_hits": {"size": _SAMPLE, "_source": False, "sort": [{"event.ingested": "desc"}]}},
        "first": {"min": {"field": "@timestamp"}}, "last": {"max": {"field": "@timestamp"}}}
    for i, base in enumerate(corr.bases):
        sub[f"b{i}"] = {"filter": base.dsl(), "aggs": {"first": {"min": {"field": "@timestamp"}},
                                                       "last": {"max": {"field": "@timestamp"}}}}
    if corr.field:
        sub["distinct"] = {"cardinality": {"field": corr.field}}
    composite: dict[str, Any] = {"size": 500, "sources": _sources(corr)}
    if after:
        composite["after"] = after
    return {"size": 0, "query": {"bool": {"filter": [_range(start, end), *only],
                                          "should": [b.dsl() for b in corr.bases], "minimum_should_match": 1}},
            "aggs": {"groups": {"composite": composite, "aggs": sub}}}


def _fires(corr: CompiledCorrelation, bucket: dict[str, Any]) -> bool:
    op = OPS.get(corr.op, OPS["gte"])
    if corr.kind == "event_count":
        return op(int(bucket["doc_count"]), corr.count)
    if corr.kind == "value_count":
        return op(int(bucket["distinct"]["value"]), corr.count)
    minimums = corr.minimums or (1,) * len(corr.bases)
    present = [bucket[f"b{i}"]["doc_count"] >= least for i, least in enumerate(minimums)]
    return all(present)


def run(client: OpenSearch, index_of: dict[str, str], corrs: list[CompiledCorrelation], start: datetime,
        end: datetime, ds: DetectionSettings) -> int:
    """Evaluate the correlations over one ingest window the old way; returns the groups that fired."""
    probes = [(",".join(index_of[s] for s in c.streams), {
        "size": 0, "track_total_hits": False,
        "query": {"bool": {"filter": [_range(start, end)], "should": [b.dsl() for b in c.bases],
                           "minimum_should_match": 1}},
        "aggs": {"groups": {"composite": {"size": 1000, "sources": _sources(c)}}}}) for c in corrs]
    responses = store.msearch(client, probes, ds.max_concurrent_searches, ds.request_timeout_s)
    fired = 0
    for corr, (index, _), resp in zip(corrs, probes, responses, strict=True):
        buckets = resp.get("aggregations", {}).get("groups", {}).get("buckets", [])
        if correlation.growing(corr) and not buckets:
            continue
        fields = ["organization.id", *corr.group_by]
        only = [{"terms": {f: sorted({b["key"][f] for b in buckets}, key=str)}} for f in fields] if buckets else []
        ends, t = [], start + timedelta(seconds=corr.timespan_s)
        while t < end:
            ends.append(t)
            t += timedelta(seconds=corr.timespan_s)
        for at in [*ends, end]:
            after: dict[str, Any] | None = None
            while True:
                body = _aggregation(corr, at - timedelta(seconds=corr.timespan_s), at, only, after)
                agg = store.search(client, index, body, ds.request_timeout_s).get("aggregations", {}).get("groups", {})
                fired += sum(1 for b in agg.get("buckets", []) if _fires(corr, b))
                after = agg.get("after_key")
                if not after or not agg.get("buckets"):
                    break
    return fired
