"""``soc rules test``: every rule's own events, indexed on the real node and run exactly as the scheduler runs.

Beside ``rule.yml`` lives ``rule.events.yml``::

    match:                      # each case must produce an alert of this rule
      - {event: ..., url: ...}  # one event (single-event rules)
      - events: [..., ...]      # several events (correlations)
    nomatch:                    # each case must produce none
      - {...}

Each case gets its own agency (``organization.id``), so cases never see each other.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from opensearchpy import OpenSearch

from soc import search
from soc.detection import store
from soc.detection.convert import Result, Unsupported, referenced_ids
from soc.detection.rules import EVENTS_SUFFIX, LoadedRule
from soc.detection.runner import CycleReport, run_window
from soc.detection.settings import DetectionSettings
from soc.search import Names


@dataclass
class CaseResult:
    rule_id: str
    title: str
    path: str
    case: str  # "match #1", "nomatch #2"
    passed: bool
    detail: str = ""


def events_file(rule_path: Path) -> Path:
    return rule_path.with_name(rule_path.name.removesuffix(".yml") + EVENTS_SUFFIX)


def _cases(path: Path) -> dict[str, list[list[dict[str, Any]]]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    out: dict[str, list[list[dict[str, Any]]]] = {}
    for kind in ("match", "nomatch"):
        out[kind] = [list(c["events"]) if isinstance(c, dict) and "events" in c else [c] for c in data.get(kind, [])]
    return out


def _stamp(event: dict[str, Any], agency: str, when: datetime) -> dict[str, Any]:
    doc = copy.deepcopy(event)
    doc.setdefault("@timestamp", store.iso(when))
    doc["organization"] = {"id": agency}
    original = (doc.get("event") or {}).get("original")
    doc.setdefault("message", original or "")
    return doc


def run(client: OpenSearch, names: Names, compiled: list[Result]) -> list[CaseResult]:
    results: list[CaseResult] = []
    plan: dict[str, tuple[LoadedRule, str]] = {}
    events: list[dict[str, Any]] = []
    now = datetime.now(UTC)
    done: set[Path] = set()
    hidden = referenced_ids(compiled)
    for res in compiled:
        rule = res.rule
        efile = events_file(rule.path)
        if isinstance(res, Unsupported):
            results.append(CaseResult(rule.id, rule.title, str(rule.path), "convert", False, res.reason))
            continue
        if rule.path in done and not res.rule.is_correlation:
            continue
        if res.rule.path in done:
            continue
        done.add(rule.path)
        # the test events of a file belong to its main rule: the correlation if there is one, else the rule
        # (a correlation another one refers to is a building block, not the file's main rule)
        main = next((r for r in compiled if r.rule.path == rule.path and r.rule.is_correlation
                     and r.rule.id not in hidden), res)
        if not efile.exists():
            results.append(CaseResult(main.rule.id, main.rule.title, str(rule.path), "events", False,
                                      f"no {efile.name} beside the rule"))
            continue
        for kind, cases in _cases(efile).items():
            for n, case in enumerate(cases, 1):
                agency = f"case-{len(plan)}"
                plan[agency] = (main.rule, f"{kind} #{n}")
                events += [_stamp(e, agency, now - timedelta(seconds=len(case) - i)) for i, e in enumerate(case)]
    store.index_events(client, names, events)
    end = store.node_now(client)
    report = CycleReport()
    ds = DetectionSettings(settle_s=0)
    for stream in search.LOG_STREAMS:
        run_window(client, names, stream, compiled, end - timedelta(hours=1), end, ds, report)
    fired: dict[tuple[str, str], int] = {}
    for alert in store.alerts_by_org(client, names):
        key = (alert["rule"]["id"], alert["organization"]["id"])
        fired[key] = fired.get(key, 0) + 1
    for agency, (rule, label) in plan.items():
        n = fired.get((rule.id, agency), 0)
        expect = label.startswith("match")
        ok = (n > 0) == expect and rule.id not in report.errors
        wanted = "some" if expect else "none"
        detail = report.errors.get(rule.id, "") or ("" if ok else f"{n} alerts, expected {wanted}")
        results.append(CaseResult(rule.id, rule.title, str(rule.path), label, ok, detail))
    return results
