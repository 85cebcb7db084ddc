"""The report's content: the store's aggregations turned into the JSON document (see schemas)."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime
from typing import Any

from opensearchpy import OpenSearch

from soc.agencies import store as agency_store
from soc.alerts import store as alert_store
from soc.alerts.documents import LATE_NOTICE_S
from soc.audit import store as audit_store
from soc.incidents import store as incident_store
from soc.reports import store
from soc.reports.period import Week
from soc.reports.schemas import delta
from soc.reports.settings import ReportSettings
from soc.search import Names

NOTE_LIMIT = 500


def agency_name(doc: dict[str, Any] | None, agency: str, lang: str) -> str:
    if not doc:
        return agency
    return str(doc.get(f"name_{lang}") or doc.get("name_vi") or doc.get("name_en") or agency)


def _events(counts: dict[str, dict[str, dict[str, int]]], known: dict[str, dict[str, Any]], agency: str | None,
            lang: str) -> dict[str, Any]:
    cur, prev = counts.get("current", {}), counts.get("previous", {})
    ids = set(cur) | set(prev) | ({agency} if agency else set(known))
    rows = []
    for org in ids:
        c_src, p_src = cur.get(org, {}), prev.get(org, {})
        sources = [{"id": s, **delta(c_src.get(s, 0), p_src.get(s, 0))} for s in sorted(set(c_src) | set(p_src))]
        rows.append({"id": org, "name": agency_name(known.get(org), org, lang),
                     **delta(sum(c_src.values()), sum(p_src.values())),
                     "sources": sorted(sources, key=lambda r: (-r["current"], r["id"]))})
    rows.sort(key=lambda r: (-r["current"], r["id"]))
    total = delta(sum(r["current"] for r in rows), sum(r["previous"] for r in rows))
    return {"total": total, "agencies": rows}


def _health(client: OpenSearch, names: Names, agency: str | None, week: Week, now: datetime,
            events: dict[str, Any], ratio: float) -> dict[str, Any]:
    """Silent hours (no event) and degraded hours (fewer than ``ratio`` x the source's median busy hour).

    Hours after ``now`` are not counted (a report on the running week). A source that sent last
    week and nothing this week is silent all week.
    """
    end = min(week.end, max(week.start, now))
    elapsed = int((end - week.start).total_seconds() // 3600)
    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for org, source, hours in store.hourly_by_source(client, names, agency, week.start, week.end):
        counted = hours[:elapsed]
        busy = [c for c in counted if c > 0]
        median = statistics.median(busy) if busy else 0
        rows.append({"agency": org, "source": source, "events": sum(hours),
                     "silent_hours": sum(1 for c in counted if c == 0),
                     "degraded_hours": sum(1 for c in counted if 0 < c < ratio * median),
                     "median_per_hour": median})
        seen.add((org, source))
    for row in events["agencies"]:
        for src in row["sources"]:
            if src["id"] != "-" and src["current"] == 0 and (row["id"], src["id"]) not in seen:
                rows.append({"agency": row["id"], "source": src["id"], "events": 0, "silent_hours": elapsed,
                             "degraded_hours": 0, "median_per_hour": 0})
    rows.sort(key=lambda r: (-r["silent_hours"], -r["degraded_hours"], r["agency"], r["source"]))
    return {"silent_hours": sum(r["silent_hours"] for r in rows),
            "degraded_hours": sum(r["degraded_hours"] for r in rows), "sources": rows}


def _alerts(a: dict[str, dict[str, Any]], week: Week) -> dict[str, Any]:
    cur, prev = a["current"], a["previous"]
    severities = ("critical", "high", "medium", "low", "informational")
    tactics_c, tactics_p = dict(cur["tactics"]), dict(prev["tactics"])
    tactics = [{"tactic": t, **delta(tactics_c.get(t, 0), tactics_p.get(t, 0))}
               for t in sorted(set(tactics_c) | set(tactics_p))]
    return {"total": delta(cur["total"], prev["total"]),
            "by_severity": [{"severity": s, **delta(cur["severity"].get(s, 0), prev["severity"].get(s, 0))}
                            for s in severities],
            "by_tactic": sorted(tactics, key=lambda r: (-r["current"], r["tactic"])),
            "by_rule": cur["rules"], "per_day": {d: int(cur["per_day"].get(d, 0)) for d in week.days()},
            "late": int(cur.get("late", 0)),
            "attackers": cur["sources"]}


def _incidents(i: dict[str, dict[str, Any]]) -> dict[str, Any]:
    cur, prev = i["current"], i["previous"]
    out = {k: delta(cur[k], prev[k]) for k in ("opened", "acknowledged", "resolved", "open_at_end",
                                                "mtta_seconds", "mttr_seconds", "ack_breaches", "resolve_breaches")}
    return out | {"opened_by_severity": cur["opened_by_severity"], "resolutions": cur["resolutions"]}


def _notable(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for doc in docs:
        comments = doc.get("comments") or []
        note = str(comments[-1].get("text") or "")[:NOTE_LIMIT] if comments else ""
        out.append({"id": doc["id"], "title": doc.get("title", ""), "severity": doc.get("severity"),
                    "status": doc.get("status"), "resolution": doc.get("resolution"),
                    "agency": (doc.get("organization") or {}).get("id"), "created": doc.get("created"),
                    "first_seen": doc.get("first_seen"),
                    "late_hours": round(float(doc.get("detection_delay_s") or 0) / 3600, 1)
                    if float(doc.get("detection_delay_s") or 0) > LATE_NOTICE_S else None,
                    "resolved_at": doc.get("resolved_at"), "alert_count": doc.get("alert_count", 0),
                    "entities": list(doc.get("entities") or [])[:5], "note": note})
    return out


def _headline(content: dict[str, Any]) -> list[dict[str, Any]]:
    inc = content["incidents"]
    rows = [("m_events", content["events"]["total"]), ("m_alerts", content["alerts"]["total"]),
            *((f"m_{k}", inc[k]) for k in ("opened", "acknowledged", "resolved", "open_at_end")),
            ("m_mtta", inc["mtta_seconds"]), ("m_mttr", inc["mttr_seconds"]),
            ("m_ack_breaches", inc["ack_breaches"]), ("m_resolve_breaches", inc["resolve_breaches"])]
    return [{"metric": key, **value} for key, value in rows]


def build(client: OpenSearch, names: Names, week: Week, agency: str | None, lang: str, rs: ReportSettings,
          now: datetime | None = None) -> dict[str, Any]:
    """The whole report for one week and scope; a handful of aggregation requests, whatever the volume."""
    now = now or datetime.now(UTC)
    prev = week.previous()
    weeks = {"current": (week.start, week.end), "previous": (prev.start, prev.end)}
    known = agency_store.by_id(client, names)
    content: dict[str, Any] = {"report": {
        "week": week.label, "start": week.start.isoformat(), "end": week.end.isoformat(), "timezone": week.tz,
        "first_day": week.days()[0], "last_day": week.days()[-1],
        "scope": "agency" if agency else "province", "lang": lang, "generated": now.isoformat(),
        "agency": ({"id": agency, "name_vi": agency_name(known.get(agency), agency, "vi"),
                    "name_en": agency_name(known.get(agency), agency, "en")} if agency else None)}}
    content["events"] = _events(store.events_by_agency_source(client, names, agency, weeks), known, agency, lang)
    content["source_health"] = _health(client, names, agency, week, now, content["events"], rs.degraded_ratio)
    alerts = _alerts(alert_store.weekly(client, names, agency, weeks, rs.top_n, week.tz), week)
    attackers = alerts.pop("attackers")
    content["alerts"] = alerts
    content["incidents"] = _incidents(incident_store.weekly(client, names, agency, weeks))
    found = store.targets(client, names, agency, week.start, week.end, [a["ip"] for a in attackers], rs.top_n)
    content["top"] = {"attackers": attackers,
                      **{k: [{"value": v, "count": n} for v, n in rows] for k, rows in found.items()}}
    content["origins"] = alert_store.origins(client, names, agency, week.start, week.end, rs.top_n)
    content["notable"] = _notable(incident_store.notable_incidents(client, names, agency, week.start, week.end,
                                                          rs.notable_limit))
    total, items = audit_store.rule_changes(client, names, agency, week.start, week.end, rs.changes_limit)
    content["changes"] = {"total": total, "items": [
        {"at": e.get("@timestamp"), "actor": e.get("actor"), "action": e.get("action"),
         "object_type": e.get("object_type"), "object_id": e.get("object_id"),
         "agency": (e.get("organization") or {}).get("id"), "summary": e.get("summary", "")} for e in items]}
    content["deltas"] = _headline(content)
    return content
