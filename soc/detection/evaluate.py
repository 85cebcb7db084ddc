"""Evaluation of rules on labelled real logs: which attacker actors each rule detects, and its false positives.

A labelled log folder holds log files (``nginx/*.log``, ``syslog/*.log``) and, for each, a file
``labels/<same path>.actors`` with one actor name per line. Every line goes through the real
parsers (``collectors.parsers.parse``) and is indexed under a deterministic id; each file gets its
own agency (``organization.id``), so the same traffic written in several formats never adds up in a
correlation. Detection then runs exactly as the scheduler does (``run_window``) over the ingest-time
window that holds the load, and each alert is attributed to the actors of the events it names.

An alert whose events all belong to benign actors (``benign``, ``system`` by default) is a false
positive. Correlation alerts name a bounded sample of their events; it is grouped (by address,
user...) so the sample speaks for the group.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from opensearchpy import OpenSearch

from collectors.parsers import ParseContext, parse
from soc import search
from soc.alerts import store as alert_store
from soc.detection import store
from soc.detection.convert import Result
from soc.detection.runner import CycleReport, run_window
from soc.detection.settings import DetectionSettings
from soc.search import Names

BENIGN_ACTORS = frozenset({"benign", "system"})
# Labelled captures may be years old: a deployment that evaluates them lifts the lateness bound past
# their age, so that they are correlated as they were when they happened.
HISTORY_LATENESS_S = 100 * 365 * 86400.0


@dataclass(frozen=True)
class LogFile:
    path: Path  # the log
    labels: Path  # its .actors file
    kind: str  # parser kind: nginx, nginx-json, syslog
    agency: str  # organization.id its events get


@dataclass
class RuleOutcome:
    rule_id: str
    title: str
    path: str
    alerts: int = 0
    actors: Counter[str] = field(default_factory=Counter)  # alerts naming an event of each actor
    false_positives: Counter[str] = field(default_factory=Counter)  # benign-only alerts, by benign actor


@dataclass
class Evaluation:
    lines: Counter[str] = field(default_factory=Counter)  # lines per actor
    covered: Counter[str] = field(default_factory=Counter)  # lines per actor named by at least one alert
    rules: dict[str, RuleOutcome] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    benign: frozenset[str] = BENIGN_ACTORS

    @property
    def attackers(self) -> list[str]:
        return sorted(a for a in self.lines if a not in self.benign)

    def detected(self) -> dict[str, list[str]]:
        """attacker actor → rules that raised at least one alert naming its events."""
        out: dict[str, list[str]] = {a: [] for a in self.attackers}
        for outcome in self.rules.values():
            for actor in outcome.actors:
                if actor in out:
                    out[actor].append(outcome.title)
        return out

    def false_positive_alerts(self) -> int:
        return sum(sum(o.false_positives.values()) for o in self.rules.values())


def _kind(rel: Path) -> str | None:
    name = rel.name
    if rel.parts[0] == "nginx" or "access" in name:
        if "error" in name:
            return None  # error logs have no access-log parser
        return "nginx-json" if ".json" in name else "nginx"
    if rel.parts[0] == "syslog" or name.endswith(".log"):
        return "syslog"
    return None


def discover(folder: Path) -> list[LogFile]:
    """The labelled log files of a folder: each log with a ``labels/<path>.actors`` beside it."""
    labels_root = folder / "labels"
    out: list[LogFile] = []
    for labels in sorted(labels_root.rglob("*.actors")):
        rel = labels.relative_to(labels_root).with_suffix("")
        log = folder / rel
        kind = _kind(rel)
        if kind is None or not log.is_file():
            continue
        agency = ("eval-" + re.sub(r"[^a-z0-9]+", "-", str(rel).lower()).strip("-"))[:64].rstrip("-")  # an agency id
        out.append(LogFile(log, labels, kind, agency))
    return out


def _doc_id(agency: str, number: int) -> str:
    return hashlib.sha256(f"{agency}\x00{number}".encode()).hexdigest()[:32]


def load(client: OpenSearch, names: Names, files: list[LogFile], received_at: datetime | None = None
         ) -> tuple[dict[str, str], Counter[str]]:
    """Parse and index every line; returns (document id → actor, lines per actor)."""
    actor_of: dict[str, str] = {}
    lines: Counter[str] = Counter()
    when = received_at or datetime.now(UTC)
    for f in files:
        raw_lines = f.path.read_bytes().splitlines()
        actors = f.labels.read_text(encoding="utf-8").splitlines()
        if len(actors) != len(raw_lines):
            raise ValueError(f"{f.labels} has {len(actors)} labels for {len(raw_lines)} lines of {f.path}")
        ctx = ParseContext(timezone="UTC", received_at=when, hostname="eval")
        docs: list[tuple[str, dict[str, Any]]] = []
        for number, (raw, actor) in enumerate(zip(raw_lines, actors, strict=True), 1):
            event = parse(f.kind, raw, ctx)
            event["organization"] = {"id": f.agency}
            doc_id = _doc_id(f.agency, number)
            actor_of[doc_id] = actor.strip()
            lines[actor.strip()] += 1
            docs.append((doc_id, event))
        store.index_documents(client, names, docs)
    return actor_of, lines


def detect(client: OpenSearch, names: Names, compiled: list[Result], since: datetime) -> CycleReport:
    """One pass of every rule over what was ingested after ``since`` (no cap short of the data)."""
    ds = DetectionSettings(settle_s=0, per_rule_cap=100_000, page_size=5000)
    end = store.node_now(client) + timedelta(seconds=1)
    report = CycleReport()
    for stream in search.LOG_STREAMS:
        run_window(client, names, stream, compiled, since, end, ds, report)
    return report


def attribute(alerts: list[dict[str, Any]], actor_of: dict[str, str], lines: Counter[str],
              compiled: list[Result], benign: frozenset[str] = BENIGN_ACTORS) -> Evaluation:
    result = Evaluation(lines=lines, benign=benign)
    by_id = {c.rule.id: c.rule for c in compiled}
    covered: set[str] = set()
    for alert in alerts:
        rule_id = alert["rule"]["id"]
        rule = by_id.get(rule_id)
        outcome = result.rules.setdefault(rule_id, RuleOutcome(
            rule_id, alert["rule"]["name"], str(rule.path) if rule else ""))
        outcome.alerts += 1
        ids = [e["id"] for e in alert.get("events", []) if e["id"] in actor_of]
        covered.update(ids)
        actors = {actor_of[i] for i in ids}
        for actor in actors:
            outcome.actors[actor] += 1
        if actors and actors <= benign:
            for actor in actors:
                outcome.false_positives[actor] += 1
    for doc_id in covered:
        result.covered[actor_of[doc_id]] += 1
    return result


def evaluate(client: OpenSearch, names: Names, folder: Path, compiled: list[Result]) -> Evaluation:
    """Load ``folder``'s labelled logs into ``names`` (a fresh deployment), run ``compiled``, attribute."""
    since = store.node_now(client) - timedelta(seconds=1)
    actor_of, lines = load(client, names, discover(folder))
    report = detect(client, names, compiled, since)
    result = attribute(alert_store.all_alerts(client, names), actor_of, lines, compiled)
    result.errors = dict(report.errors)
    return result


def to_json(result: Evaluation) -> dict[str, Any]:
    return {
        "lines": dict(result.lines), "covered_lines": dict(result.covered),
        "detected": result.detected(), "false_positive_alerts": result.false_positive_alerts(),
        "errors": result.errors,
        "rules": [{"id": o.rule_id, "title": o.title, "path": o.path, "alerts": o.alerts,
                   "actors": dict(o.actors), "false_positives": dict(o.false_positives)}
                  for o in sorted(result.rules.values(), key=lambda o: o.path)],
    }


def render(result: Evaluation) -> str:
    out = ["per rule: alerts, alerts naming each actor's events, benign-only alerts (false positives)"]
    for o in sorted(result.rules.values(), key=lambda o: o.path):
        actors = ", ".join(f"{a} {n}" for a, n in sorted(o.actors.items()))
        fps = ", ".join(f"{a} {n}" for a, n in sorted(o.false_positives.items())) or "none"
        out.append(f"  {o.title}: {o.alerts} alerts [{actors}]; false positives: {fps}")
    out.append("per actor: lines named by an alert / lines; rules that detected it")
    detected = result.detected()
    for actor in sorted(result.lines):
        which = detected.get(actor)
        tail = (f"; {len(which)} rules" if which else "; NOT DETECTED") if actor not in result.benign else ""
        out.append(f"  {actor}: {result.covered[actor]}/{result.lines[actor]}{tail}")
    missed = [a for a, rules_ in detected.items() if not rules_]
    out.append(f"attackers detected: {len(detected) - len(missed)}/{len(detected)}"
               + (f" (missed: {', '.join(missed)})" if missed else "")
               + f"; false-positive alerts: {result.false_positive_alerts()}")
    for rule_id, err in result.errors.items():
        out.append(f"  error {rule_id}: {err}")
    return "\n".join(out)
