"""Health of every source, from OpenSearch aggregations and the collectors' heartbeats.

Per source: the last arrival (``event.ingested``) and event time, events per minute over the
last hour and day (and that against the expected rate), the share of events tagged
``_parse_failure`` over the day, the day's "late events" (and times clamped from the future, or
missing; see the ingest pipeline's time tags: counted, not a state, since a backfill of old files
is late by design), and the age of the newest heartbeat. The state is

- ``silent``: nothing arrived for ``silence_after_minutes`` (counted from onboarding when the
  source never sent anything);
- ``degraded``: events arrive, but below half the expected rate over the last hour, with more
  than ``FAILURE_LIMIT`` parse failures, or the collector's heartbeat is older than
  ``HEARTBEAT_STALE``; a source waiting for its first event is degraded too;
- ``healthy`` otherwise.

Events whose ``log.source.id`` is not a registered source of the agency they were written for
(tagged ``_unknown_source`` by the ingest pipeline) count for no source; ``unknown`` lists them per
agency and source id, with the state ``unknown``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from opensearchpy import OpenSearch

from soc.search import Names
from soc.sources import configs, store

FAILURE_LIMIT = 0.05
RATE_FLOOR = 0.5
HEARTBEAT_STALE = timedelta(minutes=5)


@dataclass
class Health:
    source_id: str
    agency: str
    type: str
    name: str
    state: str
    reasons: list[str] = field(default_factory=list)
    last_event: str | None = None  # newest arrival (event.ingested)
    last_event_time: str | None = None  # newest @timestamp
    rate_hour: float = 0.0  # events per minute
    rate_day: float = 0.0
    expected_rate: float | None = None
    parse_failure_rate: float | None = None  # share of the last day's events; None when there were none
    # last day's events that arrived older than the lateness bound (stored, not correlated), whose time
    # was clamped from the future (a sender's clock ahead), or that had no readable time
    late_events: int = 0
    future_events: int = 0
    timeless_events: int = 0
    heartbeat_age_s: float | None = None
    silent_for_s: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def evaluate(source: dict[str, Any], stats: dict[str, Any] | None, beat: dict[str, Any] | None,
             now: datetime) -> Health:
    """The health of one source from its statistics (pure: tested without a server)."""
    stats = stats or {}
    h = Health(source["id"], source["organization"]["id"], source["type"], source.get("name", ""), "healthy",
               last_event=stats.get("last_ingested"), last_event_time=stats.get("last_event"),
               rate_hour=round(stats.get("hour", 0) / 60.0, 3), rate_day=round(stats.get("day", 0) / 1440.0, 3),
               expected_rate=source.get("expected_rate"))
    if stats.get("day"):
        h.parse_failure_rate = round(stats.get("day_failures", 0) / stats["day"], 4)
    h.late_events = int(stats.get("day_late", 0))
    h.future_events = int(stats.get("day_future", 0))
    h.timeless_events = int(stats.get("day_no_time", 0))
    beat_at = _time((beat or {}).get("@timestamp"))
    if beat_at is not None:
        h.heartbeat_age_s = round(max(0.0, (now - beat_at).total_seconds()), 1)
    threshold = timedelta(minutes=float(source.get("silence_after_minutes") or 60))
    last = _time(h.last_event)
    since = last or _time(source.get("created")) or now
    quiet = now - since
    if quiet >= threshold:
        h.state = "silent"
        h.silent_for_s = round(quiet.total_seconds(), 1)
        h.reasons.append(f"no events for {int(quiet.total_seconds() // 60)} min (threshold "
                         f"{int(threshold.total_seconds() // 60)} min)" if last else
                         f"no event since onboarding, {int(quiet.total_seconds() // 60)} min ago")
        return h
    if last is None:
        h.reasons.append("waiting for the first event")
    if h.expected_rate and last is not None and h.rate_hour < RATE_FLOOR * h.expected_rate:
        h.reasons.append(f"{h.rate_hour}/min in the last hour, expected {h.expected_rate}/min")
    if h.parse_failure_rate is not None and h.parse_failure_rate > FAILURE_LIMIT:
        h.reasons.append(f"{h.parse_failure_rate:.1%} of the last day's events could not be parsed")
    if h.heartbeat_age_s is not None and h.heartbeat_age_s > HEARTBEAT_STALE.total_seconds():
        h.reasons.append(f"the collector's last heartbeat is {int(h.heartbeat_age_s)} s old")
    if h.reasons:
        h.state = "degraded"
    return h


def compute(client: OpenSearch, names: Names, sources: list[dict[str, Any]],
            now: datetime | None = None) -> list[Health]:
    now = now or datetime.now(UTC)
    stats: dict[str, dict[str, Any]] = {}
    for index, kinds in ((names.syslog, ("syslog",)), (names.web, configs.WEB_TYPES)):
        ids = [s["id"] for s in sources if s["type"] in kinds]
        stats.update(store.event_stats(client, index, ids, now))
    beats = store.heartbeats(client, names, [s["id"] for s in sources])
    return [evaluate(s, stats.get(s["id"]), beats.get((s["organization"]["id"], s["id"])), now) for s in sources]


def unknown(client: OpenSearch, names: Names, agencies: list[str] | None, now: datetime | None = None,
            since: timedelta = timedelta(days=1)) -> list[Health]:
    """Senders that are not registered sources of the agency their events were written for (last day)."""
    now = now or datetime.now(UTC)
    out = []
    for index, kind in ((names.syslog, "syslog"), (names.web, "web")):
        for agency, source_id, count, last in store.unknown_sources(client, index, agencies, now - since, now):
            out.append(Health(source_id, agency, kind, "", "unknown", [
                f"not a registered source of {agency}: {count} {kind} events in the last "
                f"{int(since.total_seconds() // 3600)} h"], last_event=last))
    return out
