"""The hunt API's request and response models (the search contract keeps these names exactly)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from soc.search import AGENCY_ID_PATTERN

MAX_PAGE = 500
MAX_EXPORT = 10_000
MAX_FACETS = 10
FieldName = Field(max_length=100)


class Window(BaseModel):
    """An event-time window; naive times are UTC."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    start: datetime | None = Field(default=None, alias="from", description="events at or after (ISO-8601)")
    end: datetime | None = Field(default=None, alias="to", description="events before (ISO-8601); default now")
    agency: str | None = Field(default=None, pattern=AGENCY_ID_PATTERN, description="only this agency's events")

    @field_validator("start", "end")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.start is not None and self.end is not None and self.start >= self.end:
            raise ValueError("'from' must be before 'to'")
        return self


class SearchIn(Window):
    query: str = Field(default="", max_length=4000, description="the search language (see README)")
    size: int = Field(default=50, ge=1, le=MAX_PAGE)
    sort: str = Field(default="-@timestamp", max_length=100, description="a field, '-' first for descending")
    facets: list[str] = Field(default_factory=list, max_length=MAX_FACETS)
    histogram: bool = False
    cursor: str | None = Field(default=None, max_length=4000)


class ExportIn(Window):
    query: str = Field(default="", max_length=4000)
    sort: str = Field(default="-@timestamp", max_length=100)
    limit: int = Field(default=1000, ge=1, le=MAX_EXPORT, description=f"rows, at most {MAX_EXPORT}")
    fields: list[str] = Field(default_factory=list, max_length=50, description="columns (default: a standard set)")


class Bucket(BaseModel):
    t: str
    count: int


class Value(BaseModel):
    value: Any
    count: int


class SearchOut(BaseModel):
    total: int
    items: list[dict[str, Any]]
    next: str | None
    histogram: list[Bucket]
    facets: dict[str, list[Value]]
    timed_out: bool = False


class SavedIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    query: str = Field(default="", max_length=4000)
    facets: list[str] = Field(default_factory=list, max_length=MAX_FACETS)
    sort: str = Field(default="-@timestamp", max_length=100)
    shared: bool = Field(default=False, description="visible to everyone of the agency")
    agency: str | None = Field(default=None, pattern=AGENCY_ID_PATTERN,
                               description="the agency it belongs to (default: the caller's only agency)")


class SavedOut(SavedIn):
    id: str
    owner: str
    created: str


class PreviewIn(Window):
    rule: str = Field(min_length=1, max_length=65_536, description="Sigma YAML: a rule, or a correlation and its rules")
    size: int = Field(default=20, ge=0, le=200, description="matches (or episodes) to return")


class PreviewOut(BaseModel):
    total: int
    by_entity: list[dict[str, Any]]
    per_day: list[dict[str, Any]]
    items: list[dict[str, Any]]
    rules: list[dict[str, Any]]
