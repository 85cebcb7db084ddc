"""One detection cycle: ingest-time windows per log stream, batched rule queries, alerts, then the checkpoint.

For each stream the window is (checkpoint, node-now - settle]; every document is evaluated in the
one window its ``event.ingested`` falls in, however old its ``@timestamp``. Alerts are created with
deterministic ids before the checkpoint moves, so a crash at any point re-runs the window without
a gap and without a duplicate. A lease in ``soc-checkpoints`` keeps concurrent runners apart.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from opensearchpy import OpenSearch

from soc import search
from soc.alerts import store as alert_store
from soc.alerts.documents import AlertDoc
from soc.config import Settings
from soc.detection import alerting, correlation, exceptions, metrics, store
from soc.detection.convert import Compiled, CompiledCorrelation, Result, referenced_ids
from soc.detection.settings import DetectionSettings
from soc.search import Names


class InjectedCrash(RuntimeError):
    """Raised at a named point of the cycle when a test asks for it (proves crash safety)."""


@dataclass
class CycleReport:
    ran: bool = True
    windows: dict[str, tuple[str, str]] = field(default_factory=dict)
    matches: int = 0
    alerts_created: int = 0
    alerts_existing: int = 0
    suppressed: int = 0
    overflow_rules: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    duration_s: float = 0.0
    requests: int = 0


# search_after needs a total order. Sorting on _id loads its fielddata (deprecated); OpenSearch 2.19
# has no _shard_doc. A log document is created once and never updated, and every backing index has
# one primary shard (soc.opensearch.templates), so (backing index, sequence number) names it uniquely.
PAGE_SORT: list[dict[str, str]] = [{"event.ingested": "asc"}, {"_index": "asc"}, {"_seq_no": "asc"}]


def _must_not(rule_id: str, ds: DetectionSettings) -> list[dict[str, Any]]:
    agencies = [pair.split(":", 1)[1] for pair in ds.disabled_for_agency if pair.split(":", 1)[0] == rule_id]
    return [{"terms": {"organization.id": agencies}}] if agencies else []


def _body(c: Compiled, start: datetime, end: datetime, ds: DetectionSettings, size: int,
          after: list[Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "size": size, "track_total_hits": True, "sort": PAGE_SORT,
        "query": {"bool": {"filter": [
            {"range": {"event.ingested": {"gt": store.iso(start), "lte": store.iso(end)}}}, c.dsl()],
            "must_not": _must_not(c.rule.id, ds)}}}
    if after:
        body["search_after"] = after
    return body


def _batched_hits(client: OpenSearch, names: Names, rules: list[Compiled], start: datetime, end: datetime,
                  ds: DetectionSettings, report: CycleReport, batched: bool
                  ) -> dict[str, tuple[list[dict[str, Any]], int]]:
    """rule id → (hits up to the cap, total matches), paging past the first page with search_after."""
    out: dict[str, tuple[list[dict[str, Any]], int]] = {}
    first = min(ds.page_size, ds.per_rule_cap)
    step = ds.batch_size if batched else 1
    for i in range(0, len(rules), step):
        chunk = rules[i:i + step]
        requests = [(",".join(names(s) for s in c.streams), _body(c, start, end, ds, first)) for c in chunk]
        responses = store.msearch(client, requests, ds.max_concurrent_searches, ds.request_timeout_s)
        report.requests += 1
        for c, resp in zip(chunk, responses, strict=True):
            if "error" in resp:
                report.errors[c.rule.id] = str(resp["error"].get("root_cause", resp["error"]))[:500]
                continue
            hits = resp["hits"]["hits"]
            total = int(resp["hits"]["total"]["value"])
            while len(hits) < min(total, ds.per_rule_cap) and hits:
                size = min(ds.page_size, ds.per_rule_cap - len(hits))
                page = store.search(client, requests[chunk.index(c)][0],
                                    _body(c, start, end, ds, size, hits[-1]["sort"]), ds.request_timeout_s)
                report.requests += 1
                if not page["hits"]["hits"]:
                    break
                hits += page["hits"]["hits"]
            out[c.rule.id] = (hits, total)
    return out


def run_window(client: OpenSearch, names: Names, stream: str, compiled: list[Result], start: datetime,
               end: datetime, ds: DetectionSettings, report: CycleReport, crash_at: str | None = None,
               batched: bool = True) -> None:
    job = f"detect:{stream}"
    window = {"start": store.iso(start), "end": store.iso(end)}
    created = store.iso(datetime.now(start.tzinfo))
    hidden = referenced_ids(compiled)
    singles = [c for c in compiled if isinstance(c, Compiled) and stream in c.streams
               and c.rule.id not in hidden and c.rule.id not in ds.disabled_rules]
    corrs = [c for c in compiled if isinstance(c, CompiledCorrelation) and stream in c.streams
             and c.rule.id not in hidden and c.rule.id not in ds.disabled_rules]
    excs = alert_store.active_exceptions(client, names, end)
    suppressed: Counter[str] = Counter()
    alerts: list[tuple[str, AlertDoc]] = []
    states: dict[str, dict[str, Any]] = {}
    t0 = time.monotonic()
    for rule_id, (hits, total) in _batched_hits(client, names, singles, start, end, ds, report, batched).items():
        rule = next(c.rule for c in singles if c.rule.id == rule_id)
        report.matches += total
        for hit in hits:
            exc_id = exceptions.matching(excs, rule_id, hit.get("_source", {}))
            if exc_id:
                suppressed[exc_id] += 1
                continue
            alerts.append(alerting.from_hit(rule, hit, created, window))
        if total > ds.per_rule_cap:
            agency = str((hits[-1].get("_source", {}).get("organization") or {}).get("id", "unknown"))
            alerts.append(alerting.overflow(rule, total, ds.per_rule_cap, agency, created, window))
            report.overflow_rules.append(rule_id)
        states[rule_id] = {"hits": total}
    for corr in corrs:
        ends = []
        t = start + timedelta(seconds=corr.timespan_s)
        while t < end:
            ends.append(t)
            t += timedelta(seconds=corr.timespan_s)
        for at in [*ends, end]:
            try:
                found = correlation.evaluate(client, names, corr, at, created, _must_not(corr.rule.id, ds),
                                             ds.request_timeout_s)
            except Exception as exc:  # one broken rule never stops the others
                report.errors[corr.rule.id] = f"{type(exc).__name__}: {exc}"[:500]
                break
            alerts += found
            states[corr.rule.id] = {"hits": states.get(corr.rule.id, {}).get("hits", 0) + len(found)}
    if crash_at == "before_alerts":
        raise InjectedCrash(crash_at)
    made, existing = alert_store.create_alerts(client, names, alerts)
    report.alerts_created += made
    report.alerts_existing += existing
    if crash_at == "before_checkpoint":
        raise InjectedCrash(crash_at)
    alert_store.count_exception_hits(client, names, dict(suppressed), created)
    report.suppressed += sum(suppressed.values())
    store.set_checkpoint(client, names, job, end)
    report.windows[stream] = (window["start"], window["end"])
    ms = int((time.monotonic() - t0) * 1000)
    now = store.iso(datetime.now(start.tzinfo))
    for rule_id in [c.rule.id for c in singles] + [c.rule.id for c in corrs]:
        err = report.errors.get(rule_id)
        states.setdefault(rule_id, {"hits": 0})
        states[rule_id].update(rule_id=rule_id, last_run=now, duration_ms=ms, enabled=True,
                                 errors=1 if err else 0, last_error=err)
    store.write_rule_states(client, names, states)
    metrics.record_window(stream, end, made, sum(suppressed.values()), report.errors)


def run_cycle(settings: Settings, ds: DetectionSettings, compiled: list[Result], *, owner: str | None = None,
              client: OpenSearch | None = None, crash_at: str | None = None, batched: bool = True,
              streams: tuple[str, ...] = search.LOG_STREAMS) -> CycleReport:
    """One full cycle over every log stream (the scheduler's job, ``soc detect --once``)."""
    client = client or search.client(settings)
    names = search.names(settings)
    owner = owner or f"runner-{uuid.uuid4().hex[:8]}"
    report = CycleReport()
    t0 = time.monotonic()
    now = store.node_now(client)
    if not store.acquire_lease(client, names, owner, ds.lease_s, now):
        report.ran = False
        return report
    try:
        for stream in streams:
            end = now - timedelta(seconds=ds.settle_s)
            start = store.get_checkpoint(client, names, f"detect:{stream}") or end - timedelta(
                seconds=ds.first_lookback_s)
            end = min(end, start + timedelta(seconds=ds.max_window_s))
            if end <= start:
                continue
            run_window(client, names, stream, compiled, start, end, ds, report, crash_at, batched)
    finally:
        store.release_lease(client, names, owner)
    report.duration_s = time.monotonic() - t0
    metrics.record_cycle(report.duration_s, store.Stats.rejections)
    return report
