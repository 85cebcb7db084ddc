"""Correlation episodes on event time, in plain Python: the engine's functions against a brute-force
reference written from the definitions, and arrival order / chunking never changing the result."""

from __future__ import annotations

import itertools
import operator
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from soc.detection import episodes
from soc.detection.correlation import Probe
from soc.detection.episodes import Condition, Known, Point

T = 60_000


def _meets(cond: Condition, window: list[Point]) -> bool:
    op = {"gte": operator.ge, "gt": operator.gt}[cond.op]
    if cond.kind == "event_count":
        return op(len(window), cond.count)
    if cond.kind == "value_count":
        return op(len({p.value for p in window if p.value is not None}), cond.count)
    counts = [sum(1 for p in window if b in p.bases) for b in range(cond.nbases)]
    if any(c < least for c, least in zip(counts, cond.minimums, strict=True)):
        return False
    if cond.kind == "temporal":
        return op(cond.nbases, cond.count)
    # temporal_ordered, brute force: some choice of positions, stage by stage, in order
    def ok(stage: int, pos: int) -> bool:
        if stage == cond.nbases:
            return True
        idx = [i for i in range(pos, len(window)) if stage in window[i].bases]
        need = cond.minimums[stage]
        return any(ok(stage + 1, combo[-1] + 1) for combo in itertools.combinations(idx, need))
    last_moment = window[-1].t
    ends_here = any(cond.nbases - 1 in p.bases for p in window if p.t == last_moment)
    return ends_here and ok(0, 0)


def reference(cond: Condition, pts: list[Point]) -> list[tuple[int, int]]:
    """Episodes straight from the definitions: every moment's window, judged from scratch."""
    pts = sorted(pts)
    spans = []
    for t in sorted({p.t for p in pts}):
        window = [p for p in pts if t - cond.timespan_ms < p.t <= t]
        if _meets(cond, window):
            spans.append((window[0].t, t))
    return episodes.join(spans)


def deliver(cond: Condition, pts: list[Point], chunks: list[list[Point]]) -> list[tuple[int, int]]:
    """The engine's incremental path: each chunk arrives, its buckets give the spans to judge over all
    that arrived so far, episodes are merged into the reported ones."""
    arrived: list[Point] = []
    known: list[Known] = []
    for chunk in chunks:
        arrived = sorted(arrived + chunk)
        probe = Probe(corr=None, must_not=[])  # type: ignore[arg-type]
        for p in chunk:
            probe.buckets[("a",)].append(p.t // cond.timespan_ms * cond.timespan_ms)
        for lo, hi in episodes.join((b - cond.timespan_ms, b + 2 * cond.timespan_ms)
                                    for b in probe.buckets[("a",)]):
            inside = [p for p in arrived if lo <= p.t <= hi]
            episodes.merge(known, episodes.episodes(cond, inside, since=lo + cond.timespan_ms),
                           lambda start: f"id-{start}-{len(known)}")
    return sorted((k.start, k.end) for k in known if k.superseded_by is None)


def _points(draw: st.DrawFn, nbases: int, values: bool) -> list[Point]:
    n = draw(st.integers(0, 60))
    out = []
    for i in range(n):
        t = draw(st.integers(0, 10 * T))
        bases = frozenset(draw(st.sets(st.integers(0, nbases - 1), min_size=1, max_size=nbases)))
        value = draw(st.sampled_from(["u1", "u2", "u3", "u4", "u5"])) if values else None
        out.append(Point(t, f"d{i:03d}", bases, value))
    # bursts: many events close together, the case the rules exist for
    for b in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, 10 * T))
        for k in range(draw(st.integers(3, 25))):
            bases = frozenset({draw(st.integers(0, nbases - 1))})
            out.append(Point(at + draw(st.integers(0, T // 2)), f"b{b}-{k:03d}", bases,
                             f"u{k}" if values else None))
    return sorted(out)


@st.composite
def cases(draw: st.DrawFn) -> tuple[Condition, list[Point]]:
    kind = draw(st.sampled_from(["event_count", "value_count", "temporal", "temporal_ordered"]))
    nbases = 1 if kind in ("event_count", "value_count") else draw(st.integers(2, 3))
    minimums = tuple(draw(st.integers(1, 3)) for _ in range(nbases))
    count = draw(st.integers(2, 12)) if kind in ("event_count", "value_count") else nbases
    cond = Condition(kind, draw(st.sampled_from(["gte", "gt"])) if nbases == 1 else "gte", count,
                     draw(st.sampled_from([T, 2 * T, 30_000])), minimums)
    return cond, _points(draw, nbases, kind == "value_count")


@settings(max_examples=300, deadline=None)
@given(cases())
def test_episodes_match_the_definition(case: tuple[Condition, list[Point]]) -> None:
    cond, pts = case
    assert [(e.start, e.end) for e in episodes.episodes(cond, pts)] == reference(cond, pts)


@settings(max_examples=300, deadline=None)
@given(cases(), st.integers(1, 8), st.randoms(use_true_random=False))
def test_any_chunking_and_order_gives_the_same_episodes(case: tuple[Condition, list[Point]], parts: int,
                                                        rnd: random.Random) -> None:
    cond, pts = case
    shuffled = list(pts)
    rnd.shuffle(shuffled)
    cuts = sorted(rnd.sample(range(1, len(shuffled)), min(parts - 1, max(len(shuffled) - 1, 0)))) \
        if len(shuffled) > 1 else []
    chunks = [shuffled[a:b] for a, b in zip([0, *cuts], [*cuts, len(shuffled)], strict=True)]
    assert deliver(cond, pts, chunks) == reference(cond, pts)


def test_slow_burst_never_fires_and_a_real_one_fires_once() -> None:
    cond = Condition("event_count", "gte", 20, T)
    slow = [Point(i * 30_000, f"s{i}") for i in range(20)]  # 20 over ten minutes
    assert episodes.episodes(cond, slow) == []
    real = [Point(1_000_000 + i * 1_600, f"r{i}") for i in range(25)]  # 25 within 40 s
    [episode] = episodes.episodes(cond, slow + real)
    assert (episode.start, episode.end) == (1_000_000, 1_000_000 + 24 * 1_600)
    assert len(episode.keys) == 25


def test_ties_in_time_are_one_moment_and_ordered_by_id() -> None:
    cond = Condition("temporal_ordered", "gte", 2, T, (1, 1))
    # the success and the failure share a millisecond: ordered by id, "a" (failure) comes first
    pts = sorted([Point(5_000, "b", frozenset({1})), Point(5_000, "a", frozenset({0}))])
    assert [(e.start, e.end) for e in episodes.episodes(cond, pts)] == [(5_000, 5_000)]
    assert episodes.episodes(cond, [Point(5_000, "b", frozenset({1})), Point(6_000, "c", frozenset({0}))]) == []


def test_a_late_event_bridging_two_reported_episodes_supersedes_the_later() -> None:
    cond = Condition("event_count", "gte", 3, 10_000)
    known = [Known("first", 0, 2_000), Known("second", 15_000, 17_000)]
    bridge = [Point(t, f"p{t}") for t in (0, 1_000, 2_000, 8_000, 9_000, 15_000, 16_000, 17_000)]
    made = episodes.merge(known, episodes.episodes(cond, bridge), lambda s: f"new-{s}")
    assert made == []
    assert (known[0].start, known[0].end, known[0].changed) == (0, 17_000, True)
    assert known[1].superseded_by == "first"
