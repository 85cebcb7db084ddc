"""Sigma correlation rules (event_count, value_count, temporal, temporal_ordered) judged on event time.

What is new is found on ingest time, exactly once; what it means is judged on event time:

1. probe: one small composite aggregation per correlation over the cycle's ingest window (start, end]
   lists the groups (agency + the rule's group-by fields) that received a base match, with the
   event-time buckets (one timespan wide) those matches fall in;
2. fetch: for each such group, its base matches over the event-time span around the new ones
   ([bucket - T, bucket + 2T], joined), whenever they arrived: earlier arrivals count, and later
   arrivals are judged again when they come;
3. judge: ``soc.detection.episodes`` finds the firing moments and their episodes on event time;
4. merge: episodes already reported for the group (alerts overlapping the span) are extended or
   joined instead of reported again, so an episode gives one alert whatever order its events
   arrive in, and a re-run after a crash adds nothing.

Events tagged ``_late`` (older than the lateness bound on arrival) are left out of every step.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from opensearchpy import OpenSearch

from soc import ecs
from soc.alerts import store as alert_store
from soc.alerts.documents import EventRef
from soc.detection import alerting, episodes, local, store
from soc.detection.convert import CompiledCorrelation
from soc.detection.episodes import Condition, Known, Point
from soc.search import Names

PROBE_PAGE = 1000  # composite buckets per probe request
PROBE_PAGES = 50  # pages of one probe before the rest waits for the next cycle
FETCH_PAGE = 10000
MAX_POINTS = 50000  # events of one group and span judged; a flood beyond this is judged on its first part
NOT_LATE: dict[str, Any] = {"term": {"tags": "_late"}}

Group = tuple[Any, ...]  # (agency, *group-by values)


def growing(corr: CompiledCorrelation) -> bool:
    """True when adding events can only make a group fire more (episodes then never shrink)."""
    return corr.op in ("gte", "gt")


def condition(corr: CompiledCorrelation) -> Condition:
    return Condition(corr.kind, corr.op, corr.count, corr.timespan_s * 1000,
                     corr.minimums or (1,) * len(corr.bases))


def _fields(corr: CompiledCorrelation) -> list[str]:
    return ["organization.id", *corr.group_by]


def _bases(corr: CompiledCorrelation) -> list[dict[str, Any]]:
    return [{"bool": {"filter": [b.dsl()], "_name": f"b{i}"}} for i, b in enumerate(corr.bases)]


def probe_body(corr: CompiledCorrelation, start: datetime, end: datetime, must_not: list[dict[str, Any]],
               after: dict[str, Any] | None = None) -> dict[str, Any]:
    """The groups with a base match in the ingest window (start, end], and the event-time buckets of those
    matches: no documents, one small aggregation."""
    sources: list[dict[str, Any]] = [{f: {"terms": {"field": f}}} for f in _fields(corr)]
    sources.append({"@t": {"date_histogram": {"field": "@timestamp", "fixed_interval": f"{corr.timespan_s}s"}}})
    composite: dict[str, Any] = {"size": PROBE_PAGE, "sources": sources}
    if after:
        composite["after"] = after
    return {"size": 0, "track_total_hits": False, "query": {"bool": {
        "filter": [{"range": {"event.ingested": {"gt": store.iso(start), "lte": store.iso(end)}}}],
        "should": [b.dsl() for b in corr.bases], "minimum_should_match": 1,
        "must_not": [NOT_LATE, *must_not]}},
        "aggs": {"groups": {"composite": composite}}}


@dataclass
class Probe:
    """One correlation's probe result: per group, the event-time spans to judge."""

    corr: CompiledCorrelation
    must_not: list[dict[str, Any]]
    buckets: dict[Group, list[int]] = field(default_factory=lambda: defaultdict(list))
    incomplete: bool = False

    def spans(self) -> dict[Group, list[tuple[int, int]]]:
        t = self.corr.timespan_s * 1000
        return {g: episodes.join((b - t, b + 2 * t) for b in bs) for g, bs in self.buckets.items()}


def read_probe(probe: Probe, resp: dict[str, Any]) -> dict[str, Any] | None:
    """Add one probe answer's buckets; returns the key to ask the next page from, if any."""
    if "error" in resp:
        raise RuntimeError(str(resp["error"].get("root_cause", resp["error"]))[:500])
    agg = resp.get("aggregations", {}).get("groups", {})
    fields = _fields(probe.corr)
    for b in agg.get("buckets", []):
        probe.buckets[tuple(b["key"][f] for f in fields)].append(int(b["key"]["@t"]))
    after = agg.get("after_key")
    return after if after and agg.get("buckets") and len(agg["buckets"]) >= PROBE_PAGE else None


def probe_locally(probe: Probe, docs: list[tuple[local.Doc, frozenset[str]]]) -> bool:
    """The probe answered from a window already read (the documents of (start, end] of the
    correlation's one stream, each with the ids of the local rules it matched, base rules included):
    what ``probe_body`` and ``read_probe`` give, without a request. False (nothing added) when a base
    rule or a group field is only answered by the node."""
    corr = probe.corr
    base_ids = {b.rule.id for b in corr.bases}
    fields = _fields(corr)
    if any(b.local is None for b in corr.bases) or any(ecs.FIELDS.get(f) not in ("keyword", "ci_keyword", "long", "ip")
                                              for f in fields):
        return False
    off = {str(a) for clause in probe.must_not for a in clause.get("terms", {}).get("organization.id", [])}
    if any(set(clause) - {"terms"} or set(clause.get("terms", {})) - {"organization.id"} for clause in probe.must_not):
        return False  # only the agency exclusions runner._must_not writes are reproduced here
    interval = corr.timespan_s * 1000
    found: set[tuple[Group, int]] = set()
    for doc, matched in docs:
        if not base_ids & matched or "_late" in doc.keywords("tags", "exact"):
            continue
        keys = [local.doc_values(doc, f) for f in fields]
        when = local.epoch_ms(doc)
        if when is None or not all(keys) or any(str(a) in off for a in keys[0]):
            continue
        for combo in itertools.product(*keys):
            found.add((tuple(combo), when - when % interval))
    limit = PROBE_PAGES * PROBE_PAGE
    for group, bucket in sorted(found, key=lambda gb: (tuple(map(str, gb[0])), gb[1]))[:limit]:
        probe.buckets[group].append(bucket)
    probe.incomplete = len(found) > limit
    return True


CANDIDATE_PAGE = 1000


def candidates_body(probe: Probe, after: dict[str, Any] | None = None) -> dict[str, Any]:
    """Per probed group, what it holds over all the spans together: events, events per referenced rule,
    distinct values. A group that cannot meet the condition even over that whole range cannot meet it in
    any one window, so it is not fetched (most groups with a new match are one stray 404 or one login)."""
    corr = probe.corr
    spans = probe.spans()
    lo = min(s for ss in spans.values() for s, _ in ss)
    hi = max(e for ss in spans.values() for _, e in ss)
    fields = _fields(corr)
    only = [{"terms": {f: sorted({g[i] for g in spans}, key=str)}} for i, f in enumerate(fields)]
    sub: dict[str, Any] = {f"b{i}": {"filter": b.dsl()} for i, b in enumerate(corr.bases)}
    if corr.field:
        sub["distinct"] = {"cardinality": {"field": corr.field}}
    composite: dict[str, Any] = {"size": CANDIDATE_PAGE, "sources": [{f: {"terms": {"field": f}}} for f in fields]}
    if after:
        composite["after"] = after
    return {"size": 0, "track_total_hits": False, "query": {"bool": {
        "filter": [*only, {"range": {"@timestamp": {"gte": lo, "lte": hi, "format": "epoch_millis"}}}],
        "should": [b.dsl() for b in corr.bases], "minimum_should_match": 1,
        "must_not": [NOT_LATE, *probe.must_not]}},
        "aggs": {"groups": {"composite": composite, "aggs": sub}}}


def could_fire(corr: CompiledCorrelation, bucket: dict[str, Any]) -> bool:
    """Whether a group's totals over its whole range leave the condition reachable (a necessary test)."""
    if not growing(corr):
        return True
    need = corr.count + (1 if corr.op == "gt" else 0)
    if corr.kind == "event_count":
        return int(bucket["doc_count"]) >= need
    if corr.kind == "value_count":
        # cardinality is an estimate: exact below its precision threshold (3000), generous above it
        return int(bucket["distinct"]["value"]) >= need
    minimums = corr.minimums or (1,) * len(corr.bases)
    return all(int(bucket[f"b{i}"]["doc_count"]) >= least for i, least in enumerate(minimums))


def read_candidates(probe: Probe, resp: dict[str, Any], keep: set[Group]) -> dict[str, Any] | None:
    """Add the groups of one candidates answer that could fire to ``keep``; returns the next page's key."""
    if "error" in resp:
        raise RuntimeError(str(resp["error"].get("root_cause", resp["error"]))[:500])
    agg = resp.get("aggregations", {}).get("groups", {})
    fields = _fields(probe.corr)
    for b in agg.get("buckets", []):
        group = tuple(b["key"][f] for f in fields)
        if group in probe.buckets and could_fire(probe.corr, b):
            keep.add(group)
    after = agg.get("after_key")
    return after if after and len(agg.get("buckets", [])) >= CANDIDATE_PAGE else None


def _group_filter(corr: CompiledCorrelation, group: Group) -> list[dict[str, Any]]:
    return [{"term": {f: v}} for f, v in zip(_fields(corr), group, strict=True)]


def fetch_body(corr: CompiledCorrelation, group: Group, span: tuple[int, int], must_not: list[dict[str, Any]],
               after: list[Any] | None = None) -> dict[str, Any]:
    """A group's base matches in an event-time span: time, which rules matched, the value_count field."""
    docvalues: list[Any] = [{"field": "@timestamp", "format": "epoch_millis"}]
    if corr.field:
        docvalues.append({"field": corr.field})
    body: dict[str, Any] = {
        "size": FETCH_PAGE, "_source": False, "track_total_hits": False, "docvalue_fields": docvalues,
        "sort": [{"@timestamp": "asc"}, {"_index": "asc"}, {"_seq_no": "asc"}],
        "query": {"bool": {
            "filter": [*_group_filter(corr, group),
                       {"range": {"@timestamp": {"gte": span[0], "lte": span[1], "format": "epoch_millis"}}}],
            "should": _bases(corr), "minimum_should_match": 1, "must_not": [NOT_LATE, *must_not]}}}
    if after:
        body["search_after"] = after
    return body


def to_points(corr: CompiledCorrelation, hits: list[dict[str, Any]]) -> list[Point]:
    out = []
    for h in hits:
        fields = h.get("fields", {})
        t = int(float(fields["@timestamp"][0]))
        bases = frozenset(int(name[1:]) for name in h.get("matched_queries", []) if name[1:].isdigit())
        value = None
        if corr.field and fields.get(corr.field):
            value = str(fields[corr.field][0])
        out.append(Point(t, f"{h['_index']}\x00{h['_id']}", bases or frozenset({0}), value))
    return sorted(out)


def iso_ms(ms: int) -> str:
    return store.iso(datetime.fromtimestamp(ms / 1000, UTC))


def _ms(text: str) -> int:
    return int(store.parse_time(text).timestamp() * 1000)


def group_key(corr: CompiledCorrelation, group: Group) -> tuple[str, str, dict[str, Any]]:
    """(agency, group key, group as a dict) as alerts spell them."""
    as_dict = dict(zip(_fields(corr), group, strict=True))
    return alerting.correlation_key(corr.rule.id, as_dict)


def known_alerts(client: OpenSearch, names: Names, corr: CompiledCorrelation,
                 spans: dict[Group, list[tuple[int, int]]]) -> dict[tuple[str, str], list[Known]]:
    """The rule's live (not superseded) alerts of the probed groups that overlap their spans."""
    keys = {group_key(corr, g)[:2] for g in spans}
    lo = min(s for ss in spans.values() for s, _ in ss)
    hi = max(e for ss in spans.values() for _, e in ss)
    out: dict[tuple[str, str], list[Known]] = defaultdict(list)
    for hit in alert_store.correlation_alerts(client, names, corr.rule.id, sorted({k for _, k in keys}),
                                              sorted({a for a, _ in keys}), iso_ms(lo), iso_ms(hi)):
        src = hit["_source"]
        key = (str(src["organization"]["id"]), str(src["group_key"]))
        if key in keys:
            refs = [f"{e['index']}\x00{e['id']}" for e in src.get("events", [])]
            out[key].append(Known(hit["_id"], _ms(src["first_seen"]), _ms(src["last_seen"]), keys=refs))
    return out


def judge(corr: CompiledCorrelation, group: Group, spans: dict[tuple[int, int], list[Point]],
          entries: list[Known]) -> list[Known]:
    """A group's episodes over its fetched spans, merged into its reported ones (``entries``, changed in
    place: new entries are appended, changed ones flagged). Returns the entries to write."""
    cond = condition(corr)
    agency, key, _ = group_key(corr, group)

    def new_id(start: int) -> str:
        return alerting.correlation_id(corr.rule.id, agency, key, iso_ms(start))

    for span, pts in sorted(spans.items()):
        episodes.merge(entries, episodes.episodes(cond, pts, since=span[0] + cond.timespan_ms), new_id)
    return [e for e in entries if e.changed]


def count_body(corr: CompiledCorrelation, group: Group, entry: Known, must_not: list[dict[str, Any]]) -> dict[str, Any]:
    """The number of events (value_count: of distinct values) inside an episode."""
    body: dict[str, Any] = {"size": 0, "track_total_hits": True, "query": {"bool": {
        "filter": [*_group_filter(corr, group), {"range": {"@timestamp": {
            "gte": entry.start, "lte": entry.end, "format": "epoch_millis"}}}],
        "should": [b.dsl() for b in corr.bases], "minimum_should_match": 1, "must_not": [NOT_LATE, *must_not]}}}
    if corr.kind == "value_count" and corr.field:
        body["aggs"] = {"distinct": {"cardinality": {"field": corr.field}}}
    return body


def read_count(corr: CompiledCorrelation, resp: dict[str, Any]) -> int:
    if "error" in resp:
        raise RuntimeError(str(resp["error"].get("root_cause", resp["error"]))[:500])
    if corr.kind == "value_count" and corr.field:
        return int(resp["aggregations"]["distinct"]["value"])
    return int(resp["hits"]["total"]["value"])


def documents(corr: CompiledCorrelation, group: Group, entry: Known, count: int, created: str,
              ingest_window: dict[str, str], is_new: bool) -> tuple[str, dict[str, Any]]:
    """The alert to create for a new episode, or the partial update of a reported one."""
    refs = [EventRef(index=k.split("\x00", 1)[0], id=k.split("\x00", 1)[1]) for k in entry.keys]
    if entry.superseded_by:
        return entry.alert_id, {"superseded_by": entry.superseded_by}
    first, last = iso_ms(entry.start), iso_ms(entry.end)
    _, _, as_dict = group_key(corr, group)
    _, doc = alerting.correlation(corr.rule, as_dict, count, refs, first, last, created, ingest_window)
    if is_new:
        return entry.alert_id, dict(doc)
    return entry.alert_id, alerting.episode_update(doc)
