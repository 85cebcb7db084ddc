"""API schemas of threat intelligence (separate from the stored indicator document)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints


class ImportOut(BaseModel):
    feed: str
    format: str
    read: int = Field(description="indicators in the input (a repeated one counts once)")
    created: int
    updated: int
    expired: int = Field(description="already past their end when imported: stored, never matched")
    notes: list[str] = Field(description="what was not imported and why (unsupported patterns, attribute types)")


class IndicatorOut(BaseModel):
    id: str
    feed: str
    type: str
    name: str
    confidence: int | None = None
    valid_from: str | None = None
    valid_until: str | None = None
    first_import: str | None = None
    last_import: str | None = None
    source_ref: str = ""
    description: str = ""
    retro_done: bool = False

    @classmethod
    def of(cls, doc: dict[str, Any]) -> IndicatorOut:
        fields = {k: doc.get(k) for k in cls.model_fields if k != "retro_done" and doc.get(k) is not None}
        return cls.model_validate(fields | {"retro_done": bool((doc.get("retro") or {}).get("done"))})


class IndicatorPage(BaseModel):
    total: int
    items: list[IndicatorOut]


IndicatorId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{40}$")]
FeedName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]


class RemoveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[IndicatorId] = Field(default_factory=list, max_length=10000, description="ids as listed")
    feed: FeedName | None = Field(default=None, description="or every indicator of this feed")


class RemoveOut(BaseModel):
    removed: int


class FeedIn(BaseModel):
    """A feed to pull from a URL on a schedule."""

    model_config = ConfigDict(extra="forbid")
    name: FeedName
    url: Annotated[str, StringConstraints(min_length=1, max_length=2048)]
    format: str = Field("auto", description="auto, stix, misp, csv or list")
    interval: str = Field("1h", description="seconds, or a number followed by m, h or d (15m, 6h, 1d)")
    expires_days: float = Field(90.0, ge=0, le=3650, description="validity of indicators that carry none")
    confidence: int | None = Field(None, ge=0, le=100, description="given to indicators that carry none")
    auth_env: str | None = Field(None, description="environment variable (SOC_FEED_*) holding the header's value")
    auth_header: str = "Authorization"
    withdraw: bool = Field(True, description="indicators the feed no longer lists stop matching after a pull")


class FeedOut(BaseModel):
    name: str
    url: str
    format: str
    interval_s: int
    expires_days: float
    confidence: int | None = None
    auth_env: str | None = None
    auth_header: str = "Authorization"
    withdraw: bool = True
    created: str | None = None
    created_by: str = ""
    last: dict[str, Any] = Field(default_factory=dict, description="the last pull: attempt, status, error, counts")

    @classmethod
    def of(cls, doc: dict[str, Any]) -> FeedOut:
        return cls.model_validate({k: doc[k] for k in cls.model_fields if doc.get(k) is not None})


class PullOut(BaseModel):
    feed: str
    status: str = Field(description="imported, unchanged (HTTP 304) or failed")
    error: str | None = None
    http_status: int | None = None
    read: int = 0
    created: int = 0
    updated: int = 0
    withdrawn: int = Field(0, description="indicators the feed no longer lists, ended by this pull")
    notes: list[str] = Field(default_factory=list)
