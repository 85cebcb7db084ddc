"""The saved objects (index patterns, visualizations, dashboards) declared as data.

``build()`` turns the declarations into the saved-object documents Dashboards imports. The
committed files under ``dashboards/`` are its output; a test checks they are current and that
every field a visualization uses exists in the service's index templates.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

DASHBOARDS_VERSION = "2.19.0"


@dataclass(frozen=True)
class IndexPattern:
    id: str
    title: str
    time_field: str


@dataclass(frozen=True)
class Agg:
    type: str  # count, terms, date_histogram, cardinality
    schema: str  # metric, segment, group, bucket
    field: str | None = None
    size: int = 10


@dataclass(frozen=True)
class Vis:
    id: str
    title: str
    type: str  # line, histogram, pie, table, horizontal_bar, metric
    pattern: str  # index pattern id
    aggs: tuple[Agg, ...]
    query: str = ""  # DQL filter of the visualization
    description: str = ""


@dataclass(frozen=True)
class Dashboard:
    id: str
    title: str
    panels: tuple[str, ...]  # visualization ids, laid out two per row
    description: str = ""
    query: str = ""


PATTERNS = (
    IndexPattern("soc-logs", "logs-*", "@timestamp"),
    IndexPattern("soc-logs-web", "logs-web-*", "@timestamp"),  # every agency's data stream
    IndexPattern("soc-logs-syslog", "logs-syslog-*", "@timestamp"),
    IndexPattern("soc-alerts", "soc-alerts", "created"),
    IndexPattern("soc-incidents", "soc-incidents", "created"),
)

COUNT = Agg("count", "metric")
OVER_TIME = Agg("date_histogram", "segment", "@timestamp")

VISUALIZATIONS = (
    Vis("soc-events-by-agency", "Events over time by agency", "histogram", "soc-logs",
        (COUNT, OVER_TIME, Agg("terms", "group", "organization.id", 20))),
    Vis("soc-top-source-ip", "Top source addresses", "table", "soc-logs",
        (COUNT, Agg("terms", "bucket", "source.ip", 20), Agg("terms", "bucket", "organization.id", 3))),
    Vis("soc-http-status", "HTTP status mix", "pie", "soc-logs-web",
        (COUNT, Agg("terms", "segment", "http.response.status_code", 15))),
    Vis("soc-web-4xx-5xx", "Web errors over time (4xx and 5xx)", "histogram", "soc-logs-web",
        (COUNT, OVER_TIME, Agg("terms", "group", "http.response.status_code", 10)),
        query="http.response.status_code >= 400"),
    Vis("soc-web-top-paths", "Most requested paths with errors", "table", "soc-logs-web",
        (COUNT, Agg("terms", "bucket", "url.path", 25)), query="http.response.status_code >= 400"),
    Vis("soc-web-user-agents", "Top user agents", "table", "soc-logs-web",
        (COUNT, Agg("terms", "bucket", "user_agent.original", 20))),
    Vis("soc-ssh-failures", "SSH authentication failures", "histogram", "soc-logs-syslog",
        (COUNT, OVER_TIME, Agg("terms", "group", "source.ip", 10)),
        query='process.name:sshd and event.outcome:failure'),
    Vis("soc-ssh-failed-users", "SSH failures by user name", "table", "soc-logs-syslog",
        (COUNT, Agg("terms", "bucket", "user.name", 20), Agg("cardinality", "metric", "source.ip")),
        query='process.name:sshd and event.outcome:failure'),
    Vis("soc-alerts-by-severity", "Alerts by severity", "pie", "soc-alerts",
        (COUNT, Agg("terms", "segment", "severity", 5))),
    Vis("soc-alerts-by-rule", "Alerts by rule", "table", "soc-alerts",
        (COUNT, Agg("terms", "bucket", "rule.name.keyword", 25), Agg("terms", "bucket", "severity", 5))),
    Vis("soc-incidents-by-status", "Incidents by status", "pie", "soc-incidents",
        (COUNT, Agg("terms", "segment", "status", 10))),
    Vis("soc-incidents-by-agency", "Open incidents by agency and severity", "table", "soc-incidents",
        (COUNT, Agg("terms", "bucket", "organization.id", 41), Agg("terms", "bucket", "severity", 5)),
        query="not status:closed and not status:resolved"),
)

DASHBOARDS = (
    Dashboard("soc-overview", "SOC overview",
              ("soc-events-by-agency", "soc-alerts-by-severity", "soc-alerts-by-rule", "soc-incidents-by-status",
               "soc-incidents-by-agency", "soc-top-source-ip", "soc-ssh-failures", "soc-ssh-failed-users"),
              "Ingest, alerts and incidents across all agencies"),
    Dashboard("soc-web-attacks", "Web attacks",
              ("soc-http-status", "soc-web-4xx-5xx", "soc-web-top-paths", "soc-web-user-agents",
               "soc-top-source-ip"),
              "Access-log view: error bursts, probed paths, scanner user agents"),
)

_SEARCH_REF = "kibanaSavedObjectMeta.searchSourceJSON.index"


def _agg_doc(i: int, agg: Agg) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if agg.type == "terms":
        params = {"field": agg.field, "size": agg.size, "order": "desc", "orderBy": "1",
                  "otherBucket": False, "missingBucket": False}
    elif agg.type == "date_histogram":
        params = {"field": agg.field, "interval": "auto", "min_doc_count": 1, "extended_bounds": {}}
    elif agg.type == "cardinality":
        params = {"field": agg.field}
    return {"id": str(i + 1), "enabled": True, "type": agg.type, "schema": agg.schema, "params": params}


def _vis_params(vis: Vis) -> dict[str, Any]:
    if vis.type == "pie":
        return {"type": "pie", "addTooltip": True, "addLegend": True, "legendPosition": "right", "isDonut": True,
                "labels": {"show": False, "values": True, "last_level": True, "truncate": 100}}
    if vis.type == "table":
        return {"perPage": 20, "showPartialRows": False, "showMetricsAtAllLevels": False, "showTotal": False,
                "totalFunc": "sum", "percentageCol": ""}
    return {
        "type": vis.type, "addTooltip": True, "addLegend": True, "legendPosition": "right", "times": [],
        "addTimeMarker": False, "grid": {"categoryLines": False},
        "categoryAxes": [{"id": "CategoryAxis-1", "type": "category", "position": "bottom", "show": True,
                          "style": {}, "scale": {"type": "linear"}, "labels": {"show": True, "filter": True,
                                                                                "truncate": 100}, "title": {}}],
        "valueAxes": [{"id": "ValueAxis-1", "name": "LeftAxis-1", "type": "value", "position": "left", "show": True,
                       "style": {}, "scale": {"type": "linear", "mode": "normal"},
                       "labels": {"show": True, "rotate": 0, "filter": False, "truncate": 100},
                       "title": {"text": "Count"}}],
        "seriesParams": [{"show": True, "type": "histogram", "mode": "stacked", "data": {"label": "Count", "id": "1"},
                          "valueAxis": "ValueAxis-1", "drawLinesBetweenPoints": True, "showCircles": True}],
    }


def _search_source(query: str, with_index: bool) -> str:
    source: dict[str, Any] = {"query": {"query": query, "language": "kuery"}, "filter": []}
    if with_index:
        source["indexRefName"] = _SEARCH_REF
    return json.dumps(source, sort_keys=True)


def build(prefix: str = "") -> list[dict[str, Any]]:
    """All saved objects, index patterns first (Dashboards resolves references in file order)."""
    out: list[dict[str, Any]] = []
    for p in PATTERNS:
        out.append({"type": "index-pattern", "id": p.id, "migrationVersion": {"index-pattern": "7.6.0"},
                    "attributes": {"title": prefix + p.title, "timeFieldName": p.time_field}, "references": []})
    for v in VISUALIZATIONS:
        state = {"title": v.title, "type": v.type, "params": _vis_params(v),
                 "aggs": [_agg_doc(i, a) for i, a in enumerate(v.aggs)]}
        out.append({"type": "visualization", "id": v.id, "migrationVersion": {"visualization": "7.10.0"},
                    "attributes": {"title": v.title, "description": v.description, "version": 1,
                                   "visState": json.dumps(state, sort_keys=True), "uiStateJSON": "{}",
                                   "kibanaSavedObjectMeta": {"searchSourceJSON": _search_source(v.query, True)}},
                    "references": [{"name": _SEARCH_REF, "type": "index-pattern", "id": v.pattern}]})
    for d in DASHBOARDS:
        panels = []
        for i, _vis_id in enumerate(d.panels):
            panels.append({"version": DASHBOARDS_VERSION, "panelIndex": str(i + 1), "embeddableConfig": {},
                           "gridData": {"x": (i % 2) * 24, "y": (i // 2) * 15, "w": 24, "h": 15, "i": str(i + 1)},
                           "panelRefName": f"panel_{i}"})
        out.append({"type": "dashboard", "id": d.id, "migrationVersion": {"dashboard": "7.9.3"},
                    "attributes": {"title": d.title, "description": d.description, "version": 1,
                                   "timeRestore": False, "hits": 0,
                                   "optionsJSON": json.dumps({"hidePanelTitles": False, "useMargins": True}),
                                   "panelsJSON": json.dumps(panels, sort_keys=True),
                                   "kibanaSavedObjectMeta": {"searchSourceJSON": _search_source(d.query, False)}},
                    "references": [{"name": f"panel_{i}", "type": "visualization", "id": vis_id}
                                   for i, vis_id in enumerate(d.panels)]})
    return out


def to_ndjson(objects: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(o, sort_keys=True, ensure_ascii=False) + "\n" for o in objects)
