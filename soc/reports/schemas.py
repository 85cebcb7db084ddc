"""The report's shapes: the JSON content, the stored document, and the API's answers.

Content (the JSON format, also kept in the stored document under ``content``)::

    {report: {week, start, end, timezone, first_day, last_day, scope: "province"|"agency",
              agency: {id, name_vi, name_en}|null, lang, generated},
     deltas: [{metric, current, previous, delta, change_pct}],            # week over week, headline
     events: {total: Delta, agencies: [{id, name, ...Delta, sources: [{id, ...Delta}]}]},
     source_health: {silent_hours, degraded_hours,
                     sources: [{agency, source, events, silent_hours, degraded_hours, median_per_hour}]},
     alerts: {total: Delta, by_severity: [{severity, ...Delta}], by_tactic: [{tactic, ...Delta}],
              by_rule: [{id, name, level, count}], per_day: {YYYY-MM-DD: n}},
     incidents: {opened, acknowledged, resolved, open_at_end, ack_breaches, resolve_breaches,
                 mtta_seconds, mttr_seconds: Delta, opened_by_severity: {sev: n}, resolutions: {res: n}},
     top: {attackers: [{ip, alerts, agencies, rules}], urls|hosts|accounts: [{value, count}]},
     origins: {countries: [{key: ISO code, name, alerts, addresses}], networks: [{key: AS number, name,
               alerts, addresses}], with_address, special, unknown},   # the week's alerts by source
     notable: [{id, title, severity, status, resolution, agency, created, resolved_at, alert_count,
                entities, note}],
     changes: {total, items: [{at, actor, action, object_type, object_id, agency, summary}]}}

where Delta is ``{current, previous, delta, change_pct}`` (change_pct is None when previous is 0
or either side is unknown).

Stored document (``soc-reports``, _id = id)::

    {id, created, week, week_start, week_end, scope, organization: {id: agency or "*"}, lang,
     formats: [...], files: {format: file name}, trigger: "cli"|"schedule"|"api",
     summary: {events, alerts, incidents_opened, open_at_end}, content: {...}, delivery: {...}}
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

Lang = Literal["vi", "en"]
Format = Literal["html", "pdf", "json", "csv"]
ALL_FORMATS: tuple[Format, ...] = ("html", "pdf", "json", "csv")
PROVINCE = "*"  # organization.id of a province-wide report


def delta(current: float | None, previous: float | None) -> dict[str, Any]:
    if current is None or previous is None:
        return {"current": current, "previous": previous, "delta": None, "change_pct": None}
    diff = current - previous
    pct = round(diff / previous * 100, 1) if previous else None
    return {"current": current, "previous": previous, "delta": diff, "change_pct": pct}


def report_id(week: str, agency: str | None, lang: str) -> str:
    """Deterministic: producing the same report again replaces it."""
    return f"{week}.{agency or 'province'}.{lang}"


class ReportOut(BaseModel):
    id: str
    week: str
    week_start: str
    week_end: str
    scope: Literal["province", "agency"]
    agency: str | None = Field(description="the agency, or null for the province-wide report")
    lang: Lang
    formats: list[Format]
    created: str
    trigger: str
    summary: dict[str, Any]


class ReportPage(BaseModel):
    total: int
    items: list[ReportOut]


class GenerateIn(BaseModel):
    week: str | None = Field(default=None, pattern=r"^\d{4}-W\d{2}$",
                             description="ISO week; default: the last complete week")
    agency: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.\-]{1,64}$",
                               description="one agency; omit for the province-wide report")
    lang: Lang = "vi"


def public(doc: dict[str, Any]) -> ReportOut:
    agency = doc["organization"]["id"]
    return ReportOut(id=doc["id"], week=doc["week"], week_start=doc["week_start"], week_end=doc["week_end"],
                     scope=doc["scope"], agency=None if agency == PROVINCE else agency, lang=doc["lang"],
                     formats=doc["formats"], created=doc["created"], trigger=doc.get("trigger", ""),
                     summary=doc.get("summary") or {})
