"""API schemas of suppression rules, named after their HTTP resource ``/exceptions`` (a contract).

Separate from the stored document (soc.suppressions.store).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from soc.incidents.schemas import Name, Strict, When


class ConditionIn(Strict):
    field: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    op: Literal["equals", "contains", "startswith", "endswith", "cidr"]
    value: Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class ExceptionIn(Strict):
    rule_id: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    conditions: Annotated[list[ConditionIn], Field(min_length=1, max_length=20)]
    owner: Name
    reason: Annotated[str, StringConstraints(min_length=3, max_length=2000)]
    expires: When
    scope: Literal["agency", "all"] = Field(
        default="agency", description="agency: only the incident's agency (default); all: every agency, "
                                      "which only an admin of every agency may choose")


class ExceptionOut(BaseModel):
    id: str
    rule_id: str
    agency: str
    conditions: list[ConditionIn]
    enabled: bool
    expires: str
    owner: str
    reason: str
    incident_id: str | None = None
    hits: int = 0
    last_hit: str | None = None
    created: str
    created_by: str | None = None

    @classmethod
    def of(cls, doc: dict[str, Any]) -> ExceptionOut:
        return cls(**{k: v for k, v in doc.items() if k in cls.model_fields}, agency=doc["organization"]["id"])


class ExceptionPage(BaseModel):
    items: list[ExceptionOut]
    next_cursor: str | None
