"""Correlation conditions judged on event time: which moments fire, and the episodes they form.

Pure computation, no OpenSearch: ``soc.detection.correlation`` fetches a group's matching events
over an event-time span and hands them here as ``Point`` s.

Definitions (the property tests hold the engine to them):

- A group's events are ordered by (event time, document id); ties in time are ordered by id, so the
  order never depends on arrival.
- The window ending at an event j holds the events i with ``t_j - T < t_i <= t_j`` (T: the timespan).
- j *fires* when its window meets the condition:
  - event_count: the number of events compared with the threshold;
  - value_count: the number of distinct values of the field;
  - temporal: every referenced rule has at least its minimum of matches in the window (and the count
    of rules present meets the condition);
  - temporal_ordered: the referenced rules' minimums are met one after another, in event-time order,
    inside the window, the last one completed by j itself.
- A firing j covers the interval [earliest event of its window, t_j]. Overlapping intervals form one
  *episode*; an alert reports an episode (first_seen, last_seen = its bounds).

For conditions that only grow with events (gte, gt) adding events never ends a firing nor shrinks an
interval, so episodes only grow or join: the episodes over every event are the same whatever order
the events arrived in and however they were cut into cycles. ``merge`` folds newly computed
episodes into the ones already reported, which is how the engine reaches that same end state.
"""

from __future__ import annotations

import operator
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

OPS: dict[str, Callable[[float, float], bool]] = {
    "gte": operator.ge, "gt": operator.gt, "lte": operator.le, "lt": operator.lt, "eq": operator.eq,
    "neq": operator.ne}


@dataclass(frozen=True, order=True)
class Point:
    """One matching event of a group: event time in epoch ms, its document key, the referenced rules
    (base indexes) it matched, and the value of a value_count field."""

    t: int
    key: str
    bases: frozenset[int] = frozenset({0})
    value: str | None = None


@dataclass(frozen=True)
class Condition:
    kind: str  # event_count, value_count, temporal, temporal_ordered
    op: str
    count: int
    timespan_ms: int
    minimums: tuple[int, ...] = (1,)

    @property
    def nbases(self) -> int:
        return len(self.minimums)


@dataclass
class Episode:
    start: int  # epoch ms, first event
    end: int  # epoch ms, the last firing moment
    keys: list[str] = field(default_factory=list)  # document keys inside, in event-time order

    def overlaps(self, other: Episode) -> bool:
        return self.start <= other.end and other.start <= self.end


def _ordered_complete(window: Sequence[Point], minimums: tuple[int, ...]) -> bool:
    """The referenced rules' minimums met one after another (greedy earliest completion is optimal)."""
    stage = seen = 0
    for p in window:
        if stage < len(minimums) and stage in p.bases:
            seen += 1
            if seen >= minimums[stage]:
                stage, seen = stage + 1, 0
    return stage == len(minimums)


def firing(cond: Condition, points: Sequence[Point], since: int | None = None) -> list[tuple[int, int]]:
    """The intervals [window's first event, t_j] of every firing j (only j with t_j >= ``since``).

    ``points`` must be sorted. Windows ending before ``since`` are not judged: the caller's span may
    not hold all of their events.
    """
    op = OPS.get(cond.op, operator.ge)
    out: list[tuple[int, int]] = []
    lo = 0
    counts: Counter[int] = Counter()
    values: Counter[str] = Counter()
    n = len(points)
    hi = 0  # points[lo:hi] is the window of the moment being judged
    i = 0
    while i < n:
        t = points[i].t
        # every event at time t belongs to the window of t (ties are one moment)
        while hi < n and points[hi].t <= t:
            _add(points[hi], counts, values, +1)
            hi += 1
        while points[lo].t <= t - cond.timespan_ms:
            _add(points[lo], counts, values, -1)
            lo += 1
        if (since is None or t >= since) and _meets(cond, op, points, lo, hi, counts, values):
            out.append((points[lo].t, t))
        i = hi
    return out


def _add(p: Point, counts: Counter[int], values: Counter[str], d: int) -> None:
    for b in p.bases:
        counts[b] += d
    if p.value is not None:
        values[p.value] += d
        if values[p.value] == 0:
            del values[p.value]


def _meets(cond: Condition, op: Callable[[float, float], bool], points: Sequence[Point], lo: int, hi: int,
           counts: Counter[int], values: Counter[str]) -> bool:
    if cond.kind == "event_count":
        return op(hi - lo, cond.count)
    if cond.kind == "value_count":
        return op(len(values), cond.count)
    present = sum(1 for b, least in enumerate(cond.minimums) if counts[b] >= least)
    if present < cond.nbases or not op(present, cond.count):
        return False
    if cond.kind == "temporal":
        return True
    # temporal_ordered: only a moment with a match of the last rule can complete the sequence
    last = cond.nbases - 1
    if not any(last in p.bases for p in points[lo:hi] if p.t == points[hi - 1].t):
        return False
    return _ordered_complete(points[lo:hi], cond.minimums)


def join(intervals: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping (or touching) intervals joined, in order."""
    out: list[tuple[int, int]] = []
    for start, end in sorted(intervals):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def episodes(cond: Condition, points: Sequence[Point], since: int | None = None) -> list[Episode]:
    """The episodes of the firings judged (see ``firing``), each with the keys of its events."""
    out = [Episode(s, e) for s, e in join(firing(cond, points, since))]
    j = 0
    for p in points:
        while j < len(out) and p.t > out[j].end:
            j += 1
        if j == len(out):
            break
        if p.t >= out[j].start:
            out[j].keys.append(p.key)
    return out


@dataclass
class Known:
    """An episode already reported (an alert), as ``merge`` sees it."""

    alert_id: str
    start: int
    end: int
    changed: bool = False
    superseded_by: str | None = None
    keys: list[str] = field(default_factory=list)


def merge(known: list[Known], found: Iterable[Episode], new_id: Callable[[int], str]) -> list[Known]:
    """Fold newly computed episodes into the reported ones (``known``, changed in place).

    An episode overlapping one reported episode extends it; one bridging several joins them into the
    earliest, and the others are marked superseded by it; one overlapping none becomes a new entry
    (id from ``new_id(start)``). Returns the new entries; changed ones have ``changed`` set.
    """
    made: list[Known] = []
    for ep in sorted(found, key=lambda e: e.start):
        live = [k for k in known if k.superseded_by is None]
        hit = sorted((k for k in live if k.start <= ep.end and ep.start <= k.end), key=lambda k: (k.start, k.alert_id))
        if not hit:
            entry = Known(new_id(ep.start), ep.start, ep.end, changed=True, keys=list(ep.keys))
            known.append(entry)
            made.append(entry)
            continue
        keep = hit[0]
        start, end = min(ep.start, *(k.start for k in hit)), max(ep.end, *(k.end for k in hit))
        keys = list(dict.fromkeys([*keep.keys, *(key for k in hit[1:] for key in k.keys), *ep.keys]))
        if (start, end) != (keep.start, keep.end) or keys != keep.keys:
            keep.start, keep.end, keep.keys, keep.changed = start, end, keys, True
        for other in hit[1:]:
            other.superseded_by, other.changed = keep.alert_id, True
    return made
