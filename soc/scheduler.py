"""The service's scheduler: one APScheduler instance that runs all periodic work.

- every ``interval`` seconds: a detection cycle; while cycles take longer than the period, the next
  one starts as soon as the last one ends (``busy_max_s``);
- every ``interval`` seconds, in a job of its own: grouping of the new alerts into incidents (an
  alert becomes an incident within about a period plus a grouping run; detection does not wait);
- every minute: the SLA check (breach flags and notifications);
- daily: rollover and retention where the cluster has no ISM plugin;
- hourly: expired console sessions are deleted (soc.web.jobs);
- every minute: threat-intelligence feeds whose interval has passed are pulled (soc.intel.feeds);
- whatever the sources (health, silence) and reports (weekly) packages add with their
  ``add_jobs(scheduler, settings)``.

It is started and stopped by the web application's lifespan (``soc serve``). Several service
processes may each run one: detection takes a lease per window, grouping runs under a lease of
its own (one process at a time) and updates incidents with optimistic concurrency, so work is
never done twice.
"""

from __future__ import annotations

import importlib
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from soc import search
from soc.config import Settings
from soc.detection import catalogue, convert, runner
from soc.detection import settings as detection_settings
from soc.incidents import grouping
from soc.incidents.service import IncidentService
from soc.opensearch import retention
from soc.runtime import Runtime
from soc.telemetry.collect import GroupingTotals

log = logging.getLogger(__name__)

# Packages that contribute periodic jobs through ``add_jobs(scheduler, settings)``.
CONTRIBUTORS = ("soc.sources.jobs", "soc.reports.jobs", "soc.web.jobs", "soc.intel.feeds")


def _guarded(name: str, func: Callable[[], Any]) -> Callable[[], None]:
    """A job that logs its failure instead of killing the scheduler thread's job."""

    def job() -> None:
        try:
            func()
        except Exception:
            log.exception("scheduled job %s failed; it runs again at its next time", name)

    return job


class ServiceScheduler:
    def __init__(self, settings: Settings, runtime: Runtime | None = None) -> None:
        self.settings = settings
        self.runtime = runtime or Runtime.build(settings)
        self.detection = detection_settings.load()
        self.owner = f"service-{uuid.uuid4().hex[:8]}"
        # One client (one connection pool) for every detection cycle, not a new one per cycle.
        self.detect_client = runner.detection_client(settings)
        self.scheduler = BackgroundScheduler(timezone="UTC")
        self._catalogue: catalogue.Catalogue | None = None
        self._compiled: list[convert.Result] = []
        self.last_slots: list[str] = []
        self.grouping_totals = GroupingTotals()
        self.contributed: list[str] = []
        self._add_jobs()

    def rules(self) -> list[convert.Result]:
        """The compiled rules, loaded again only when a rule file was added, removed or changed (a cycle
        runs every second: parsing and validating every rule each time would be most of its cost)."""
        current = catalogue.get(self.detection.rule_paths)
        if current is not self._catalogue:
            for problem in current.problems:
                log.warning("rule file %s not loaded: %s", problem.path, problem.reason)
            self._catalogue = current
            self._compiled = list(current.compiled)
        return self._compiled

    def detect(self) -> None:
        """Detection cycles. A cycle that took the whole period (new data kept it busy) is followed at
        once by the next, not at the period's next tick: a waiting event is then not delayed by up to
        one more period. After ``busy_max_s`` of back-to-back cycles the job returns, and the scheduler
        starts it again at its next tick."""
        began = time.monotonic()
        while True:
            report = runner.run_cycle(self.settings, self.detection, self.rules(), owner=self.owner,
                                      client=self.detect_client)
            self.last_slots = report.slots
            if report.errors:
                log.warning("detection errors: %s", report.errors)
            if (not report.ran or report.duration_s < self.detection.interval_s
                    or time.monotonic() - began >= self.detection.busy_max_s):
                return

    def group(self) -> None:
        """The new alerts into incidents (under the grouping lease: one process at a time)."""
        totals = self.grouping_totals
        try:
            result = grouping.run_exclusive(self.runtime, self.owner)  # None: another process groups now
        except Exception:
            totals.failures += 1
            raise
        totals.runs += 1
        if result is None:
            totals.skipped += 1
        else:
            totals.alerts += result.alerts
            totals.opened += len(result.created)
            totals.updated += len(result.updated)

    def detect_and_group(self) -> None:
        """Detection, then grouping, in this thread (the demo, tests): the running service has them as
        two jobs."""
        self.detect()
        self.group()

    def state(self) -> dict[str, Any]:
        """For readiness: running, and the detection slots held at the last cycle (none: standing by)."""
        return {"running": bool(self.scheduler.running), "slots": list(self.last_slots),
                "standing_by": not self.last_slots}

    def _add_jobs(self) -> None:
        s = self.scheduler
        s.add_job(_guarded("detect", self.detect), "interval", seconds=self.detection.interval_s,
                  id="detect", max_instances=1, coalesce=True)
        # Its own job, in its own thread: grouping a busy cycle's alerts took up to 5.5 s under the
        # detection benchmark's load, and run between cycles it held the next cycle back that long
        # (p95 ingest-to-alert 15.7 s instead of 5.6 s; BENCHMARKS.md, detection).
        s.add_job(_guarded("group", self.group), "interval", seconds=self.detection.interval_s,
                  id="group", max_instances=1, coalesce=True)
        s.add_job(_guarded("sla", lambda: IncidentService(self.runtime).check_sla()), "interval", seconds=60,
                  id="sla", max_instances=1, coalesce=True)
        s.add_job(_guarded("retention", lambda: retention.apply(self.settings, search.client(self.settings),
                                                                search.names(self.settings))),
                  "cron", hour=1, minute=17, id="retention", max_instances=1, coalesce=True)
        for module_name in CONTRIBUTORS:
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                if exc.name != module_name and not module_name.startswith(str(exc.name)):
                    raise
                continue
            module.add_jobs(s, self.settings)
            self.contributed.append(module_name)

    def job_ids(self) -> list[str]:
        return sorted(job.id for job in self.scheduler.get_jobs())

    def start(self) -> None:
        self.scheduler.start()

    def stop(self, timeout: float = 5.0) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
