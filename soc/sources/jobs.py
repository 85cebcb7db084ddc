"""Periodic work of the sources package, as plain functions the scheduler (or a test) calls."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from soc.config import Settings
from soc.opensearch import ingest
from soc.runtime import Runtime
from soc.sources import health, silence, store

HEALTH_INTERVAL_S = 60


def run_health(settings: Settings, now: datetime | None = None, runtime: Runtime | None = None
               ) -> tuple[list[health.Health], silence.SilenceResult]:
    """Compute every source's health as of ``now`` and open / resolve silence incidents; the
    senders of events that no registered source of their agency accounts for come last (``unknown``).

    ``now`` is when health is judged; the incidents carry the runtime's clock.
    """
    rt = runtime or Runtime.build(settings)
    now = now or datetime.now(UTC)
    sources = store.search(rt.client, rt.names)
    ingest.refresh_sources(rt.client, rt.names)  # heals a registration a concurrent change overwrote
    healths = health.compute(rt.client, rt.names, sources, now)
    outcome = silence.apply(rt, sources, healths, now)
    return healths + health.unknown(rt.client, rt.names, None, now), outcome


def add_jobs(scheduler: Any, settings: Settings) -> None:
    """Register the health check on an APScheduler scheduler (not started here)."""
    scheduler.add_job(lambda: run_health(settings), "interval", seconds=HEALTH_INTERVAL_S, id="source-health",
                      max_instances=1, coalesce=True)
