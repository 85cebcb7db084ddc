"""Periodic work of the console: expired sessions are deleted (a session ends at its expiry
whether or not it is deleted; this keeps ``soc-users`` from filling with dead ones)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from soc import search
from soc.accounts import store as accounts_store
from soc.config import Settings

PURGE_INTERVAL_S = 3600


def purge_sessions(settings: Settings, now: datetime | None = None) -> int:
    return accounts_store.purge_sessions(search.client(settings), search.names(settings), now or datetime.now(UTC))


def add_jobs(scheduler: Any, settings: Settings) -> None:
    """Register the hourly purge on an APScheduler scheduler (not started here)."""
    scheduler.add_job(lambda: purge_sessions(settings), "interval", seconds=PURGE_INTERVAL_S, id="session-purge",
                      max_instances=1, coalesce=True)
