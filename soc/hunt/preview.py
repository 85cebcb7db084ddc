"""The rule lab: what a Sigma rule (or a correlation with its rules) would have raised over an
event-time window, computed with exactly the engine's pieces.

The YAML is loaded and validated by ``soc.detection.rules.load_file`` and converted by
``convert.compile_rules`` (the engine's backend, field mapping and DSL); a single rule's matches are
the hits of ``Compiled.searches()``, one per future alert; a correlation's base matches are turned
into ``Point`` s by ``correlation.to_points`` and judged into episodes by ``episodes.episodes`` under
``correlation.condition``, one per future alert, leaving out ``_late`` events as the engine does.
"""

from __future__ import annotations

import itertools
import tempfile
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from opensearchpy import OpenSearch

from soc.auth import Principal
from soc.detection import convert, correlation, episodes, rules
from soc.detection.alerting import ENTITY_FIELDS, correlation_key
from soc.errors import Invalid
from soc.hunt import store
from soc.hunt.schemas import PreviewIn
from soc.hunt.service import TIMEOUT, event, iso, scope, window
from soc.search import Names

PAGE = 10_000
MAX_POINTS = 200_000  # base matches of a correlation judged in one preview
TOP = 20


def load(text: str) -> list[convert.Result]:
    """The rules of a YAML text as the engine loads and converts them; Invalid with the reason otherwise."""
    with tempfile.TemporaryDirectory(prefix="soc-preview-") as folder:
        path = Path(folder) / "preview.yml"
        path.write_text(text, encoding="utf-8")
        try:
            loaded, problems = rules.load_file(path)
        except Exception as exc:  # the YAML library raises its own errors for broken YAML
            raise Invalid(f"rule: not a valid Sigma file: {type(exc).__name__}: {exc}"[:1000]) from None
    if problems:
        raise Invalid("rule: " + "; ".join(p.reason for p in problems)[:1000])
    if not loaded:
        raise Invalid("rule: the YAML holds no Sigma rule")
    results = convert.compile_rules(loaded)
    bad = [r for r in results if isinstance(r, convert.Unsupported)]
    if bad:
        raise Invalid("rule: " + "; ".join(f"{r.rule.title}: {r.reason}" for r in bad)[:1000])
    return results


def alerting(results: list[convert.Result]) -> list[convert.Compiled | convert.CompiledCorrelation]:
    """The rules that raise alerts (base rules a correlation hides with ``generate: false`` do not)."""
    hidden = convert.referenced_ids(results)
    return [r for r in results if not isinstance(r, convert.Unsupported) and r.rule.id not in hidden]


def preview(client: OpenSearch, names: Names, who: Principal, req: PreviewIn, now: datetime) -> dict[str, Any]:
    who.require_reader()
    start, end = window(req, now)
    filters = scope(who, req.agency, iso(start), iso(end))
    total = 0
    entities: Counter[str] = Counter()
    days: Counter[str] = Counter()
    items: list[dict[str, Any]] = []
    summary: list[dict[str, Any]] = []
    for res in alerting(load(req.rule)):
        if isinstance(res, convert.Compiled):
            n, found = _single(client, names, res, filters, req.size, entities, days)
        else:
            n, found = _correlation(client, names, res, filters, entities, days)
        total += n
        items += found
        summary.append({"id": res.rule.id, "title": res.rule.title, "level": res.rule.level, "alerts": n,
                        "kind": res.kind if isinstance(res, convert.CompiledCorrelation) else "match"})
    items.sort(key=lambda i: str(i.get("@timestamp") or i.get("first_seen")), reverse=True)
    return {"total": total, "by_entity": [{"entity": k, "count": c} for k, c in entities.most_common(TOP)],
            "per_day": [{"day": d, "count": days[d]} for d in sorted(days)], "items": items[:req.size],
            "rules": summary}


def _entity_aggs() -> dict[str, Any]:
    """Matches by the entity an alert is keyed on: the first of ENTITY_FIELDS an event has."""
    aggs: dict[str, Any] = {}
    for i, name in enumerate(ENTITY_FIELDS):
        before = [{"exists": {"field": f}} for f in ENTITY_FIELDS[:i]]
        aggs[f"e{i}"] = {"filter": {"bool": {"filter": [{"exists": {"field": name}}], "must_not": before}},
                         "aggs": {"v": {"terms": {"field": name, "size": TOP}}}}
    aggs["days"] = {"date_histogram": {"field": "@timestamp", "calendar_interval": "1d", "min_doc_count": 1,
                                       "format": "yyyy-MM-dd"}}
    return aggs


def _single(client: OpenSearch, names: Names, c: convert.Compiled, filters: list[dict[str, Any]], size: int,
            entities: Counter[str], days: Counter[str]) -> tuple[int, list[dict[str, Any]]]:
    total = 0
    items: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for part in c.searches():  # a split rule's parts are searched one by one, as the engine does
        body = {"size": size, "track_total_hits": True, "timeout": TIMEOUT, "sort": [{"@timestamp": "desc"}],
                "query": {"bool": {"filter": [*filters, part]}}, "aggs": _entity_aggs()}
        resp = store.search_logs(client, names, body)
        total += int(resp["hits"]["total"]["value"])
        aggs = resp.get("aggregations", {})
        for i, name in enumerate(ENTITY_FIELDS):
            for b in aggs.get(f"e{i}", {}).get("v", {}).get("buckets", []):
                entities[f"{name}={b['key']}"] += int(b["doc_count"])
        for b in aggs.get("days", {}).get("buckets", []):
            days[b["key_as_string"]] += int(b["doc_count"])
        for hit in resp["hits"]["hits"]:
            if (hit["_index"], hit["_id"]) not in seen:
                seen.add((hit["_index"], hit["_id"]))
                items.append({"rule": c.rule.id, **event(hit)})
    return total, items


def _points(client: OpenSearch, names: Names, corr: convert.CompiledCorrelation,
            filters: list[dict[str, Any]]) -> dict[tuple[Any, ...], list[dict[str, Any]]]:
    """Every base match in the window (not ``_late``), by group (agency + group-by values)."""
    fields = ["organization.id", *corr.group_by]
    wanted = list(dict.fromkeys(["@timestamp", *fields, *([corr.field] if corr.field else [])]))
    docvalues: list[Any] = [{"field": "@timestamp", "format": "epoch_millis"}, *wanted[1:]]
    body: dict[str, Any] = {
        "size": PAGE, "_source": False, "track_total_hits": False, "timeout": TIMEOUT, "docvalue_fields": docvalues,
        "sort": [{"@timestamp": "asc"}, {"_index": "asc"}, {"_seq_no": "asc"}],
        "query": {"bool": {"filter": filters, "minimum_should_match": 1, "must_not": [correlation.NOT_LATE],
                           "should": [{"bool": {"filter": [b.dsl()], "_name": f"b{i}"}}
                                      for i, b in enumerate(corr.bases)]}}}
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    count = 0
    while True:
        hits = store.search_logs(client, names, body)["hits"]["hits"]
        count += len(hits)
        if count > MAX_POINTS:
            raise Invalid(f"rule: more than {MAX_POINTS} matches of the correlation's rules in the window; "
                          "preview a shorter window or one agency")
        for hit in hits:
            values = [hit.get("fields", {}).get(f) or [] for f in fields]
            for group in itertools.product(*values):  # a group per value, as the engine's terms buckets
                groups[tuple(group)].append(hit)
        if len(hits) < PAGE:
            return groups
        body["search_after"] = hits[-1]["sort"]


def _correlation(client: OpenSearch, names: Names, corr: convert.CompiledCorrelation, filters: list[dict[str, Any]],
                 entities: Counter[str], days: Counter[str]) -> tuple[int, list[dict[str, Any]]]:
    cond = correlation.condition(corr)
    items: list[dict[str, Any]] = []
    for group, hits in _points(client, names, corr, filters).items():
        points = correlation.to_points(corr, hits)
        agency, key, as_dict = correlation_key(corr.rule.id, dict(zip(["organization.id", *corr.group_by], group,
                                                                        strict=True)))
        for ep in episodes.episodes(cond, points):
            first = correlation.iso_ms(ep.start)
            entities[key] += 1
            days[datetime.fromtimestamp(ep.start / 1000, UTC).strftime("%Y-%m-%d")] += 1
            items.append({"rule": corr.rule.id, "organization": {"id": agency}, "group_key": key, "group": as_dict,
                          "first_seen": first, "last_seen": correlation.iso_ms(ep.end), "event_count": len(ep.keys)})
    return len(items), items
