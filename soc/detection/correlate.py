"""The correlation step of a detection cycle: probe, prune, fetch, judge and merge
(``soc.detection.correlation``) for every correlation of the cycle's windows, with a bounded number
of ``_msearch`` requests: one for the probes, one for the candidate groups (plus further pages of
either), one per page of fetches, one for the episodes' counts.

Every group belongs to one agency (``organization.id`` is set by the ingest pipeline from the data
stream written to), so the requests about groups read only their agency's data streams: one or two
shards instead of every agency's (``Item.index_for``). A group whose spans the correlation's book of
recent base matches covers (``soc.detection.recent``) needs no request at all: its candidate totals,
points and counts come from the book."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from opensearchpy import OpenSearch

from soc.alerts.documents import AlertDoc
from soc.detection import correlation, local, recent, store
from soc.detection.convert import CompiledCorrelation
from soc.detection.correlation import Group, Probe
from soc.detection.episodes import Known, Point
from soc.detection.settings import DetectionSettings
from soc.search import Names, is_agency_id


@dataclass
class Written:
    """A cycle's correlation results, ready for the alert bulk request."""

    created: list[tuple[str, AlertDoc]] = field(default_factory=list)
    updated: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    hits: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # per rule: episodes new or grown
    evaluated: int = 0  # correlations whose probe found groups with new matches
    probed_here: int = 0  # probes answered from the window read for local matching (no request)
    groups_here: int = 0  # probed groups the books of recent matches answered for (no request)
    groups_node: int = 0  # probed groups asked of the node
    errors: dict[str, str] = field(default_factory=dict)
    phases: dict[str, float] = field(default_factory=dict)  # seconds per step: probe, candidates, fetch, judge, count

    @contextmanager
    def timed(self, step: str) -> Iterator[None]:
        t0 = time.monotonic()
        try:
            yield
        finally:
            self.phases[step] = self.phases.get(step, 0.0) + time.monotonic() - t0


@dataclass(eq=False)
class Item:
    """One correlation over one ingest window."""

    corr: CompiledCorrelation
    index: str
    start: Any
    end: Any
    must_not: list[dict[str, Any]]
    ingest_window: dict[str, str]
    # The window's documents when the runner read them for local matching (its stream is this
    # correlation's only stream): the probe is then answered without a request.
    docs: list[tuple[local.Doc, frozenset[str]]] | None = None
    # The deployment's names: requests about one agency's groups then read that agency's streams only.
    names: Names | None = None
    book: recent.Book | None = None  # the recent base matches, when kept (soc.detection.recent)
    probe: Probe = field(init=False)
    here: set[Group] = field(init=False, default_factory=set)  # probed groups the book answers for

    def __post_init__(self) -> None:
        self.probe = Probe(self.corr, self.must_not)

    def index_for(self, agency: Any) -> str:
        """The indices holding one agency's events of this correlation's streams (``index`` when the
        names are not known or the value names no agency)."""
        if self.names is None or not is_agency_id(agency):
            return self.index
        return ",".join(self.names.stream(s, agency) for s in self.corr.streams)


@dataclass(eq=False)
class _Part:
    """The groups of one item that live in the same indices (one agency's streams)."""

    item: Item
    index: str
    probe: Probe

    @property
    def corr(self) -> CompiledCorrelation:
        return self.item.corr


T = TypeVar("T", Item, _Part)


def _parts(it: Item) -> list[_Part]:
    by_index: dict[str, Probe] = {}
    for group, buckets in it.probe.buckets.items():
        if group in it.here:
            continue
        by_index.setdefault(it.index_for(group[0]), Probe(it.corr, it.must_not)).buckets[group] = buckets
    return [_Part(it, index, probe) for index, probe in by_index.items()]


def _pages(client: OpenSearch, items: list[T], ds: DetectionSettings, out: Written,
           body: Callable[[T, dict[str, Any] | None], dict[str, Any]],
           read: Callable[[T, dict[str, Any]], dict[str, Any] | None], max_pages: int) -> list[T]:
    """Composite aggregations of several correlations paged together: each round asks every item's next
    page in one _msearch. A reader that raises marks its rule failed. Returns the items still unfinished
    after ``max_pages`` rounds."""
    pending: list[tuple[T, dict[str, Any] | None]] = [(it, None) for it in items]
    for _ in range(max_pages):
        if not pending:
            return []
        requests = [(it.index, body(it, after)) for it, after in pending]
        responses = store.msearch(client, requests, ds.max_concurrent_searches, ds.request_timeout_s)
        nxt: list[tuple[T, dict[str, Any] | None]] = []
        for (it, _), resp in zip(pending, responses, strict=True):
            try:
                after = read(it, resp)
            except RuntimeError as exc:
                out.errors[it.corr.rule.id] = str(exc)
                continue
            if after:
                nxt.append((it, after))
        pending = nxt
    return [it for it, _ in pending]


def _probe(client: OpenSearch, items: list[Item], ds: DetectionSettings, out: Written) -> None:
    remote: list[Item] = []
    for it in items:
        if it.docs is not None and correlation.probe_locally(it.probe, it.docs):
            out.probed_here += 1
            if it.probe.incomplete:
                out.errors[it.corr.rule.id] = f"more than {correlation.PROBE_PAGES * correlation.PROBE_PAGE} new groups"
        else:
            remote.append(it)
    unfinished = _pages(client, remote, ds, out,
                        lambda it, after: correlation.probe_body(it.corr, it.start, it.end, it.must_not, after),
                        lambda it, resp: correlation.read_probe(it.probe, resp), correlation.PROBE_PAGES)
    for it in unfinished:  # more new groups than the pages allow: the rest is not judged this cycle
        it.probe.incomplete = True
        out.errors[it.corr.rule.id] = f"more than {correlation.PROBE_PAGES * correlation.PROBE_PAGE} new groups"


def _candidates(client: OpenSearch, items: list[Item], ds: DetectionSettings, out: Written) -> None:
    """Keep, in each probe, only the groups that could fire (``correlation.could_fire``)."""
    keep: dict[int, set[Group]] = {id(it): set() for it in items}
    for it in items:
        if it.book is None or it.corr.rule.id in out.errors:
            continue
        book = it.book
        spans = it.probe.spans()
        it.here = {g for g, ss in spans.items() if all(book.covers(lo) for lo, _ in ss)}
        out.groups_here += len(it.here)
        keep[id(it)] |= {g for g in it.here if correlation.could_fire(it.corr, book.totals(it.corr, g, spans[g]))}
    parts = [part for it in items if it.probe.buckets and it.corr.rule.id not in out.errors for part in _parts(it)]
    out.groups_node += sum(len(p.probe.buckets) for p in parts)
    _pages(client, parts, ds, out, lambda p, after: correlation.candidates_body(p.probe, after),
           lambda p, resp: correlation.read_candidates(p.probe, resp, keep[id(p.item)]), 10_000)
    for it in items:
        groups = keep[id(it)]
        for group in [g for g in it.probe.buckets if g not in groups]:
            del it.probe.buckets[group]


Span = tuple[Item, Group, tuple[int, int]]


def _fetch(client: OpenSearch, items: list[Item], ds: DetectionSettings,
           out: Written) -> dict[Span, list[Point]]:
    """Every probed group's base matches over its spans (up to MAX_POINTS each): from the book, or paged
    from the node."""
    points: dict[Span, list[Point]] = {}
    for it in items:
        if it.book is not None and it.corr.rule.id not in out.errors:
            for g, spans in it.probe.spans().items():
                if g in it.here:
                    for span in spans:
                        points[(it, g, span)] = it.book.points(g, *span)
    hits: dict[Span, list[dict[str, Any]]] = {}
    pending: list[tuple[Span, list[Any] | None]] = [
        ((it, g, span), None) for it in items if it.corr.rule.id not in out.errors
        for g, spans in it.probe.spans().items() if g not in it.here for span in spans]
    while pending:
        requests = [(it.index_for(g[0]), correlation.fetch_body(it.corr, g, span, it.must_not, after))
                    for (it, g, span), after in pending]
        responses = store.msearch(client, requests, ds.max_concurrent_searches, ds.request_timeout_s)
        nxt: list[tuple[Span, list[Any] | None]] = []
        for (key, _), resp in zip(pending, responses, strict=True):
            if "error" in resp:
                out.errors[key[0].corr.rule.id] = str(resp["error"].get("root_cause", resp["error"]))[:500]
                continue
            page = resp["hits"]["hits"]
            got = hits.setdefault(key, [])
            got += page
            if len(page) == correlation.FETCH_PAGE and len(got) < correlation.MAX_POINTS:
                nxt.append((key, page[-1]["sort"]))
        pending = nxt
    points.update((k, correlation.to_points(k[0].corr, v)) for k, v in hits.items())
    return {k: v for k, v in points.items() if k[0].corr.rule.id not in out.errors}


def run(client: OpenSearch, names: Names, items: list[Item], ds: DetectionSettings, created: str) -> Written:
    out = Written()
    if not items:
        return out
    with out.timed("probe"):
        _probe(client, items, ds, out)
    out.evaluated = sum(1 for it in items if it.probe.buckets and it.corr.rule.id not in out.errors)
    with out.timed("candidates"):
        _candidates(client, items, ds, out)
    with out.timed("fetch"):
        fetched = _fetch(client, items, ds, out)
    with out.timed("judge"):
        to_count = _judge(client, names, items, fetched, out)
    with out.timed("count"):
        _write_docs(client, to_count, ds, created, out)
    return out


def _judge(client: OpenSearch, names: Names, items: list[Item], fetched: dict[Span, list[Point]],
           out: Written) -> list[tuple[Item, Group, Known, bool]]:
    """Episodes of every fetched group, merged into the rule's reported ones (one alerts search per rule)."""
    to_count: list[tuple[Item, Group, Known, bool]] = []
    for it in items:
        spans = it.probe.spans()
        if not spans or it.corr.rule.id in out.errors:
            continue
        try:
            known = correlation.known_alerts(client, names, it.corr, spans)
        except Exception as exc:  # one broken rule never stops the others
            out.errors[it.corr.rule.id] = f"{type(exc).__name__}: {exc}"[:500]
            continue
        for group, group_spans in spans.items():
            agency, key, _ = correlation.group_key(it.corr, group)
            entries = known[(agency, key)]
            before = {e.alert_id for e in entries}
            points = {span: fetched.get((it, group, span), []) for span in group_spans}
            for entry in correlation.judge(it.corr, group, points, entries):
                to_count.append((it, group, entry, entry.alert_id not in before))
    return to_count


def _write_docs(client: OpenSearch, to_count: list[tuple[Item, Group, Known, bool]], ds: DetectionSettings,
                created: str, out: Written) -> None:
    live = [(it, g, e, new) for it, g, e, new in to_count if not e.superseded_by]
    here = {id(e): it.book.count(it.corr, g, e.start, e.end) for it, g, e, _ in live
            if it.book is not None and g in it.here and it.book.covers(e.start)}
    live = [x for x in live if id(x[2]) not in here]
    requests = [(it.index_for(g[0]), correlation.count_body(it.corr, g, e, it.must_not)) for it, g, e, _ in live]
    responses = store.msearch(client, requests, ds.max_concurrent_searches, ds.request_timeout_s) if requests else []
    counts = {id(e): r for (_, _, e, _), r in zip(live, responses, strict=True)}
    for it, group, entry, new in to_count:
        if new and entry.superseded_by:
            continue  # joined into an earlier episode within this very cycle: nothing to write
        try:
            n = here[id(entry)] if id(entry) in here else (
                correlation.read_count(it.corr, counts[id(entry)]) if id(entry) in counts else 0)
        except RuntimeError as exc:
            out.errors[it.corr.rule.id] = str(exc)
            continue
        alert_id, doc = correlation.documents(it.corr, group, entry, n, created, it.ingest_window, new)
        if new:
            out.created.append((alert_id, doc))  # type: ignore[arg-type]
            out.hits[it.corr.rule.id] += 1
        else:
            out.updated.append((alert_id, doc))
