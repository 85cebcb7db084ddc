"""Producing, storing, listing and serving reports; the CLI, the API and the weekly job call these.

Files land in ``<out_dir>/<week>/<report id>.<format>``; the stored document keeps the JSON
content too, so a file that is gone can be rendered again from it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from opensearchpy import OpenSearch

from soc.api.costly import Budget, Recent, shared
from soc.auth import Principal
from soc.errors import Conflict, Forbidden, Invalid, NotFound
from soc.reports import content as report_content
from soc.reports import render_csv, render_html, render_pdf, store
from soc.reports.period import Week
from soc.reports.schemas import PROVINCE, report_id
from soc.reports.settings import FORMATS, LANGS, ReportSettings
from soc.search import Names

AGENCY_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
MEDIA_TYPES = {"html": "text/html; charset=utf-8", "pdf": "application/pdf",
               "json": "application/json", "csv": "text/csv; charset=utf-8"}


RENDERED_TTL_S = 600.0  # a rendered file is served again for this long (the content of a report id only
RENDERED_MAX = 16       # changes when it is produced again, and then its creation time changes the key)
RENDERS_PER_MINUTE = 20  # renders (cache misses) per caller
GENERATIONS_PER_10_MIN = 10  # on-demand productions per caller


class _Costly:
    """This process's cache of rendered files and the callers' budgets, made on first use."""

    def __init__(self) -> None:
        self.rendered: Recent[bytes] = Recent(RENDERED_TTL_S, RENDERED_MAX)
        self.renders = Budget(RENDERS_PER_MINUTE, 60, "rendering reports")
        self.generations = Budget(GENERATIONS_PER_10_MIN, 600, "producing reports on demand")


def costly() -> _Costly:
    return shared("reports", _Costly)


@dataclass(frozen=True)
class Produced:
    doc: dict[str, Any]
    paths: dict[str, Path]


def check_request(agency: str | None, lang: str, formats: list[str] | tuple[str, ...]) -> None:
    if agency is not None and not AGENCY_RE.match(agency):
        raise Invalid(f"agency {agency!r} is not a valid agency id")
    if lang not in LANGS:
        raise Invalid(f"lang must be one of {', '.join(LANGS)}")
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise Invalid(f"formats must be among {', '.join(FORMATS)}")


def render(content: dict[str, Any], fmt: str) -> bytes:
    if fmt == "json":
        return json.dumps(content, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8")
    if fmt == "csv":
        return render_csv.render(content).encode("utf-8-sig")  # the BOM lets spreadsheets read UTF-8
    html = render_html.render(content)
    return html.encode("utf-8") if fmt == "html" else render_pdf.render(html)


def produce(client: OpenSearch, names: Names, rs: ReportSettings, week: Week, agency: str | None, lang: str,
            formats: list[str] | tuple[str, ...], trigger: str, now: datetime | None = None,
            out_dir: Path | None = None) -> Produced:
    """Compute, render, write the files and store the document (replacing the same report if any)."""
    check_request(agency, lang, formats)
    now = now or datetime.now(UTC)
    content = report_content.build(client, names, week, agency, lang, rs, now)
    rid = report_id(week.label, agency, lang)
    folder = (out_dir or rs.out_dir) / week.label
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    html: str | None = None
    for fmt in formats:
        if fmt in ("html", "pdf"):
            html = html or render_html.render(content)
            data = html.encode("utf-8") if fmt == "html" else render_pdf.render(html)
        else:
            data = render(content, fmt)
        path = folder / f"{rid}.{fmt}"
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
        paths[fmt] = path
    doc = _document(rid, week, agency, lang, formats, trigger, now, content, paths)
    store.save_report(client, names, doc)
    return Produced(doc, paths)


def _document(rid: str, week: Week, agency: str | None, lang: str, formats: list[str] | tuple[str, ...],
              trigger: str, now: datetime, content: dict[str, Any], paths: dict[str, Path]) -> dict[str, Any]:
    return {"id": rid, "created": now.isoformat(), "week": week.label, "week_start": week.start.isoformat(),
            "week_end": week.end.isoformat(), "scope": "agency" if agency else "province",
            "organization": {"id": agency or PROVINCE}, "lang": lang, "formats": list(formats), "trigger": trigger,
            "files": {fmt: str(p) for fmt, p in paths.items()},
            "summary": {"events": content["events"]["total"]["current"],
                        "alerts": content["alerts"]["total"]["current"],
                        "incidents_opened": content["incidents"]["opened"]["current"],
                        "open_at_end": content["incidents"]["open_at_end"]["current"]},
            "content": content}


# Reading, within the caller's scope: a province-wide report is for principals of every agency.

def _visible(who: Principal, doc: dict[str, Any]) -> bool:
    agency = doc["organization"]["id"]
    return who.everywhere or (agency != PROVINCE and who.sees(agency))


MAX_WINDOW = 10_000  # OpenSearch's index.max_result_window: a page must end within it


def list_for(client: OpenSearch, names: Names, who: Principal, week: str | None, agency: str | None,
             limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
    who.require_reader()
    if offset + limit > MAX_WINDOW:
        raise Invalid(f"offset + limit must be at most {MAX_WINDOW} (narrow the listing by week or agency)")
    filters: list[dict[str, Any]] = who.scope_filter()
    if week:
        filters.append({"term": {"week": week}})
    if agency:
        filters.append({"term": {"organization.id": agency}})
    return store.list_reports(client, names, filters, limit, offset)


def get_for(client: OpenSearch, names: Names, who: Principal, rid: str) -> dict[str, Any]:
    who.require_reader()
    doc = store.get_report(client, names, rid)
    if doc is None or not _visible(who, doc):
        raise NotFound(f"report {rid!r} does not exist")
    return doc


def file_for(client: OpenSearch, names: Names, who: Principal, rid: str, fmt: str) -> tuple[bytes, str, str]:
    """(bytes, media type, file name): the stored file when it is there, else rendered from the content."""
    if fmt not in FORMATS:
        raise NotFound(f"format {fmt!r} does not exist (formats: {', '.join(FORMATS)})")
    doc = get_for(client, names, who, rid)
    stored = (doc.get("files") or {}).get(fmt)
    path = Path(stored) if stored else None
    if path is not None and path.is_file():
        return path.read_bytes(), MEDIA_TYPES[fmt], f"{rid}.{fmt}"

    def make() -> bytes:
        costly().renders.spend(who.name)  # only a render that is not cached costs the caller
        return render(doc["content"], fmt)

    data = costly().rendered.get((names.reports, rid, doc.get("created"), fmt), make)
    return data, MEDIA_TYPES[fmt], f"{rid}.{fmt}"


def generate_for(client: OpenSearch, names: Names, who: Principal, rs: ReportSettings, week: Week,
                 agency: str | None, lang: str) -> dict[str, Any]:
    """On demand through the API: analysts for their agencies, the province-wide one for every-agency roles.

    Only the content is stored, no file is written: a request never waits for a PDF, which is
    rendered when downloaded. A report the schedule or an operator produced is never replaced
    this way (409): the check and the write are one scripted update.
    """
    who.require_writer()
    if agency is None and not who.everywhere:
        raise Forbidden("only a principal of every agency can produce the province-wide report")
    if agency is not None:
        who.require_visible(agency, "agency", agency)
    check_request(agency, lang, ("json",))
    rid = report_id(week.label, agency, lang)
    existing = store.get_report(client, names, rid)
    if existing is not None and existing.get("trigger") != "api":
        raise Conflict(_kept(rid, existing))
    costly().generations.spend(who.name)
    now = datetime.now(UTC)
    content = report_content.build(client, names, week, agency, lang, rs, now)
    doc = _document(rid, week, agency, lang, ("json",), "api", now, content, {})
    if not store.save_on_demand(client, names, doc):
        raise Conflict(_kept(rid, store.get_report(client, names, rid) or {}))
    return doc


def _kept(rid: str, existing: dict[str, Any]) -> str:
    return (f"report {rid} was produced by {existing.get('trigger') or 'the schedule'} at "
            f"{existing.get('created')}; it is kept, not replaced on demand")
