"""Detection settings: declared data with defaults, overridable by SOC_DETECT_* environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from soc.errors import ConfigError


@dataclass(frozen=True)
class DetectionSettings:
    # Chosen for the lowest ingest-to-alert latency measured with every rule on the 2-core benchmark
    # machine (BENCHMARKS.md, detection; the 5 s p95 target is not reached there): a cycle starts
    # every second, or at once when the previous one took the whole second (soc.scheduler).
    interval_s: float = 1.0  # scheduler period
    busy_max_s: float = 60.0  # back-to-back cycles (each took the whole period) in one run of the job, at most
    # The window ends this long before OpenSearch's "now" (read from the node just before each cycle
    # refreshes the log streams, so the refresh interval needs no allowance): about the time a bulk
    # request spends between the ingest pipeline stamping event.ingested and the shard indexing it.
    # A document still in flight then is not lost: the next cycle's re-checked stretch finds it (one
    # cycle later). The runner's own clock never matters. At 1,000 events/s on the benchmark machine,
    # 0.25 s left 26-341 of 60,000 events to the stretch (0.5 s: 0-99), and p95 ingest-to-alert fell
    # from 5.03 s to 4.73 s (medians of 5 runs; BENCHMARKS.md, detection).
    settle_s: float = 0.25
    # Each cycle searches again this far before its window (by event.ingested): a document stamped
    # in an earlier window but made searchable only after that window's cycle ran (a large bulk
    # under load, a GC pause: up to ~2 s has been seen) is still evaluated. Alerts and episodes are
    # idempotent, so the re-check never duplicates; counters count each window's own documents.
    recheck_s: float = 5.0
    # An event older than this on arrival (event.ingested - @timestamp) is tagged _late by the ingest
    # pipeline: stored, searchable and matched by single-event rules, but left out of correlations,
    # whose episodes would otherwise change long after they were reported. Counted (metrics, source
    # health). `soc init` writes it into the pipeline: change it there by re-running init.
    lateness_s: float = 7 * 86400.0
    # An event time later than arrival by more than this is clock skew: clamped to the arrival time
    # and tagged _future_timestamp (the claimed time is kept in soc.original_timestamp).
    future_skew_s: float = 300.0
    first_lookback_s: float = 900.0  # where a target with no checkpoint starts
    max_window_s: float = 3600.0  # a long backlog is worked through in windows of at most this
    per_rule_cap: int = 1000  # matches turned into alerts per rule per window; the rest are counted
    batch_size: int = 25  # rules per _msearch request
    max_concurrent_searches: int = 2  # per _msearch: never more than this many searches at once
    page_size: int = 500
    # A window (its re-checked stretch included) holding at most this many events is read once, every
    # field, and matched in the service by the rules that can be (soc.detection.local); a larger one
    # (a backfill, a flushed queue) is searched rule by rule on the node. 0: always on the node.
    # Why: each rule search visits one shard per agency (BENCHMARKS.md, detection).
    local_max_events: int = 20_000
    fetch_page: int = 2_000  # documents per page when a window is read for local matching
    # Base matches a correlation's book of recent matches may hold (soc.detection.recent): about 710
    # bytes each at worst (tests/benchmarks/bench_recent_memory.py), so about 180 MB; past it that
    # correlation is searched on the node. 0: no books, every correlation group is searched on the node.
    recent_max_entries: int = 250_000
    request_timeout_s: float = 30.0
    lease_s: float = 60.0  # a slot's lease; an instance that stops is replaced this long after its last cycle
    # A scheduler instance announces itself and reads the slots' leases at most this often (and at most
    # every lease_s / 4); between, each cycle goes on with the slots it holds, and its checkpoint write,
    # conditional on the version it wrote last, renews the lease. An instance that joins or leaves is
    # seen within this long. Reading them every cycle cost four requests, one of them waiting for a
    # refresh, about 0.3 s of each cycle at 1,000 events/s on the benchmark machine (BENCHMARKS.md).
    # 0: every cycle.
    claim_every_s: float = 5.0
    # Rules are hashed into this many groups; each (log stream, group) is a slot that one instance at a
    # time evaluates. 1: one instance does all the work, the others stand by.
    rule_groups: int = 1
    rule_paths: tuple[Path, ...] = field(default_factory=lambda: (Path("rules"),))
    disabled_rules: frozenset[str] = frozenset()
    # "rule_id:agency" pairs: the rule does not run for that agency.
    disabled_for_agency: frozenset[str] = frozenset()


def load(env: dict[str, str] | None = None, base: DetectionSettings | None = None) -> DetectionSettings:
    env = dict(os.environ if env is None else env)
    out = base or DetectionSettings()
    values: dict[str, object] = {}
    for f in fields(DetectionSettings):
        raw = env.get("SOC_DETECT_" + f.name.upper())
        if raw is None:
            continue
        try:
            if f.name == "rule_paths":
                values[f.name] = tuple(Path(p) for p in raw.split(os.pathsep) if p)
            elif f.name in ("disabled_rules", "disabled_for_agency"):
                values[f.name] = frozenset(x.strip() for x in raw.split(",") if x.strip())
            elif f.name.endswith("_s"):
                values[f.name] = float(raw)
            else:
                values[f.name] = int(raw)
        except ValueError:
            raise ConfigError(f"SOC_DETECT_{f.name.upper()} has an invalid value {raw!r}") from None
    return replace(out, **values)  # type: ignore[arg-type]
