"""API schemas of threat intelligence (separate from the stored indicator document)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


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


class RemoveIn(BaseModel):
    ids: list[str] = Field(default_factory=list, max_length=10000)
    feed: str | None = None


class RemoveOut(BaseModel):
    removed: int
