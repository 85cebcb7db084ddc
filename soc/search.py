"""The OpenSearch client and the names of every index and data stream (the only place they are spelled;
the log streams, dead letters and heartbeats a collector writes are named by collectors.contract.names)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson
from opensearchpy import OpenSearch
from opensearchpy.serializer import JSONSerializer

from collectors.contract.names import AGENCY_ID_PATTERN as AGENCY_ID_PATTERN
from collectors.contract.names import AGENCY_ID_RULE as AGENCY_ID_RULE
from collectors.contract.names import DEADLETTER as DEADLETTER
from collectors.contract.names import HEARTBEATS, StreamNames
from collectors.contract.names import LOG_STREAMS as LOG_STREAMS
from collectors.contract.names import check_agency_id as check_agency_id
from collectors.contract.names import is_agency_id as is_agency_id
from collectors.contract.names import logical_stream as logical_stream
from soc.config import Settings

# Logical names; the physical name adds the deployment's prefix (tests use their own). The log streams,
# agency ids and the names a collector writes are the collectors' contract (collectors.contract.names).
SYSTEM_INDICES = (
    "soc-alerts",
    "soc-incidents",
    "soc-sources",
    HEARTBEATS,
    "soc-rules-state",
    "soc-audit",
    "soc-reports",
    "soc-users",
    "soc-checkpoints",
    "soc-exceptions",
    "soc-agencies",
    "soc-indicators",  # threat-intelligence indicators (soc.intel.store)
    "soc-intel-feeds",  # feeds pulled from a URL on a schedule (soc.intel.store)
    "soc-saved-searches",
)
INGEST_PIPELINE = "soc-ingest"


@dataclass(frozen=True)
class Names(StreamNames):
    """Physical names for one deployment (an optional prefix keeps deployments and tests apart): the
    collectors' stream names plus the service's indices."""

    def agency_of(self, name: str) -> str | None:
        """The agency of a log data stream (or of one of its backing indices), None for any other name."""
        for logical in LOG_STREAMS:
            for head in (f"{self.prefix}{logical}-", f".ds-{self.prefix}{logical}-"):
                if name.startswith(head):
                    rest = name[len(head):]
                    if head.startswith(".ds-"):
                        rest = re.sub(r"-[0-9]{6}$", "", rest)
                    return rest if is_agency_id(rest) else None
        return None

    def placeholder(self, logical: str) -> str:
        """An always-empty data stream of a log stream, so that its read pattern names at least one index
        before any agency wrote (OpenSearch answers a search over a pattern that matches nothing without
        its aggregations). ``_none`` is no agency id: nothing can be written to it."""
        return f"{self.prefix}{logical}-_none"

    def legacy_stream(self, logical: str) -> str:
        """The single data stream of a log stream that versions before per-agency streams wrote."""
        return f"{self.prefix}{logical}"

    def template(self, logical: str) -> str:
        """The index template of a log stream's per-agency data streams."""
        return f"{self.prefix}{logical}-per-agency"

    @property
    def syslog(self) -> str:
        """Reads every agency's syslog data stream."""
        return self("logs-syslog")

    @property
    def web(self) -> str:
        """Reads every agency's web data stream."""
        return self("logs-web")

    @property
    def alerts(self) -> str:
        return self("soc-alerts")

    @property
    def incidents(self) -> str:
        return self("soc-incidents")

    @property
    def sources(self) -> str:
        return self("soc-sources")

    @property
    def rules_state(self) -> str:
        return self("soc-rules-state")

    @property
    def audit(self) -> str:
        return self("soc-audit")

    @property
    def reports(self) -> str:
        return self("soc-reports")

    @property
    def users(self) -> str:
        return self("soc-users")

    @property
    def checkpoints(self) -> str:
        return self("soc-checkpoints")

    @property
    def exceptions(self) -> str:
        return self("soc-exceptions")

    @property
    def agencies(self) -> str:
        return self("soc-agencies")

    @property
    def indicators(self) -> str:
        return self("soc-indicators")

    @property
    def intel_feeds(self) -> str:
        return self("soc-intel-feeds")

    @property
    def pipeline(self) -> str:
        return self(INGEST_PIPELINE)


class OrjsonSerializer(JSONSerializer):
    """opensearch-py's JSON serializer with orjson doing the work (the same JSON, several times faster).

    What orjson cannot encode (integers beyond 64 bits, Decimal, numpy, ...) goes through the
    library's own encoder, so requests are the same bytes. orjson decodes every integer OpenSearch
    sends (long, unsigned_long) exactly; text it refuses goes to the library's decoder.
    """

    def loads(self, s: str) -> Any:
        try:
            return orjson.loads(s)
        except orjson.JSONDecodeError:
            return super().loads(s)

    def dumps(self, data: Any) -> Any:
        if isinstance(data, str):
            return data
        try:
            return orjson.dumps(data, default=self.default, option=orjson.OPT_NON_STR_KEYS).decode()
        except TypeError:
            return super().dumps(data)


def client(settings: Settings, **extra: Any) -> OpenSearch:
    """A client for the configured cluster (the local node unless a URL is set)."""
    kwargs: dict[str, Any] = {
        # Several nodes may be named, comma-separated; the client moves on when one is down.
        "hosts": [u.strip() for u in settings.url.split(",") if u.strip()],
        "timeout": 60,
        "max_retries": 3,
        "retry_on_timeout": True,
    }
    if settings.opensearch_user:
        kwargs["http_auth"] = (settings.opensearch_user, settings.opensearch_password or "")
    if settings.url.startswith("https"):
        kwargs["use_ssl"] = True
        kwargs["verify_certs"] = settings.opensearch_verify_certs
        kwargs["ssl_show_warn"] = settings.opensearch_verify_certs
        if settings.opensearch_ca_file:
            kwargs["ca_certs"] = settings.opensearch_ca_file
    kwargs.update(extra)
    return OpenSearch(**kwargs)


def names(settings: Settings) -> Names:
    return Names(settings.index_prefix)
