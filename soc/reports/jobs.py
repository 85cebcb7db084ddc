"""The weekly job: every Monday 07:00 (configurable) the province-wide report and one per agency.

``run_weekly`` is the plain function (time injected for tests); ``add_jobs`` puts it on a scheduler
with a cron trigger in the report's time zone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from apscheduler.triggers.cron import CronTrigger

from soc import search
from soc.agencies import store as agency_store
from soc.config import Settings
from soc.reports import delivery, service, store
from soc.reports import settings as report_settings
from soc.reports.period import Week, last_complete
from soc.reports.settings import ReportSettings

log = logging.getLogger(__name__)
JOB_ID = "weekly-report"


@dataclass
class RunResult:
    week: str
    produced: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    delivery: dict[str, dict[str, Any]] = field(default_factory=dict)


def run_weekly(settings: Settings, now: datetime | None = None, rs: ReportSettings | None = None,
               week: Week | None = None) -> RunResult:
    """Produce last week's province-wide report and one per agency, in every configured language.

    One report failing does not stop the others; failures are logged and returned.
    """
    rs = rs or report_settings.load()
    now = now or datetime.now(UTC)
    week = week or last_complete(now, rs.timezone)
    client, names = search.client(settings), search.names(settings)
    agencies = sorted(agency_store.by_id(client, names))
    result = RunResult(week.label)
    for agency in [None, *agencies]:
        for lang in rs.langs:
            key = f"{agency or 'province'}.{lang}"
            try:
                made = service.produce(client, names, rs, week, agency, lang, rs.formats, "schedule", now)
            except Exception as exc:  # one agency's failure must not stop the province's reports
                log.exception("weekly report %s %s failed", week.label, key)
                result.failed[key] = f"{type(exc).__name__}: {exc}"
                continue
            result.produced.append(made.doc["id"])
            sent = delivery.deliver(rs, made.doc, made.paths)
            if sent:
                result.delivery[made.doc["id"]] = sent
                store.save_report(client, names, made.doc | {"delivery": sent})
    return result


def trigger(rs: ReportSettings) -> CronTrigger:
    return CronTrigger(day_of_week=rs.day_of_week, hour=rs.hour, minute=rs.minute, timezone=rs.timezone)


def add_jobs(scheduler: Any, settings: Settings, rs: ReportSettings | None = None) -> None:
    """Add the weekly report job to an APScheduler scheduler (started by the caller)."""
    rs = rs or report_settings.load()
    scheduler.add_job(run_weekly, trigger(rs), kwargs={"settings": settings, "rs": rs}, id=JOB_ID,
                      replace_existing=True, max_instances=1, coalesce=True, misfire_grace_time=6 * 3600)
