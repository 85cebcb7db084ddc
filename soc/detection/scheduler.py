"""The APScheduler job that runs a detection cycle every N seconds (started by the API's lifespan)."""

from __future__ import annotations

import logging
import uuid

from apscheduler.schedulers.background import BackgroundScheduler

from soc.config import Settings
from soc.detection import convert, rules, runner
from soc.detection.settings import DetectionSettings

log = logging.getLogger(__name__)


def build_scheduler(settings: Settings, ds: DetectionSettings) -> BackgroundScheduler:
    """A scheduler (not started) with one job; rules are reloaded each cycle, conversion is cached."""
    owner = f"scheduler-{uuid.uuid4().hex[:8]}"

    def cycle() -> None:
        loaded, problems = rules.load(list(ds.rule_paths))
        for problem in problems:
            log.warning("rule file %s not loaded: %s", problem.path, problem.reason)
        report = runner.run_cycle(settings, ds, convert.compile_rules(loaded), owner=owner)
        if report.errors:
            log.warning("detection errors: %s", report.errors)

    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_job(cycle, "interval", seconds=ds.interval_s, id="detection", max_instances=1, coalesce=True)
    return scheduler
