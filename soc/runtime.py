"""What the service's parts share in one process: settings, the OpenSearch client and names, the
clock, policies, the notifier and the token cache.

``GroupingPolicy`` is re-exported here for callers that built it from this module.
Time is injected (``clock``) so SLA tests move it instead of sleeping.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from opensearchpy import OpenSearch

from soc import search
from soc.alerts.store import AlertStore
from soc.auth import PrincipalCache
from soc.config import Settings
from soc.incidents.notify import Notifier
from soc.incidents.policy import GroupingPolicy
from soc.incidents.sla import SlaPolicy
from soc.incidents.store import IncidentStore
from soc.search import Names

Clock = Callable[[], datetime]
__all__ = ["Clock", "GroupingPolicy", "Runtime", "utc_now"]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    settings: Settings
    client: OpenSearch
    names: Names
    clock: Clock = utc_now
    sla: SlaPolicy = field(default_factory=SlaPolicy)
    grouping: GroupingPolicy = field(default_factory=GroupingPolicy)
    notifier: Notifier | None = None
    # Token -> principal for a few seconds (revocations by other processes apply within its ttl).
    principals: PrincipalCache = field(default_factory=PrincipalCache)

    @classmethod
    def build(cls, settings: Settings, **kwargs: object) -> Runtime:
        # The API's client decodes and encodes with orjson: JSON is a large part of a request's CPU.
        client = search.client(settings, pool_maxsize=32, serializer=search.OrjsonSerializer())
        kwargs.setdefault("grouping", GroupingPolicy.from_settings(settings))
        return cls(settings, client, search.names(settings), **kwargs)  # type: ignore[arg-type]

    @property
    def incidents(self) -> IncidentStore:
        return IncidentStore(self.client, self.names)

    @property
    def alerts(self) -> AlertStore:
        return AlertStore(self.client, self.names)

    def publish(self, event: str, incident: dict[str, object], **extra: object) -> None:
        if self.notifier is not None:
            self.notifier.publish(event, incident, **extra)
