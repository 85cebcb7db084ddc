"""Prometheus collectors over the counters the service keeps (detection, grouping, notifications).

Each scrape reads a consistent snapshot (detection's counters under their one lock) and builds the
metric families from it; nothing here keeps state of its own except the API's instruments, which
live in the application's registry (``registry()``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from soc.detection import metrics as detection


class Notifications(Protocol):
    @property
    def counts(self) -> dict[str, int]: ...  # queued, delivered, failed, retried


@dataclass
class GroupingTotals:
    """What the scheduler's grouping runs did (kept by the scheduler, read at each scrape)."""

    runs: int = 0
    skipped: int = 0  # another process held the grouping lease
    alerts: int = 0
    opened: int = 0
    updated: int = 0
    failures: int = 0


class DetectionCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        snap = detection.snapshot()
        now = datetime.now(UTC)
        lag = GaugeMetricFamily("soc_detection_lag_seconds", "now minus the detection checkpoint, per slot",
                                labels=["slot"])
        for slot, end in sorted(snap.checkpoints.items()):
            lag.add_metric([slot], (now - end).total_seconds())
        yield lag
        c = snap.counters
        yield GaugeMetricFamily("soc_detection_cycle_seconds", "duration of the last detection cycle",
                                value=c.get("cycle_seconds", 0.0))
        yield CounterMetricFamily("soc_detection_cycles", "detection cycles run", value=c.get("cycles", 0))
        yield CounterMetricFamily("soc_detection_alerts", "alerts written by detection", value=c.get("alerts", 0))
        yield CounterMetricFamily("soc_detection_suppressed", "matches suppressed by suppression rules",
                                  value=c.get("suppressed", 0))
        yield CounterMetricFamily("soc_detection_opensearch_rejections", "429s detection met",
                                  value=c.get("rejections", 0))
        errors = CounterMetricFamily("soc_detection_rule_errors", "cycles in which a rule failed", labels=["rule"])
        for rule, n in sorted(snap.rule_errors.items()):
            errors.add_metric([rule], n)
        yield errors
        late = CounterMetricFamily("soc_detection_flagged_time_events",
                                   "events whose own time the ingest pipeline flagged (_late: not correlated)",
                                   labels=["tag"])
        for tag, n in sorted(snap.time_tags.items()):
            late.add_metric([tag], n)
        yield late


@dataclass(eq=False)
class ServiceCollector(Collector):
    """Grouping and notifications of this process."""

    notifier: Notifications | None = None
    grouping: GroupingTotals | None = None

    def collect(self) -> Iterator[Metric]:
        if self.grouping is not None:
            g = self.grouping
            yield CounterMetricFamily("soc_grouping_runs", "grouping runs", value=g.runs)
            yield CounterMetricFamily("soc_grouping_skipped", "grouping runs left to another process",
                                      value=g.skipped)
            yield CounterMetricFamily("soc_grouping_alerts", "alerts grouped into incidents", value=g.alerts)
            yield CounterMetricFamily("soc_grouping_incidents_opened", "incidents opened", value=g.opened)
            yield CounterMetricFamily("soc_grouping_failures", "grouping runs that failed", value=g.failures)
        if self.notifier is not None:
            counts = self.notifier.counts
            yield GaugeMetricFamily("soc_notifications_queued", "notifications waiting to be sent",
                                    value=counts.get("queued", 0))
            sent = CounterMetricFamily("soc_notifications", "notification attempts by outcome", labels=["outcome"])
            for outcome in ("delivered", "failed", "retried"):
                sent.add_metric([outcome], counts.get(outcome, 0))
            yield sent


@dataclass
class Instruments:
    registry: CollectorRegistry
    service: ServiceCollector
    requests: Counter = field(init=False)
    latency: Histogram = field(init=False)

    def __post_init__(self) -> None:
        self.requests = Counter("soc_api_requests", "API and console requests", ["method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("soc_api_request_seconds", "API and console request latency", ["method", "route"],
                                 registry=self.registry,
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))


def registry(notifier: Any = None, grouping: GroupingTotals | None = None) -> Instruments:
    """A registry of its own per application (tests build many apps in one process)."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(DetectionCollector())
    service = ServiceCollector(notifier, grouping)
    reg.register(service)
    return Instruments(reg, service)
