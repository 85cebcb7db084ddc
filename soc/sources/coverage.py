"""Coverage: which enabled rules can fire on an agency's data of one source type, and which cannot.

A rule can fire when every field its query needs (after the Sigma-to-ECS mapping, including the
program filter the mapping adds for Linux services) appears in at least one of the agency's recent
events of that type. A rule whose fields never appear is listed with the missing fields: a dry run
before the rules are trusted. Rules the engine cannot convert are listed as unsupported.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from opensearchpy import OpenSearch
from sigma.backends.opensearch.opensearch import OpensearchLuceneBackend
from sigma.conditions import ConditionOR
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule

from soc.detection import convert, pipeline
from soc.detection.rules import LoadedRule
from soc.detection.settings import DetectionSettings
from soc.search import Names
from soc.sources import store

STREAM_OF_TYPE = {"syslog": "logs-syslog", "nginx": "logs-web", "apache": "logs-web"}
_ALWAYS = {pipeline.RAW_LINE_FIELD: "event.original"}  # keyword searches run on the raw line


@dataclass
class RuleCoverage:
    rule_id: str
    title: str
    fields: list[str]
    missing: list[str] = field(default_factory=list)
    reason: str = ""


@dataclass
class Coverage:
    agency: str
    type: str
    sources: list[str]
    events: int  # recent events the check looked at
    can_fire: list[RuleCoverage] = field(default_factory=list)
    cannot_fire: list[RuleCoverage] = field(default_factory=list)
    unsupported: list[RuleCoverage] = field(default_factory=list)


def _walk(detection: SigmaDetection, out: set[tuple[str, ...]]) -> None:
    items = detection.detection_items
    if (detection.item_linking is ConditionOR and items
            and all(isinstance(i, SigmaDetectionItem) and i.field is not None for i in items)):
        # One Sigma field mapped to several ECS fields: any one of them is enough.
        out.add(tuple(sorted({_ecs(str(i.field)) for i in items if isinstance(i, SigmaDetectionItem)})))
        return
    for item in items:
        if isinstance(item, SigmaDetection):
            _walk(item, out)
        elif item.field is not None:
            out.add((_ecs(item.field),))


def _ecs(name: str) -> str:
    return _ALWAYS.get(name, name.removesuffix(".keyword"))


def rule_fields(loaded: LoadedRule) -> list[str]:
    """What a single-event rule's query reads, after our processing pipeline: one entry per needed
    field, ``a|b`` when any of several ECS fields will do."""
    work = copy.deepcopy(loaded.rule)
    assert isinstance(work, SigmaRule)
    work._output = True
    OpensearchLuceneBackend(processing_pipeline=pipeline.processing_pipeline()).convert_rule(work)
    out: set[tuple[str, ...]] = set()
    for detection in work.detection.detections.values():
        _walk(detection, out)
    return sorted("|".join(group) for group in out)


def needed_fields(result: convert.Compiled | convert.CompiledCorrelation) -> list[str]:
    if isinstance(result, convert.Compiled):
        return rule_fields(result.rule)
    names: set[str] = set(result.group_by) | ({result.field} if result.field else set())
    for base in result.bases:
        names.update(rule_fields(base.rule))
    return sorted(names)


def enabled(results: list[convert.Result], ds: DetectionSettings, agency: str) -> list[convert.Result]:
    """Rules that run for the agency: not disabled, and not only a correlation's base."""
    hidden = convert.referenced_ids(results)
    return [r for r in results if r.rule.id not in ds.disabled_rules and r.rule.id not in hidden
            and f"{r.rule.id}:{agency}" not in ds.disabled_for_agency]


def check(client: OpenSearch, names: Names, agency: str, source_type: str, results: list[convert.Result],
          ds: DetectionSettings, days: float = 7.0, now: datetime | None = None) -> Coverage:
    now = now or datetime.now(UTC)
    stream = STREAM_OF_TYPE[source_type]
    sources = [s["id"] for s in store.search(client, names, [agency], source_type=source_type)]
    candidates = [r for r in enabled(results, ds, agency) if isinstance(r, convert.Unsupported) or stream in r.streams]
    need: dict[str, list[str]] = {}
    report = Coverage(agency, source_type, sources, 0)
    for r in candidates:
        if isinstance(r, convert.Unsupported):
            report.unsupported.append(RuleCoverage(r.rule.id, r.rule.title, [], reason=r.reason))
            continue
        need[r.rule.id] = needed_fields(r)
    all_fields = sorted({f for fields in need.values() for group in fields for f in group.split("|")})
    total, present = (0, {}) if not sources else store.field_presence(
        client, names(stream), agency, sources, all_fields, now - timedelta(days=days))
    report.events = total
    for r in candidates:
        if isinstance(r, convert.Unsupported):
            continue
        fields = need[r.rule.id]
        missing = [g for g in fields if not any(present.get(f) for f in g.split("|"))]
        row = RuleCoverage(r.rule.id, r.rule.title, fields, missing)
        if missing:
            row.reason = ("no recent events from this agency's sources of this type" if total == 0 else
                          "fields never present in recent events: " + ", ".join(missing))
            report.cannot_fire.append(row)
        else:
            report.can_fire.append(row)
    return report


def as_dict(c: Coverage) -> dict[str, Any]:
    def rows(items: list[RuleCoverage]) -> list[dict[str, Any]]:
        return [{"rule_id": i.rule_id, "title": i.title, "fields": i.fields, "missing": i.missing,
                 "reason": i.reason} for i in items]

    return {"agency": c.agency, "type": c.type, "sources": c.sources, "events": c.events,
            "can_fire": rows(c.can_fire), "cannot_fire": rows(c.cannot_fire), "unsupported": rows(c.unsupported)}


__all__ = ["Coverage", "RuleCoverage", "as_dict", "check"]
