"""``soc rules test``: every rule's own events, indexed on the real node and run exactly as the scheduler runs.

Beside ``rule.yml`` lives ``rule.events.yml``::

    match:                      # each case must produce an alert of this rule
      - {event: ..., url: ...}  # one event (single-event rules)
      - events: [..., ...]      # several events (correlations)
    nomatch:                    # each case must produce none
      - {...}

A case of a correlation gets its own agency (its own data stream), so cases never see each other.
The cases of single-event rules share one agency: such an alert names the one event it matched,
which tells its case (a data stream per case would make every search fan out to as many shards).
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
from soc.alerts import store as alert_store
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


SHARED_AGENCY = "cases"


def run(client: OpenSearch, names: Names, compiled: list[Result]) -> list[CaseResult]:
    results: list[CaseResult] = []
    plan: dict[str, tuple[LoadedRule, str]] = {}  # case key -> (rule, label)
    docs: list[tuple[str, dict[str, Any]]] = []
    case_of: dict[str, str] = {}  # event id -> case key (cases of single-event rules)
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
                key = f"case-{len(plan)}"
                plan[key] = (main.rule, f"{kind} #{n}")
                agency = key if main.rule.is_correlation else SHARED_AGENCY
                for i, e in enumerate(case):
                    case_of[f"{key}-{i}"] = key
                    docs.append((f"{key}-{i}", _stamp(e, agency, now - timedelta(seconds=len(case) - i))))
    store.index_documents(client, names, docs)
    end = store.node_now(client)
    report = CycleReport()
    ds = DetectionSettings(settle_s=0)
    for stream in search.LOG_STREAMS:
        run_window(client, names, stream, compiled, end - timedelta(hours=1), end, ds, report)
    fired: dict[tuple[str, str], int] = {}
    for alert in alert_store.alerts_by_org(client, names):
        org = str(alert["organization"]["id"])
        keys = {case_of.get(str(ref.get("id"))) for ref in alert.get("events") or []} \
            if org == SHARED_AGENCY else {org}
        for owner in keys - {None}:
            fired[(alert["rule"]["id"], str(owner))] = fired.get((alert["rule"]["id"], str(owner)), 0) + 1
    for key, (rule, label) in plan.items():
        n = fired.get((rule.id, key), 0)
        expect = label.startswith("match")
        ok = (n > 0) == expect and rule.id not in report.errors
        wanted = "some" if expect else "none"
        detail = report.errors.get(rule.id, "") or ("" if ok else f"{n} alerts, expected {wanted}")
        results.append(CaseResult(rule.id, rule.title, str(rule.path), label, ok, detail))
    return results
