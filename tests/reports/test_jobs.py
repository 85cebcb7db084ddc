"""The weekly job: its schedule (checked on a compressed clock, never by waiting) and one run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from soc import search
from soc.config import Settings
from soc.errors import ConfigError
from soc.reports import jobs, store
from soc.reports import settings as report_settings
from soc.reports.settings import ReportSettings
from tests.reports.conftest import A, B, C

HCM = ZoneInfo("Asia/Ho_Chi_Minh")


def fire_times(rs: ReportSettings, start: datetime, count: int) -> list[datetime]:
    trigger = jobs.trigger(rs)
    out: list[datetime] = []
    previous: datetime | None = None
    now = start
    for _ in range(count):
        nxt = trigger.get_next_fire_time(previous, now)
        assert nxt is not None
        out.append(nxt)
        previous, now = nxt, nxt + timedelta(microseconds=1)
    return out


def test_default_schedule_is_monday_7_in_hanoi() -> None:
    times = fire_times(ReportSettings(), datetime(2025, 3, 5, 12, tzinfo=UTC), 3)  # a Wednesday
    assert [t.astimezone(HCM).replace(tzinfo=None) for t in times] == [
        datetime(2025, 3, 10, 7), datetime(2025, 3, 17, 7), datetime(2025, 3, 24, 7)]
    assert times[0] == datetime(2025, 3, 10, 0, tzinfo=UTC)  # 07:00 +07 is midnight UTC


def test_schedule_is_configurable() -> None:
    rs = report_settings.load({"SOC_REPORT_DAY_OF_WEEK": "fri", "SOC_REPORT_HOUR": "18", "SOC_REPORT_MINUTE": "30",
                               "SOC_REPORT_TIMEZONE": "UTC", "SOC_REPORT_LANGS": "en"})
    assert rs.langs == ("en",)
    assert fire_times(rs, datetime(2025, 3, 5, 12, tzinfo=UTC), 2) == [
        datetime(2025, 3, 7, 18, 30, tzinfo=UTC), datetime(2025, 3, 14, 18, 30, tzinfo=UTC)]
    with pytest.raises(ConfigError):
        report_settings.load({"SOC_REPORT_LANGS": "fr"})
    with pytest.raises(ConfigError):
        report_settings.load({"SOC_REPORT_HOUR": "seven"})


def test_job_fires_and_produces_every_report(dataset: Settings, tmp_path: Path) -> None:
    rs = ReportSettings(out_dir=tmp_path, langs=("vi",), formats=("json", "csv"))
    scheduler = BackgroundScheduler(timezone="UTC")  # never started: the clock is ours
    jobs.add_jobs(scheduler, dataset, rs)
    job = scheduler.get_job(jobs.JOB_ID)
    assert job is not None
    fire = job.trigger.get_next_fire_time(None, datetime(2025, 3, 8, 9, tzinfo=UTC))
    assert fire == datetime(2025, 3, 10, 0, tzinfo=UTC)
    result = job.func(**job.kwargs, now=fire)  # what the scheduler runs at that moment
    assert result.week == "2025-W10" and result.failed == {}
    assert sorted(result.produced) == sorted(f"2025-W10.{x}.vi" for x in ("province", A, B, C))
    assert sorted(p.name for p in (tmp_path / "2025-W10").iterdir()) == sorted(
        f"2025-W10.{x}.vi.{f}" for x in ("province", A, B, C) for f in ("json", "csv"))
    client, names = search.client(dataset), search.names(dataset)
    total, _docs = store.list_reports(client, names, [{"term": {"week": "2025-W10"}}], 10, 0)
    assert total == 4
    province = store.get_report(client, names, "2025-W10.province.vi")
    assert province is not None and province["trigger"] == "schedule"
    assert province["summary"] == {"events": 22, "alerts": 4, "incidents_opened": 2, "open_at_end": 2}
    # Running again (a restart that fires twice) replaces the reports instead of adding more.
    job.func(**job.kwargs, now=fire + timedelta(minutes=5))
    client.indices.refresh(index=names.reports)
    assert store.list_reports(client, names, [], 10, 0)[0] == 4
