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
