"""API schemas of agencies (separate from the stored document)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from soc.search import AGENCY_ID_PATTERN

AgencyId = Annotated[str, StringConstraints(pattern=AGENCY_ID_PATTERN)]
Label = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Contact = Annotated[str, StringConstraints(min_length=3, max_length=200, strip_whitespace=True)]
Address = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9.:\-]{0,252}$")]


class AgencyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: AgencyId
    name_vi: Label
    name_en: Label
    timezone: str = "Asia/Ho_Chi_Minh"
    contacts: list[Contact] = Field(default_factory=list, max_length=20)
    collector_address: Address | None = Field(
        default=None, description="the host name agency servers send logs to (their collector)")


class AgencyOut(BaseModel):
    id: str
    name_vi: str
    name_en: str
    timezone: str
    contacts: list[str]
    collector_address: str | None = None
    created: str | None = None

    @classmethod
    def of(cls, doc: dict[str, Any]) -> AgencyOut:
        return cls.model_validate({k: doc.get(k) for k in cls.model_fields} | {"contacts": doc.get("contacts") or []})
