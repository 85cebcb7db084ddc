"""API schemas of incidents (separate from the stored documents); suppression rules have theirs in soc.suppressions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

Status = Literal["new", "acknowledged", "in_progress", "resolved", "closed"]
Resolution = Literal["true_positive", "false_positive", "benign", "duplicate"]
Severity = Literal["informational", "low", "medium", "high", "critical"]
Outcome = Literal["compromise_likely", "attempts_failed", "undetermined"]
Sort = Literal["-last_seen", "last_seen", "-created", "created", "-severity", "severity", "-alert_count"]
ID_PATTERN = r"^[A-Za-z0-9_.\-]{1,64}$"
Ident = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.@\-]{1,64}$")]
Agency = Annotated[str, StringConstraints(pattern=r"^(\*|[A-Za-z0-9_.\-]{1,64})$")]
Text = Annotated[str, StringConstraints(min_length=1, max_length=10_000, strip_whitespace=True)]


def _aware(value: datetime) -> datetime:
    """In UTC (naive times are taken as UTC), within years OpenSearch dates handle well."""
    try:
        value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    except (OverflowError, ValueError):
        raise ValueError("the time is out of range") from None
    if not 1970 <= value.year <= 2999:
        raise ValueError("the time must be between the years 1970 and 2999")
    return value


When = Annotated[datetime, AfterValidator(_aware)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SlaOut(BaseModel):
    ack_due: str | None = None
    resolve_due: str | None = None
    ack_breached: bool = False
    resolve_breached: bool = False


class HistoryOut(BaseModel):
    status: str | None
    at: str
    actor: str


class CommentOut(BaseModel):
    id: str
    at: str
    author: str
    text: str


class IncidentOut(BaseModel):
    id: str
    version: str = Field(description="send it back unchanged with a PATCH (optimistic concurrency)")
    title: str
    status: Status
    resolution: Resolution | None = None
    severity: Severity
    assignee: str | None = None
    agency: str
    rule_ids: list[str]
    alert_count: int
    first_seen: str
    last_seen: str
    tags: list[str]
    entities: list[str]
    created: str
    updated: str
    acknowledged_at: str | None = None
    resolved_at: str | None = None
    closed_at: str | None = None
    tta_seconds: int | None = None
    ttr_seconds: int | None = None
    sla: SlaOut
    merged_into: str | None = None
    merged_from: list[str] = []
    outcome: Outcome | None = Field(None, description="whether the attacks worked, from the alerts' outcomes")
    outcome_reasons: list[str] = []
    history: list[HistoryOut] | None = None
    comments: list[CommentOut] | None = None

    @classmethod
    def of(cls, doc: dict[str, Any], version: object, full: bool = True) -> IncidentOut:
        fields = {k: v for k, v in doc.items() if k in _INCIDENT_COPIED}
        extra: dict[str, Any] = {"history": doc.get("history", []), "comments": doc.get("comments", [])} if full else {}
        return cls(**fields, **extra, version=str(version), agency=doc["organization"]["id"],
                   sla=SlaOut(**(doc.get("sla") or {})))


# Stored fields copied as they are (looked up once: reading model_fields per field costs a list page ~1 ms).
_INCIDENT_COPIED = frozenset(IncidentOut.model_fields) - {"history", "comments", "sla", "version", "agency"}


def _plain_fields(model: type[BaseModel]) -> tuple[tuple[str, bool, Any], ...]:
    """(name, required, default) of each field, in the model's order."""
    return tuple((name, f.is_required(), None if f.is_required() else f.get_default(call_default_factory=True))
                 for name, f in model.model_fields.items())


_INCIDENT_FIELDS = _plain_fields(IncidentOut)
_SLA_FIELDS = _plain_fields(SlaOut)
_HISTORY_KEYS = tuple(HistoryOut.model_fields)
_COMMENT_KEYS = tuple(CommentOut.model_fields)


def incident_dict(doc: dict[str, Any], version: object, full: bool = True) -> dict[str, Any]:
    """What ``IncidentOut.of(doc, version, full).model_dump()`` gives, built without validating.

    The hot endpoints send this (serialized with orjson) instead of building the model: the
    stored documents are written by this service only, and validating a page of 50 cost more CPU
    than the search that found them. ``tests/incidents/test_fast_json.py`` holds both equal.
    """
    sla = doc.get("sla") or {}
    out: dict[str, Any] = {}
    for name, required, default in _INCIDENT_FIELDS:
        if name == "version":
            out[name] = str(version)
        elif name == "agency":
            out[name] = doc["organization"]["id"]
        elif name == "sla":
            out[name] = {k: sla.get(k, d) for k, _, d in _SLA_FIELDS}
        elif name == "history":
            out[name] = [{k: h.get(k) for k in _HISTORY_KEYS} for h in doc.get("history", [])] if full else None
        elif name == "comments":
            out[name] = [{k: c.get(k) for k in _COMMENT_KEYS} for c in doc.get("comments", [])] if full else None
        elif required:
            out[name] = doc[name]
        else:
            value = doc.get(name, default)
            out[name] = list(value) if isinstance(value, list) else value
    return out


class IncidentPage(BaseModel):
    items: list[IncidentOut]
    next_cursor: str | None
    total: int = Field(description="matching incidents (counted exactly up to 10,000)")


class IncidentPatch(Strict):
    version: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,18}-[0-9]{1,18}$")]
    status: Status | None = None
    resolution: Resolution | None = None
    assignee: Name | None = None
    severity: Severity | None = None
    title: Annotated[str, StringConstraints(min_length=1, max_length=300)] | None = None


class CommentIn(Strict):
    text: Text


class BulkIn(Strict):
    ids: Annotated[list[Ident], Field(min_length=1, max_length=500)]
    action: Literal["acknowledge", "start", "assign", "resolve", "close"]
    assignee: Name | None = None
    resolution: Resolution | None = None


class BulkItem(BaseModel):
    id: str
    ok: bool
    version: str | None
    error: str | None


class BulkOut(BaseModel):
    items: list[BulkItem]


class MergeIn(Strict):
    sources: Annotated[list[Ident], Field(min_length=1, max_length=50)]


class UnmergeIn(Strict):
    source: Ident


class Page(BaseModel):
    items: list[dict[str, Any]]
    next_cursor: str | None


class ContextPage(Page):
    start: str
    end: str


class Metrics(BaseModel):
    incidents: int
    mtta_seconds: float | None
    mttr_seconds: float | None
    acknowledged: int
    resolved: int
    ack_breached: int
    resolve_breached: int
    by_status: dict[str, int]
