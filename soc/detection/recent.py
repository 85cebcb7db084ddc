"""The recent base matches of each correlation, kept by event time between cycles.

A correlation's candidate, fetch and count steps (``soc.detection.correlate``) ask the node about a
group's base matches over an event-time span, whenever they arrived: one search per agency, every
cycle. On a live stream the runner has already read every one of those documents, in the windows it
matched locally. A book keeps them: per group, each base match with its event time, document, the
base rules it matched and its value_count values. The book answers for a span only when it holds
every base match of that span:

- it is seeded once from the node: the base matches ingested up to the end of the first window it
  takes whose event time is at most ``horizon`` old (``complete_from``);
- then every window of the slot adds its documents, the re-checked stretch included; the windows
  must follow one another (the next one starts at or before the last one's end), else the book is
  started again (another instance held the slot, a read failed);
- entries older than ``horizon`` by event time are dropped and ``complete_from`` moves up with them.

A span starting before ``complete_from`` (a backlog, a replay, a late event) is asked of the node as
before, and so is every correlation whose probe is not answered from the window. The node sees the
documents indexed since the window's end too; those come into the book with the next window and the
group is judged again then, as the node path judges later arrivals.

Memory: one entry per base match within the horizon (2 x timespan + 10 minutes), about 710 bytes at
worst; a book above ``recent_max_entries`` (a detection setting) is dropped and its correlation
searched on the node (logged).
"""

from __future__ import annotations

import ipaddress
import itertools
import logging
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from opensearchpy import OpenSearch

from soc import ecs
from soc.detection import correlation, local, store
from soc.detection.convert import CompiledCorrelation
from soc.detection.correlation import Group
from soc.detection.episodes import Point

log = logging.getLogger(__name__)

MARGIN_MS = 600_000  # how late (beyond the correlation's own spans) an event may be and still be judged here
MAX_TIMESPAN_S = 3600  # a correlation with a longer timespan is left to the node
SEED_PAGE = 10_000


@dataclass(frozen=True, slots=True)
class Entry:
    t: int  # event time, epoch ms
    index: str
    seq: int
    id: str
    bases: frozenset[int]
    value: str | None  # the value_count field's first doc value (as the node's fetch returns it)
    values: frozenset[str]  # all its doc values (as the node's cardinality counts them)

    def order(self) -> tuple[int, str, int]:
        """The node's fetch order: event time, backing index, sequence number."""
        return self.t, self.index, self.seq


@dataclass
class Book:
    token: tuple[Any, ...]
    width: int  # bucket width, ms (the correlation's timespan)
    horizon: int  # ms of event time kept behind the node's now
    complete_from: int  # every base match with an event time at or after this is here
    last_end: int  # ingest time (ms) up to which the windows were added
    buckets: dict[int, dict[Group, dict[tuple[str, str], Entry]]] = field(default_factory=dict)
    size: int = 0
    used: float = field(default_factory=time.monotonic)  # when a window was last added

    def add(self, group: Group, entry: Entry) -> None:
        slot = self.buckets.setdefault(entry.t - entry.t % self.width, {}).setdefault(group, {})
        key = (entry.index, entry.id)
        if key not in slot:
            self.size += 1
        slot[key] = entry

    def evict(self, now_ms: int) -> None:
        floor = now_ms - self.horizon
        floor -= floor % self.width
        for start in [b for b in self.buckets if b < floor]:
            self.size -= sum(len(g) for g in self.buckets.pop(start).values())
        self.complete_from = max(self.complete_from, floor)

    def covers(self, lo: int) -> bool:
        return lo >= self.complete_from

    def entries(self, group: Group, lo: int, hi: int) -> list[Entry]:
        """The group's base matches with lo <= event time <= hi, in the node's fetch order."""
        out: list[Entry] = []
        start = lo - lo % self.width
        for b in range(start, hi + 1, self.width):
            for e in self.buckets.get(b, {}).get(group, {}).values():
                if lo <= e.t <= hi:
                    out.append(e)
        out.sort(key=Entry.order)
        return out

    def points(self, group: Group, lo: int, hi: int) -> list[Point]:
        """What ``correlation.to_points`` makes of the node's fetch of the span (capped alike)."""
        got = self.entries(group, lo, hi)[:correlation.MAX_POINTS]
        return sorted(Point(e.t, f"{e.index}\x00{e.id}", e.bases, e.value) for e in got)

    def totals(self, corr: CompiledCorrelation, group: Group, spans: list[tuple[int, int]]) -> dict[str, Any]:
        """A group's totals over its spans, shaped as a candidates bucket (``correlation.could_fire``)."""
        seen: dict[tuple[str, str], Entry] = {}
        for lo, hi in spans:
            for e in self.entries(group, lo, hi):
                seen[(e.index, e.id)] = e
        bucket: dict[str, Any] = {"doc_count": len(seen),
                                  "distinct": {"value": len({v for e in seen.values() for v in e.values})}}
        for i in range(len(corr.bases)):
            bucket[f"b{i}"] = {"doc_count": sum(1 for e in seen.values() if i in e.bases)}
        return bucket

    def count(self, corr: CompiledCorrelation, group: Group, lo: int, hi: int) -> int:
        """What ``correlation.count_body`` counts over [lo, hi]: events, or distinct values."""
        got = self.entries(group, lo, hi)
        if corr.kind == "value_count" and corr.field:
            return len({v for e in got for v in e.values})
        return len(got)


# (indices read, slot, rule id) -> book; the indices name the deployment (its prefix)
_books: dict[tuple[str, str, str], Book] = {}
IDLE_S = 600.0  # a book no window was added to for this long is dropped (the slot went elsewhere)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _ms(when: datetime) -> int:
    return (when - _EPOCH) // timedelta(milliseconds=1)


def _token(corr: CompiledCorrelation, must_not: list[dict[str, Any]]) -> tuple[Any, ...]:
    return (corr.kind, corr.field, corr.group_by, corr.timespan_s, tuple(b.query for b in corr.bases), repr(must_not))


def usable(corr: CompiledCorrelation) -> bool:
    fields = ["organization.id", *corr.group_by, *([corr.field] if corr.field else [])]
    return (corr.timespan_s <= MAX_TIMESPAN_S and all(b.local is not None for b in corr.bases)
            and all(ecs.FIELDS.get(f) in ("keyword", "ci_keyword", "long", "ip") for f in fields))


def _node_order(kind: str | None, values: list[Any]) -> Any:
    """The first of a field's doc values, as the node sorts them (terms by UTF-8 bytes, which is code
    point order; numbers by value; addresses by their IPv6 form)."""
    if kind == "ip":
        return min(values, key=lambda v: ipaddress.ip_address(v).packed if ipaddress.ip_address(v).version == 6
                   else ipaddress.IPv6Address(f"::ffff:{v}").packed)
    return min(values)


_NONE: frozenset[str] = frozenset()
_BASES: dict[frozenset[int], frozenset[int]] = {}  # the few distinct sets of base rules, each held once


def _entry(corr: CompiledCorrelation, t: int, ref: tuple[str, str, int], bases: frozenset[int],
           values: list[Any]) -> Entry:
    kind = ecs.FIELDS.get(corr.field) if corr.field else None
    first = str(_node_order(kind, values)) if values else None
    bases = bases or frozenset({0})
    return Entry(t, sys.intern(ref[0]), ref[2], ref[1], _BASES.setdefault(bases, bases), first,
                 frozenset(str(v) for v in values) if values else _NONE)


def _groups(keys: list[list[Any]]) -> list[Group]:
    return [tuple(c) for c in itertools.product(*keys)] if all(keys) else []


def _seed(client: OpenSearch, corr: CompiledCorrelation, index: str, must_not: list[dict[str, Any]],
          ingested_until: str, event_from: int, book: Book, timeout_s: float, max_entries: int) -> bool:
    """Add the base matches ingested up to ``ingested_until`` whose event time is ``event_from`` or later."""
    fields = ["organization.id", *corr.group_by]
    docvalues: list[Any] = [{"field": "@timestamp", "format": "epoch_millis"}, *fields]
    if corr.field and corr.field not in fields:
        docvalues.append(corr.field)
    body: dict[str, Any] = {
        "size": SEED_PAGE, "_source": False, "track_total_hits": False, "docvalue_fields": docvalues,
        "sort": [{"@timestamp": "asc"}, {"_index": "asc"}, {"_seq_no": "asc"}],
        "query": {"bool": {
            "filter": [{"range": {"@timestamp": {"gte": event_from, "format": "epoch_millis"}}},
                       {"range": {"event.ingested": {"lte": ingested_until}}}],
            "should": [{"bool": {"filter": [b.dsl()], "_name": f"b{i}"}} for i, b in enumerate(corr.bases)],
            "minimum_should_match": 1, "must_not": [correlation.NOT_LATE, *must_not]}}}
    while True:
        hits = store.search(client, index, body, timeout_s)["hits"]["hits"]
        for h in hits:
            got = h.get("fields", {})
            t = int(float(got["@timestamp"][0]))
            bases = frozenset(int(n[1:]) for n in h.get("matched_queries", []) if n[1:].isdigit())
            entry = _entry(corr, t, (h["_index"], h["_id"], int(h["sort"][2])), bases,
                           list(got.get(corr.field, [])) if corr.field else [])
            for group in _groups([list(got.get(f, [])) for f in fields]):
                book.add(group, entry)
        if book.size > max_entries:
            return False
        if len(hits) < SEED_PAGE:
            return True
        body["search_after"] = hits[-1]["sort"]


def _add(corr: CompiledCorrelation, book: Book, must_not: list[dict[str, Any]],
         docs: list[tuple[local.Doc, frozenset[str]]]) -> None:
    """A window's base matches into the book, filtered as the node's fetch filters them."""
    fields = ["organization.id", *corr.group_by]
    off = {str(a) for clause in must_not for a in clause.get("terms", {}).get("organization.id", [])}
    for doc, matched in docs:
        bases = frozenset(i for i, b in enumerate(corr.bases) if b.rule.id in matched)
        if not bases or "_late" in doc.keywords("tags", "exact") or doc.ref is None:
            continue
        t = local.epoch_ms(doc)
        keys = [local.doc_values(doc, f) for f in fields]
        if t is None or not all(keys) or any(str(a) in off for a in keys[0]):
            continue
        entry = _entry(corr, t, doc.ref, bases, local.doc_values(doc, corr.field) if corr.field else [])
        for group in _groups(keys):
            book.add(group, entry)


def update(client: OpenSearch, corr: CompiledCorrelation, slot: str, index: str, must_not: list[dict[str, Any]],
           since: datetime, end: datetime, docs: list[tuple[local.Doc, frozenset[str]]] | None,
           timeout_s: float, max_entries: int) -> Book | None:
    """The slot's book of a correlation after adding a window (ingest time (since, end], its documents
    with the local rules each matched); None when the node must answer this cycle. The horizon is
    counted back from the window's end."""
    since_ms, end_ms = _ms(since), _ms(end)
    now_ms = end_ms
    key = (index, slot, corr.rule.id)
    for stale in [k for k, b in _books.items() if time.monotonic() - b.used > IDLE_S]:
        del _books[stale]
    token = _token(corr, must_not)
    book = _books.get(key)
    if docs is None or max_entries <= 0 or not usable(corr) or any(d.ref is None for d, _ in docs[:1]):
        _books.pop(key, None)
        return None
    if book is None or book.token != token or since_ms > book.last_end:
        width = corr.timespan_s * 1000
        horizon = 2 * width + MARGIN_MS
        start = now_ms - horizon
        start -= start % width
        book = Book(token, width, horizon, start, since_ms)
        try:
            # up to the window's end, not its start: documents of the re-checked stretch that the last
            # read matched are not among ``docs`` (runner._stretch); the window's own come twice, once kept
            seeded = _seed(client, corr, index, must_not, store.iso(end), start, book, timeout_s, max_entries)
        except Exception as exc:  # the node path answers; the next cycle tries again
            log.warning("correlation %s: recent matches not read (%s: %s)", corr.rule.id, type(exc).__name__, exc)
            _books.pop(key, None)
            return None
        if not seeded:
            log.warning("correlation %s: more than %d recent base matches; searched on the node",
                        corr.rule.id, max_entries)
            _books.pop(key, None)
            return None
        _books[key] = book
    try:
        _add(corr, book, must_not, docs)
    except Exception as exc:  # a value the book cannot read: the node answers, the next cycle starts again
        log.warning("correlation %s: window not kept (%s: %s)", corr.rule.id, type(exc).__name__, exc)
        _books.pop(key, None)
        return None
    book.last_end = max(book.last_end, end_ms)
    book.used = time.monotonic()
    book.evict(now_ms)
    if book.size > max_entries:
        log.warning("correlation %s: more than %d recent base matches; searched on the node", corr.rule.id, max_entries)
        _books.pop(key, None)
        return None
    return book


def forget() -> None:
    """Drop every book (tests; a process that changes its rules drops them by their token anyway)."""
    _books.clear()
