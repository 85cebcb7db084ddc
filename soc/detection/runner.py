"""One detection cycle: ingest-time windows per slot, batched rule queries, alerts, then the checkpoints.

The work is cut into slots (log stream x rule group, ``soc.detection.slots``); an instance holds
some of them under a lease. For each held slot the window is (its checkpoint, node-now - settle],
node-now being read just before the log streams are refreshed;
every document is evaluated in the one window its ``event.ingested`` falls in, however old its
``@timestamp``. A cycle sends the single-event queries of all its slots in shared ``_msearch``
requests, evaluates the correlations, writes all alerts in one bulk request (deterministic ids),
and only then moves the checkpoints, so a crash at any point re-runs the windows without a gap and
without a duplicate.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from opensearchpy import OpenSearch

from soc import search
from soc.alerts import store as alert_store
from soc.alerts.documents import AlertDoc
from soc.config import Settings
from soc.detection import alerting, correlate, local, metrics, recent, slots, store
from soc.detection.convert import Compiled, CompiledCorrelation, Result, referenced_ids
from soc.detection.settings import DetectionSettings
from soc.detection.slots import Slot
from soc.ecs import TIME_TAGS
from soc.intel import cycle as intel_cycle
from soc.search import Names
from soc.suppressions import match as suppression
from soc.suppressions import store as suppression_store

log = logging.getLogger(__name__)

StepHook = Callable[[str], None]
# Test seam: called with the name of each point where a crash must lose nothing ("before_alerts",
# "before_checkpoint"). None in production; a test fixture sets it to raise there.
step_hook: StepHook | None = None


def _step(name: str) -> None:
    if step_hook is not None:
        step_hook(name)


@dataclass
class CycleReport:
    ran: bool = True
    windows: dict[str, tuple[str, str]] = field(default_factory=dict)  # slot label -> window evaluated
    slots: list[str] = field(default_factory=list)  # labels of the slots this instance held
    matches: int = 0
    alerts_created: int = 0
    alerts_existing: int = 0
    suppressed: int = 0
    overflow_rules: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    duration_s: float = 0.0
    requests: int = 0
    correlations_evaluated: int = 0  # full-timespan aggregations run (the others were ruled out by the probe)
    skipped: int = 0  # rule queries not sent: the window holds no value an exact-term condition needs
    fetched: int = 0  # documents read for local matching (soc.detection.local)
    matched_locally: int = 0  # rules answered in the service instead of by a search
    cut_windows: int = 0  # windows cut after local_max_events new events (the rest waits for the next cycle)
    matched_new: int = 0  # documents matched in the service (those of the re-checked stretch seen before are not)
    # documents the re-checked stretch held that the last read had not seen: stamped before its window's
    # end, searchable only after its snapshot (their bulk request was still being indexed)
    stragglers: int = 0
    stretch_listed: int = 0  # windows whose stretch was listed (its count was not the last read's)
    probed_here: int = 0  # correlation probes answered from a window read once
    groups_here: int = 0  # correlation groups judged on the recent matches kept here (soc.detection.recent)
    groups_node: int = 0  # correlation groups whose totals, events and counts were searched on the node
    # events of the windows whose own time the ingest pipeline flagged: _late, _future_timestamp, _time_missing
    time_tags: dict[str, int] = field(default_factory=dict)
    refreshed_ahead: bool = False  # the cycle began with the snapshot its busy predecessor started (run_cycle)
    claimed: bool = False  # the cycle read the slots' leases (every cycle of a one-shot run; claim_every_s)
    alerts_written_at: float = 0.0  # wall clock (epoch seconds) when the cycle's alert bulk request returned
    # seconds spent per step: start (refresh; slot leases), singles, correlations, intel, write, finish
    phases: dict[str, float] = field(default_factory=dict)

    def lap(self, name: str, since: float) -> float:
        """Add the time from ``since`` (time.monotonic()) to phase ``name``; returns now."""
        now = time.monotonic()
        self.phases[name] = self.phases.get(name, 0.0) + now - since
        return now


# search_after needs a total order. Sorting on _id loads its fielddata (deprecated); OpenSearch 2.19
# has no _shard_doc. A log document is created once and never updated, and every backing index has
# one primary shard (soc.opensearch.templates), so (backing index, sequence number) names it uniquely.
PAGE_SORT: list[dict[str, str]] = [{"event.ingested": "asc"}, {"_index": "asc"}, {"_seq_no": "asc"}]


def _must_not(rule_id: str, ds: DetectionSettings) -> list[dict[str, Any]]:
    agencies = [pair.split(":", 1)[1] for pair in ds.disabled_for_agency if pair.split(":", 1)[0] == rule_id]
    return [{"terms": {"organization.id": agencies}}] if agencies else []


def _body(c: Compiled, start: datetime, end: datetime, ds: DetectionSettings, size: int,
          after: list[Any] | None = None, query: dict[str, Any] | None = None) -> dict[str, Any]:
    """One search of rule ``c`` over the window (``query``: one of a split rule's parts)."""
    body: dict[str, Any] = {
        "size": size, "track_total_hits": True, "sort": PAGE_SORT,
        "query": {"bool": {"filter": [
            {"range": {"event.ingested": {"gt": store.iso(start), "lte": store.iso(end)}}}, query or c.dsl()],
            "must_not": _must_not(c.rule.id, ds)}}}
    if after:
        body["search_after"] = after
    return body


@dataclass
class Work:
    """One slot's window and the rules it runs."""

    slot: Slot
    start: datetime
    end: datetime
    singles: list[Compiled]
    corrs: list[CompiledCorrelation]
    recheck: timedelta = timedelta(0)

    @property
    def since(self) -> datetime:
        """Where the searches start: the window plus the re-checked stretch before it (``recheck_s``)."""
        return self.start - self.recheck

    def fresh(self, hit: dict[str, Any]) -> bool:
        """Whether a hit was indexed in the window proper (not in the re-checked stretch)."""
        ingested = ((hit.get("_source") or {}).get("event") or {}).get("ingested")
        return ingested is None or store.parse_time(str(ingested)) > self.start

    @property
    def window(self) -> dict[str, str]:
        return {"start": store.iso(self.start), "end": store.iso(self.end)}


def plan(compiled: list[Result], slot: Slot, start: datetime, end: datetime, ds: DetectionSettings,
         groups: dict[str, int] | None = None) -> Work:
    """The rules of a slot: its stream's enabled rules of its group (all of them with one group)."""
    hidden = referenced_ids(compiled)
    groups = groups if groups is not None else slots.assign(compiled, slot.groups)

    def mine(c: Compiled | CompiledCorrelation) -> bool:
        return (slot.stream in c.streams and c.rule.id not in hidden and c.rule.id not in ds.disabled_rules
                and groups.get(c.rule.id, 0) == slot.group)

    return Work(slot, start, end, [c for c in compiled if isinstance(c, Compiled) and mine(c)],
                [c for c in compiled if isinstance(c, CompiledCorrelation) and mine(c)],
                timedelta(seconds=ds.recheck_s))


def _batched_hits(client: OpenSearch, names: Names, works: list[Work], ds: DetectionSettings,
                  report: CycleReport, batched: bool, windows: dict[Slot, Matched] | None = None,
                  after_reads: Callable[[], None] | None = None,
                  ) -> dict[tuple[Slot, str], tuple[list[dict[str, Any]], int]]:
    """(slot, rule id) -> (hits up to the cap, total matches): the rules matched in the service on a
    small window read once, and the others, whose queries share the _msearch requests (a rule with
    more matches than one page is paged with search_after). ``windows`` receives the documents of
    the windows that were read (the correlations' probes use them)."""
    parts: dict[tuple[Slot, str], list[tuple[list[dict[str, Any]], int]]] = {}
    failed: set[tuple[Slot, str]] = set()
    first = min(ds.page_size, ds.per_rule_cap)
    step = ds.batch_size if batched else 1
    counts: dict[Slot, int] = {}
    tags: dict[Slot, dict[str, int]] = {}
    tick = time.monotonic()
    present = _present_values(client, names, works, ds, report, counts, tags)
    report.lap("singles: present values", tick)
    candidates = [(w, c) for w in works for c in w.singles if _may_match(c, present.get(w.slot, {}), report)]
    windows = windows if windows is not None else {}
    done = _local_hits(client, names, works, counts, ds, report, windows, after_reads)
    for w in works:  # a stream's events are counted once, by its first slot; a window read counts its own
        if w.slot.group == 0:
            got = _time_tags(w, windows[w.slot]) if w.slot in windows else tags.get(w.slot, {})
            for tag, n in got.items():
                report.time_tags[tag] = report.time_tags.get(tag, 0) + n
    items = [(w, c, q) for w, c in candidates if (w.slot, c.rule.id) not in done for q in c.searches()]
    parts.update({key: [found] for key, found in done.items()})
    tick = time.monotonic()
    for i in range(0, len(items), step):
        chunk = items[i:i + step]
        requests = [(names(w.slot.stream), _body(c, w.since, w.end, ds, first, query=q)) for w, c, q in chunk]
        responses = store.msearch(client, requests, ds.max_concurrent_searches, ds.request_timeout_s)
        report.requests += 1
        for (w, c, q), (index, _), resp in zip(chunk, requests, responses, strict=True):
            if "error" in resp:
                report.errors[c.rule.id] = str(resp["error"].get("root_cause", resp["error"]))[:500]
                failed.add((w.slot, c.rule.id))
                continue
            hits = resp["hits"]["hits"]
            total = int(resp["hits"]["total"]["value"])
            while len(hits) < min(total, ds.per_rule_cap) and hits:
                size = min(ds.page_size, ds.per_rule_cap - len(hits))
                page = store.search(client, index, _body(c, w.since, w.end, ds, size, hits[-1]["sort"], q),
                                    ds.request_timeout_s)
                report.requests += 1
                if not page["hits"]["hits"]:
                    break
                hits += page["hits"]["hits"]
            parts.setdefault((w.slot, c.rule.id), []).append((hits, total))
    report.lap("singles: searched", tick)
    return {key: _merge(found, ds.per_rule_cap) for key, found in parts.items() if key not in failed}


PRESENT_MAX = 1000  # distinct values of a field per window beyond which its presence is not checked


def _present_values(client: OpenSearch, names: Names, works: list[Work], ds: DetectionSettings,
                    report: CycleReport, counts: dict[Slot, int], tags: dict[Slot, dict[str, int]],
                    ) -> dict[Slot, dict[str, set[str]]]:
    """Per slot, the lower-cased values the window holds for each field that a rule searched on the
    node requires an exact value of (one aggregation request for all slots; with local matching on,
    only the rules without a local matcher are searched). A field with too many values is left out.
    The same request counts the window's events (into ``counts``, re-checked stretch included) and,
    into ``tags``, the window's own events whose time the ingest pipeline flagged."""
    searched = [(w, [c for c in w.singles if ds.local_max_events <= 0 or c.local is None]) for w in works]
    # a window whose rules are all matched here is read whole anyway: nothing to ask beforehand
    asks = [(w, sorted({f for c in cs for f, _ in c.required})) for w, cs in searched if cs or not w.singles]
    if not asks:
        return {}
    requests = []
    for w, fields in asks:
        aggs: dict[str, Any] = {f"f{i}": {"terms": {"field": f, "size": PRESENT_MAX}} for i, f in enumerate(fields)}
        aggs["fresh"] = {"filter": {"range": {"event.ingested": {"gt": store.iso(w.start)}}}, "aggs": {
            "time_tags": {"filters": {"filters": {t: {"term": {"tags": t}} for t in TIME_TAGS}}}}}
        requests.append((names(w.slot.stream), {
            "size": 0, "track_total_hits": True, "aggs": aggs,
            "query": {"range": {"event.ingested": {"gt": store.iso(w.since), "lte": store.iso(w.end)}}}}))
    responses = store.msearch(client, requests, ds.max_concurrent_searches, ds.request_timeout_s)
    report.requests += 1
    out: dict[Slot, dict[str, set[str]]] = {}
    for (w, fields), resp in zip(asks, responses, strict=True):
        if "error" in resp:
            continue  # unknown: every rule runs
        counts[w.slot] = int(resp.get("hits", {}).get("total", {}).get("value", 0))
        got = resp.get("aggregations")
        if not got:  # the pattern names no index yet (no agency has written this stream)
            continue
        tags[w.slot] = {tag: int(bucket["doc_count"])
                        for tag, bucket in got.get("fresh", {}).get("time_tags", {}).get("buckets", {}).items()}
        out[w.slot] = {f: {str(b["key"]).lower() for b in got[f"f{i}"]["buckets"]}
                       for i, f in enumerate(fields) if not got[f"f{i}"].get("sum_other_doc_count")}
    return out


def probes_here(c: CompiledCorrelation, slot: Slot) -> bool:
    """Whether a correlation's probe can be answered from its slot's window read once."""
    return c.streams == (slot.stream,) and all(b.local is not None for b in c.bases)


Matched = list[tuple[local.Doc, frozenset[str]]]  # a window's documents, each with the local rules it matched
# A document read before, by (backing index, id): the local rules it matched, and its event.ingested
# (epoch ms).
Known = dict[tuple[str, str], tuple[frozenset[str], int]]
# Per slot: the rule set's token and the documents of the last window read. The next window's
# re-checked stretch (recheck_s) is made of them unless some were made searchable after that read:
# they are not read or matched again.
_memo: dict[str, tuple[tuple[tuple[str, str], ...], Known]] = {}


def _local_hits(client: OpenSearch, names: Names, works: list[Work], counts: dict[Slot, int],
                ds: DetectionSettings, report: CycleReport, windows: dict[Slot, Matched],
                after_reads: Callable[[], None] | None = None,
                ) -> dict[tuple[Slot, str], tuple[list[dict[str, Any]], int]]:
    """(slot, rule id) -> (hits up to the cap, total) for the rules matched in the service: each window
    is read once (every field, in window order; a window holding more than ``local_max_events`` new
    events is cut after that many, and the next cycle goes on from there) and every rule with a local
    matcher runs on it (the base rules of the correlations whose probe is answered here too;
    ``windows`` receives each document with the rules it matched). A rule whose matcher fails goes
    back to the node. Every window is read before any is matched: ``after_reads`` is called between
    (the scheduler's next refresh starts there, while this cycle matches)."""
    out: dict[tuple[Slot, str], tuple[list[dict[str, Any]], int]] = {}
    if ds.local_max_events <= 0:
        return out
    read: list[tuple[Work, dict[str, Compiled], dict[str, Compiled], tuple[Any, ...], Known, Known,
                     list[dict[str, Any]]]] = []
    for w in works:
        singles = {c.rule.id: c for c in w.singles if c.local is not None}
        bases = {b.rule.id: b for corr in w.corrs if probes_here(corr, w.slot) for b in corr.bases}
        if not singles and not bases:
            continue
        tick = time.monotonic()
        token = tuple(sorted((rid, c.query) for rid, c in {**bases, **singles}.items()))
        old_token, old = _memo.get(w.slot.label, ((), {}))
        known = old if old_token == token else {}
        seen: Known = {}  # documents of the re-checked stretch matched before
        if not counts.get(w.slot, 1):
            hits: list[dict[str, Any]] | None = []
        elif known and w.recheck:
            hits = _fetch_window(client, names, w, ds, report, known, seen)
        else:
            hits = _fetch_window(client, names, w, ds, report)
        report.lap("singles: read", tick)
        if hits is not None:  # None: the read failed, these rules are searched on the node
            read.append((w, singles, bases, token, known, seen, hits))
    if after_reads is not None:
        after_reads()
    for w, singles, bases, token, known, seen, hits in read:
        tick = time.monotonic()
        every = {**bases, **singles}
        broken: set[str] = set()
        matched: Matched = []
        for h in hits:
            key = (h["_index"], h["_id"])
            doc = local.Doc(h.get("_source") or {}, (*key, int(h["sort"][2])))
            was = known.get(key)
            got = was[0] if was is not None else None
            if got is None:
                got = frozenset(rid for rid, c in every.items() if rid not in broken and _try(c, doc, broken))
            matched.append((doc, got))
        if broken:
            _memo.pop(w.slot.label, None)  # decisions without the broken rules are not kept
        else:
            _memo[w.slot.label] = (token, {**seen, **{(h["_index"], h["_id"]): (m, int(h["sort"][0]))
                                                      for h, (_, m) in zip(hits, matched, strict=True)}})
        if not broken & set(bases):
            windows[w.slot] = matched
        for rid in singles:
            if rid in broken:
                continue
            off = {a for pair in ds.disabled_for_agency for r, _, a in [pair.partition(":")] if r == rid}
            found = [h for h, (d, m) in zip(hits, matched, strict=True)
                     if rid in m and (not off or str((d.get("organization.id") or ["unknown"])[0]) not in off)]
            out[(w.slot, rid)] = (found[:ds.per_rule_cap], len(found))
            report.matched_locally += 1
        report.matched_new += sum(1 for h in hits if (h["_index"], h["_id"]) not in known)
        report.lap("singles: matched here", tick)
    return out


def _time_tags(w: Work, matched: Matched) -> dict[str, int]:
    """The window's own events (not the re-checked stretch) whose time the ingest pipeline flagged."""
    start = _epoch_ms(w.start)
    out = dict.fromkeys(TIME_TAGS, 0)
    for doc, _ in matched:
        if (local.epoch_ms(doc, "event.ingested") or 0) > start:
            for tag in set(doc.keywords("tags", "exact")) & set(TIME_TAGS):
                out[tag] += 1
    return out


def _epoch_ms(when: datetime) -> int:
    return (when - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def _try(c: Compiled, doc: local.Doc, broken: set[str]) -> bool:
    try:
        return bool(c.local(doc))  # type: ignore[misc]
    except Exception as exc:  # an unexpected value: the node answers for this rule this cycle
        log.warning("rule %s not matched locally (%s: %s); searched on the node", c.rule.id, type(exc).__name__, exc)
        broken.add(c.rule.id)
        return False


def _stretch(client: OpenSearch, names: Names, w: Work, ds: DetectionSettings, report: CycleReport,
             known: Known, seen: Known) -> list[dict[str, Any]] | None:
    """The re-checked stretch when the last window's documents are known and the stretch holds others
    too: its documents are listed without their source; those matched before go into ``seen``, and
    only the others (made searchable after the last read) are fetched whole. Returns those, in window
    order; None when a read fails."""
    stretch = {"range": {"event.ingested": {"gt": store.iso(w.since), "lte": store.iso(w.start)}}}
    body: dict[str, Any] = {"size": ds.fetch_page, "track_total_hits": False, "sort": PAGE_SORT, "_source": False,
                            "query": stretch}
    unseen: list[dict[str, Any]] = []
    while True:
        try:
            got = store.search(client, names(w.slot.stream), body, ds.request_timeout_s)["hits"]["hits"]
        except Exception:
            return None
        report.requests += 1
        for h in got:
            key = (h["_index"], h["_id"])
            if key in known:
                seen[key] = known[key]
            else:
                unseen.append(h)
        if len(seen) + len(unseen) > 3 * ds.local_max_events:
            return None
        if len(got) < ds.fetch_page:
            break
        body["search_after"] = got[-1]["sort"]
    report.stragglers += len(unseen)
    if not unseen:
        return []
    try:
        docs = store.with_backoff(lambda: client.mget(body={"docs": [{"_index": h["_index"], "_id": h["_id"]}
                                                                     for h in unseen]}))["docs"]
    except Exception:
        return None
    report.requests += 1
    out = []
    for h, d in zip(unseen, docs, strict=True):
        if not d.get("found"):
            return None  # gone since it was listed: read the stretch whole
        out.append({**h, "_source": d["_source"]})
    return out


def _fetch_window(client: OpenSearch, names: Names, w: Work, ds: DetectionSettings, report: CycleReport,
                  known: Known | None = None, seen: Known | None = None) -> list[dict[str, Any]] | None:
    """Every document of a slot's window (re-checked stretch included), in window order; with ``known``
    (the documents of the last window read, matched) the stretch's known documents are not read again
    but put into ``seen``. When the window holds more than ``local_max_events`` new events, it is cut
    after that many (and after every event stamped in the same millisecond as the last): ``w.end``
    moves back to that stamp. None when the read fails or the re-checked stretch alone is too large:
    the node answers instead.

    With ``known``, the first page of the window also counts the documents the stretch holds now. A
    log document is created once and never changed, so when that count is the number of known
    documents stamped in the stretch, the stretch is those documents: nothing there is listed or
    read. Otherwise (an event stamped before the last snapshot that became searchable after it) the
    stretch is listed (``_stretch``)."""
    window = {"range": {"event.ingested": {"gt": store.iso(w.start), "lte": store.iso(w.end)}}}
    body: dict[str, Any] = {"size": ds.fetch_page, "track_total_hits": False, "sort": PAGE_SORT,
                            "query": {"range": {"event.ingested": {"gt": store.iso(w.since), "lte": store.iso(w.end)}}}}
    mine: Known | None = None
    if known is not None and seen is not None:
        low, high = _epoch_ms(w.since), _epoch_ms(w.start)
        mine = {key: v for key, v in known.items() if low < v[1] <= high}
        body["post_filter"] = window  # the hits: the window's documents only
        body["aggs"] = {"stretch": {"filter": {"range": {"event.ingested": {
            "gt": store.iso(w.since), "lte": store.iso(w.start)}}}}}
    hits: list[dict[str, Any]] = []
    start = _epoch_ms(w.start)
    fresh = 0
    cut_at: int | None = None
    while True:
        try:
            page = store.search(client, names(w.slot.stream), body, ds.request_timeout_s)
        except Exception:
            return None
        report.requests += 1
        if body.pop("aggs", None) is not None and mine is not None and seen is not None and known is not None:
            counted = int(((page.get("aggregations") or {}).get("stretch") or {}).get("doc_count", -1))
            if counted == len(mine):
                seen.update(mine)
            else:
                report.stretch_listed += 1
                got = _stretch(client, names, w, ds, report, known, seen)
                if got is None:  # the stretch is read whole with the window, from the start
                    seen.clear()
                    body = {key: v for key, v in body.items() if key not in ("post_filter", "search_after")}
                    continue
                hits = got
        got = page["hits"]["hits"]
        for h in got:
            stamp = int(h["sort"][0])
            if cut_at is not None and stamp != cut_at:
                w.end = min(w.end, datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=cut_at))
                report.fetched += len(hits)
                report.cut_windows += 1
                return hits
            hits.append(h)
            fresh += stamp > start
            if cut_at is None and fresh >= ds.local_max_events:
                cut_at = stamp
        if len(hits) > 3 * ds.local_max_events:
            return None  # the re-checked stretch alone is that large: searched on the node
        if len(got) < ds.fetch_page:
            break
        body["search_after"] = got[-1]["sort"]
    report.fetched += len(hits)
    return hits


def _may_match(c: Compiled, present: dict[str, set[str]], report: CycleReport) -> bool:
    """False when the window holds none of the values one of the rule's exact-term conditions needs."""
    for fld, values in c.required:
        if fld in present and not values & present[fld]:
            report.skipped += 1
            return False
    return True


def _merge(found: list[tuple[list[dict[str, Any]], int]], cap: int) -> tuple[list[dict[str, Any]], int]:
    """One rule's (hits, total) from its parts' answers: hits once per document, in window order, up to
    the cap. The total is exact when every part's matches were all fetched, else the parts' sum (an
    upper bound: a document matching two parts counts twice)."""
    if len(found) == 1:
        return found[0]
    merged = {(h["_index"], h["_id"]): h for hits, _ in found for h in hits}
    hits = sorted(merged.values(), key=lambda h: tuple(h["sort"]))
    complete = all(len(h) == total for h, total in found)
    return hits[:cap], len(hits) if complete else sum(total for _, total in found)


@dataclass
class Found:
    """What evaluating a cycle's windows produced, before anything is written."""

    alerts: list[tuple[str, AlertDoc]] = field(default_factory=list)
    updates: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # correlation episodes extended
    suppressed: Counter[str] = field(default_factory=Counter)
    hits: Counter[str] = field(default_factory=Counter)  # per rule id


def evaluate(client: OpenSearch, names: Names, works: list[Work], ds: DetectionSettings, report: CycleReport,
             created: str, excs: list[dict[str, Any]], batched: bool = True,
             after_reads: Callable[[], None] | None = None) -> Found:
    found = Found()
    windows: dict[Slot, Matched] = {}
    tick = time.monotonic()
    for (slot, rule_id), (hits, total) in _batched_hits(client, names, works, ds, report, batched, windows,
                                                                   after_reads).items():
        work = next(w for w in works if w.slot == slot)
        rule = next(c.rule for c in work.singles if c.rule.id == rule_id)
        # the re-checked stretch was counted by the cycle that first saw it: count the window's own hits
        fresh = [work.fresh(hit) for hit in hits]
        total = sum(fresh) if len(hits) == total else total
        report.matches += total
        for hit, new in zip(hits, fresh, strict=True):
            exc_id = suppression.suppressing(excs, rule_id, hit.get("_source", {}))
            if exc_id:
                found.suppressed[exc_id] += 1 if new else 0
                continue
            found.alerts.append(alerting.from_hit(rule, hit, created, work.window))
        if total > ds.per_rule_cap:
            agency = str((hits[-1].get("_source", {}).get("organization") or {}).get("id", "unknown"))
            found.alerts.append(alerting.overflow(rule, total, ds.per_rule_cap, agency, created, work.window))
            report.overflow_rules.append(rule_id)
        found.hits[rule_id] += total
    tick = report.lap("singles", tick)
    items: list[correlate.Item] = []
    for w in works:
        for c in w.corrs:
            index, must_not = ",".join(names(s) for s in c.streams), _must_not(c.rule.id, ds)
            docs = windows.get(w.slot) if probes_here(c, w.slot) else None
            book = recent.update(client, c, w.slot.label, index, must_not, w.since, w.end, docs, ds.request_timeout_s,
                                 ds.recent_max_entries)
            items.append(correlate.Item(c, index, w.since, w.end, must_not, w.window, docs, names, book))
    tick = report.lap("correlations: recent matches", tick)
    result = correlate.run(client, names, items, ds, created)
    for step, spent in result.phases.items():
        report.phases[f"correlations: {step}"] = report.phases.get(f"correlations: {step}", 0.0) + spent
    report.correlations_evaluated += result.evaluated
    report.probed_here += result.probed_here
    report.groups_here += result.groups_here
    report.groups_node += result.groups_node
    report.errors.update(result.errors)
    found.alerts += result.created
    found.updates += result.updated
    for rule_id, n in result.hits.items():
        found.hits[rule_id] += n
    tick = report.lap("correlations", tick)
    # threat-intelligence matches of the windows (and the retro-hunt of new indicators); every alert enriched
    found.alerts = intel_cycle.run(client, names, works, created, found.alerts)
    report.lap("intel", tick)
    return found


def _write(client: OpenSearch, names: Names, found: Found, created: str, report: CycleReport) -> int:
    """All of a cycle's alerts in one request; then the exceptions' counters. Returns alerts created."""
    _step("before_alerts")
    made, existing = alert_store.create_alerts(client, names, found.alerts, updates=found.updates)
    report.alerts_written_at = time.time()
    report.alerts_created += made
    report.alerts_existing += existing
    _step("before_checkpoint")
    suppression_store.count_hits(client, names, dict(found.suppressed), created)
    report.suppressed += sum(found.suppressed.values())
    return made


# A rule's state document is rewritten in every cycle where it matched or failed, and otherwise at
# most this often (its last_run then lags by up to this much). Rewriting every rule's document every
# cycle was a scripted update per rule per second on a busy runner.
STATE_EVERY_S = 60.0
_state_written: dict[tuple[str, str], float] = {}  # (state index, rule id) -> monotonic time of last write


def _states(names: Names, works: list[Work], found: Found, report: CycleReport, ms: int) -> dict[str, dict[str, Any]]:
    """The rules' state documents this cycle rewrites (those that matched or failed, the others at
    most every ``STATE_EVERY_S``)."""
    now = store.iso(datetime.now(UTC))
    tick = time.monotonic()
    states: dict[str, dict[str, Any]] = {}
    rule_ids = [c.rule.id for w in works for c in w.singles] + [c.rule.id for w in works for c in w.corrs]
    for rule_id in rule_ids:
        err = report.errors.get(rule_id)
        hits = found.hits.get(rule_id, 0)
        key = (names.rules_state, rule_id)
        if not hits and not err and tick - _state_written.get(key, -STATE_EVERY_S) < STATE_EVERY_S:
            continue
        _state_written[key] = tick
        states[rule_id] = {"rule_id": rule_id, "hits": hits, "last_run": now,
                           "duration_ms": ms, "enabled": True, "errors": 1 if err else 0, "last_error": err}
    return states


def _metrics(found: Found, made: int, report: CycleReport) -> None:
    metrics.record_alerts(made, sum(found.suppressed.values()), report.errors)
    metrics.record_time_tags(report.time_tags)


def run_window(client: OpenSearch, names: Names, stream: str, compiled: list[Result], start: datetime,
               end: datetime, ds: DetectionSettings, report: CycleReport,
               batched: bool = True) -> None:
    """Every rule of one stream over one window, then that stream's checkpoint (rule tests, evaluation)."""
    t0 = time.monotonic()
    created = store.iso(datetime.now(UTC))
    work = plan(compiled, Slot(stream, 0, 1), start, end, ds)
    found = evaluate(client, names, [work], ds, report, created,
                     suppression_store.active(client, names, end), batched)
    made = _write(client, names, found, created, report)
    store.set_checkpoint(client, names, work.slot.doc_id, end)
    report.windows[stream] = (work.window["start"], work.window["end"])
    metrics.record_checkpoint(stream, end)
    store.write_rule_states(client, names, _states(names, [work], found, report, int((time.monotonic() - t0) * 1000)))
    _metrics(found, made, report)


# The scheduler's next snapshot (node time, then the log streams refreshed), started in a thread of
# its own once a busy cycle has read its windows: the node refreshes while this process matches, and
# the next cycle, which the scheduler starts at once (soc.scheduler), begins with its documents
# already searchable. Its window ends at that snapshot's node time. Per (owner, streams).
@dataclass
class _Ahead:
    stamped: Future[datetime]  # the node's time, known before the refresh begins
    future: Future[float]  # when the refresh ended (time.monotonic())
    started: float  # time.monotonic()


@dataclass
class _Last:
    ended: float  # time.monotonic()
    busy: bool  # the cycle took the whole period: the scheduler starts the next one at once


_ahead: dict[tuple[str, tuple[str, ...]], _Ahead] = {}
_last: dict[tuple[str, tuple[str, ...]], _Last] = {}
_ahead_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="detect-refresh-ahead")


def _timed_snapshot(client: OpenSearch, names: Names, streams: tuple[str, ...], stamped: Future[datetime]) -> float:
    """A snapshot in two steps: the node's time is handed over in ``stamped`` as soon as it is known
    (the next cycle claims its slots and reads its suppressions meanwhile), then the refresh."""
    try:
        stamped.set_result(store.node_now(client))
    except BaseException as exc:
        stamped.set_exception(exc)
        raise
    return _refresh(client, names, streams)


# How long the log streams' last refreshes took (the benchmark prints them): under load the refresh of
# every agency's write index is the longest step a window waits for.
refresh_seconds: deque[float] = deque(maxlen=1000)


def _refresh(client: OpenSearch, names: Names, streams: tuple[str, ...]) -> float:
    """Refresh the log streams; returns when it ended (time.monotonic())."""
    began = time.monotonic()
    store.refresh_streams(client, names, streams)
    ended = time.monotonic()
    refresh_seconds.append(ended - began)
    return ended


def _snapshot(client: OpenSearch, names: Names, streams: tuple[str, ...]) -> datetime:
    """The node's time, then every document the log streams indexed before it made searchable."""
    now = store.node_now(client)
    # Everything indexed before this point becomes searchable now rather than at the next scheduled
    # refresh, so the settle delay need not cover the refresh interval: only the time between the
    # ingest pipeline stamping event.ingested and the shard indexing it (and clock skew). Leaving it
    # to the streams' own refresh was tried: under load the refresh lagged past the re-checked
    # stretch and 23 of 600 attack events got no alert (BENCHMARKS.md, detection).
    _refresh(client, names, streams)
    return now


def _taken_ahead(key: tuple[str, tuple[str, ...]], ds: DetectionSettings,
                 began: float) -> tuple[datetime, Future[float]] | None:
    """The snapshot started during the last cycle, when this cycle follows a busy one at once (the
    scheduler's loop), or when that snapshot is younger than its refresh took and than a period (a
    cycle shorter than the period waited for the tick: a fresh snapshot would delay every event of
    the window by a refresh, to take in less than a refresh's worth more). None when there is none,
    it failed, or it is older. Handed back as its node time and its refresh, which may still be
    running: the cycle waits for it (``_refreshed``) only before it reads."""
    ahead, last = _ahead.pop(key, None), _last.get(key)
    if ahead is None or last is None:
        return None
    follows = last.busy and began - last.ended <= max(ds.interval_s, 1.0)
    if not follows and began - ahead.started > ds.interval_s:
        return None  # stale whenever its refresh ends: not waited for
    try:
        now = ahead.stamped.result(timeout=ds.request_timeout_s)
        if follows:
            return now, ahead.future
        refreshed = ahead.future.result(timeout=ds.request_timeout_s)
    except Exception as exc:  # the cycle takes its own snapshot
        log.warning("refresh started ahead failed (%s: %s); refreshing now", type(exc).__name__, exc)
        return None
    if began - ahead.started <= refreshed - ahead.started:
        return now, ahead.future
    return None


def _refreshed(pending: Future[float], client: OpenSearch, names: Names, streams: tuple[str, ...],
               ds: DetectionSettings) -> None:
    """Wait for the refresh started ahead. Should it fail, the log streams are refreshed now: a refresh
    begun after the snapshot's node time makes everything indexed before it searchable too."""
    try:
        pending.result(timeout=ds.request_timeout_s)
    except Exception as exc:
        log.warning("refresh started ahead failed (%s: %s); refreshing now", type(exc).__name__, exc)
        store.refresh_streams(client, names, streams)


# A scheduler instance's slots between two readings of the leases (claim_every_s): as its last cycle
# left them (positions and versions written). Per (index prefix, owner, streams).
@dataclass
class _Claimed:
    held: list[slots.Held]
    at: float  # time.monotonic() of the reading


_claimed: dict[tuple[str, str, tuple[str, ...]], _Claimed] = {}


def _kept(works: list[Work], held: list[slots.Held], moved: dict[Slot, tuple[int, int]],
          claimed: _Claimed) -> _Claimed | None:
    """The slots held after a cycle, each at the checkpoint and version it wrote; None when a checkpoint
    write was refused (the lease was lost, or the slot's document was changed by someone else)."""
    if any(w.slot not in moved for w in works):
        return None
    ends = {w.slot: store.parse_time(store.iso(w.end)) for w in works}  # as written and read back
    return _Claimed([slots.Held(h.slot, ends.get(h.slot, h.position), moved.get(h.slot, h.version)) for h in held],
                    claimed.at)


def forget_ahead() -> None:
    """Drop the snapshots started ahead, the slots held between readings of the leases and what is
    known of the last cycles (tests)."""
    _ahead.clear()
    _last.clear()
    _claimed.clear()


def detection_client(settings: Settings) -> OpenSearch:
    """The client detection cycles run with (the scheduler's, ``soc detect --once``'s, the benchmark's):
    its JSON is read and written by orjson, which the windows' documents make worth it."""
    return search.client(settings, serializer=search.OrjsonSerializer())


def run_cycle(settings: Settings, ds: DetectionSettings, compiled: list[Result], *, owner: str | None = None,
              client: OpenSearch | None = None, batched: bool = True,
              streams: tuple[str, ...] = search.LOG_STREAMS, until: datetime | None = None) -> CycleReport:
    """One cycle over the slots this instance holds (the scheduler's job, ``soc detect --once``).

    With ``owner`` (a scheduler instance) the slots stay held between cycles and are renewed each
    cycle; without it (a one-shot run) they are given back at the end. ``until``: the windows end
    there (no settle delay; at most the node's now) instead of at now - settle.

    A scheduler's busy cycle (one that will likely take the whole period) starts the next cycle's
    snapshot once it has read its windows; the next cycle uses it if it follows at once.
    """
    client = client or detection_client(settings)
    names = search.names(settings)
    one_shot = owner is None
    owner = owner or f"runner-{uuid.uuid4().hex[:8]}"
    key = (owner, tuple(streams))
    report = CycleReport()
    t0 = time.monotonic()
    taken = None if one_shot or until is not None else _taken_ahead(key, ds, t0)
    report.refreshed_ahead = taken is not None
    pending: Future[float] | None = None
    if taken is None:
        now = _snapshot(client, names, tuple(streams))
    else:  # its refresh may still run: slots and suppressions are read meanwhile, windows after it
        now, pending = taken
    tick = report.lap("start: node time and refresh", t0)

    def refresh_ahead() -> None:
        last = _last.get(key)
        if one_shot or until is not None or not (
                (last is not None and last.busy) or time.monotonic() - t0 >= ds.interval_s / 2):
            return
        stamped: Future[datetime] = Future()
        _ahead[key] = _Ahead(stamped, _ahead_pool.submit(_timed_snapshot, client, names, tuple(streams), stamped),
                             time.monotonic())

    held_key = (names.prefix, owner, tuple(streams))
    claimed = None if one_shot else _claimed.pop(held_key, None)
    if claimed is None or time.monotonic() - claimed.at >= min(ds.claim_every_s, ds.lease_s / 4):
        claimed = _Claimed(slots.claim(client, names, slots.all_slots(streams, ds.rule_groups), owner, ds.lease_s,
                                       now), time.monotonic())
        report.claimed = True
    held = claimed.held
    report.slots = [h.slot.label for h in held]
    if not held:
        report.ran = False
        _last.pop(key, None)
        if one_shot:
            slots.leave(client, names, owner)
        return report
    moved: dict[Slot, tuple[int, int]] = {}
    try:
        groups = slots.assign(compiled, ds.rule_groups)
        works: list[Work] = []
        for h in held:
            end = min(until, now) if until is not None else now - timedelta(seconds=ds.settle_s)
            start = h.position or end - timedelta(seconds=ds.first_lookback_s)
            end = min(end, start + timedelta(seconds=ds.max_window_s))
            if end > start:
                works.append(plan(compiled, h.slot, start, end, ds, groups))
        created = store.iso(datetime.now(UTC))
        excs = suppression_store.active(client, names, now)
        tick = report.lap("start: slots and suppressions", tick)
        if pending is not None:
            _refreshed(pending, client, names, tuple(streams), ds)
            tick = report.lap("start: node time and refresh", tick)
        found = evaluate(client, names, works, ds, report, created, excs, batched, refresh_ahead)
        if report.errors:  # the next cycle reads its re-checked stretch whole: what failed is tried again there
            _memo.clear()
        tick = time.monotonic()
        made = _write(client, names, found, created, report)
        tick = report.lap("write", tick)
        by_slot = {h.slot: h for h in held}
        # the rules' states go in the checkpoints' request: one round trip fewer per cycle
        states = _states(names, works, found, report, int((time.monotonic() - t0) * 1000))
        moved = slots.advance(client, names, [(by_slot[w.slot], w.end) for w in works],
                              None if one_shot else owner, ds.lease_s, now, store.rule_state_ops(names, states))
        kept = None if one_shot else _kept(works, held, moved, claimed)
        if kept is not None:
            _claimed[held_key] = kept
        for w in works:
            if w.slot in moved:
                report.windows[w.slot.label] = (w.window["start"], w.window["end"])
                metrics.record_checkpoint(w.slot.label, w.end)
        _metrics(found, made, report)
        report.lap("finish", tick)
    except BaseException:
        _last.pop(key, None)  # the next cycle takes a snapshot of its own
        raise
    finally:
        if one_shot:
            slots.give_back(client, names, [h for h in held if h.slot not in moved], now)
            slots.leave(client, names, owner)
    report.duration_s = time.monotonic() - t0
    if not one_shot:
        _last[key] = _Last(time.monotonic(), report.duration_s >= ds.interval_s)
    metrics.record_cycle(report.duration_s, store.Stats.rejections)
    return report
