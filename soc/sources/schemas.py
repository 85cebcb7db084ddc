"""API schemas of sources (separate from the stored document)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from soc.search import AGENCY_ID_PATTERN

Host = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9.:\-]{0,252}$")]


class SourceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agency: Annotated[str, StringConstraints(pattern=AGENCY_ID_PATTERN)]
    type: Literal["syslog", "nginx", "apache"]
    name: Annotated[str, StringConstraints(min_length=1, max_length=120, strip_whitespace=True)]
    host: Host | None = None
    expected_rate: float | None = Field(default=None, gt=0, description="events per minute")
    silence_after: int = Field(default=60, ge=1, le=10080, description="minutes without events before silent")
    collector_address: Host | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    protocol: Literal["tls", "tcp", "udp"] = "tls"
    log_path: Annotated[str, StringConstraints(pattern=r"^/[A-Za-z0-9._/\-]{1,400}$")] | None = None


class CollectorOut(BaseModel):
    id: str
    address: str | None = None
    port: int | None = None
    protocol: str | None = None


class SourceOut(BaseModel):
    id: str
    agency: str
    type: str
    name: str
    host: str | None = None
    expected_rate: float | None = None
    silence_after: int
    log_path: str | None = None
    created: str
    collector: CollectorOut

    @classmethod
    def of(cls, doc: dict[str, Any]) -> SourceOut:
        return cls(id=doc["id"], agency=doc["organization"]["id"], type=doc["type"], name=doc["name"],
                   host=doc.get("host"), expected_rate=doc.get("expected_rate"),
                   silence_after=int(doc.get("silence_after_minutes") or 60), log_path=doc.get("log_path"),
                   created=doc["created"], collector=CollectorOut(**doc["collector"]))


class OnboardedOut(BaseModel):
    source: SourceOut
    files: dict[str, str] = Field(description="file name -> ready-to-use configuration")


class HealthOut(BaseModel):
    source_id: str
    agency: str
    type: str
    name: str
    state: Literal["healthy", "degraded", "silent", "unknown"]  # unknown: events of an unregistered sender
    reasons: list[str]
    last_event: str | None
    last_event_time: str | None
    rate_hour: float
    rate_day: float
    expected_rate: float | None
    parse_failure_rate: float | None
    late_events: int = 0  # last day: older than the lateness bound on arrival (stored, not correlated)
    future_events: int = 0  # last day: times in the future, clamped to arrival
    timeless_events: int = 0  # last day: no readable time, arrival time used
    heartbeat_age_s: float | None
    silent_for_s: float | None


class RuleRow(BaseModel):
    rule_id: str
    title: str
    fields: list[str]
    missing: list[str]
    reason: str


class CoverageOut(BaseModel):
    agency: str
    type: str
    sources: list[str]
    events: int
    can_fire: list[RuleRow]
    cannot_fire: list[RuleRow]
    unsupported: list[RuleRow]
