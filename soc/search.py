"""The OpenSearch client and the names of every index and data stream (the only place they are spelled)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from opensearchpy import OpenSearch
from opensearchpy.serializer import JSONSerializer

from soc.config import Settings

# Logical names; the physical name adds the deployment's prefix (tests use their own).
LOG_STREAMS = ("logs-syslog", "logs-web")
SYSTEM_INDICES = (
    "soc-alerts",
    "soc-incidents",
    "soc-sources",
    "soc-rules-state",
    "soc-audit",
    "soc-reports",
    "soc-users",
    "soc-checkpoints",
    "soc-exceptions",
    "soc-agencies",
)
INGEST_PIPELINE = "soc-ingest"


@dataclass(frozen=True)
class Names:
    """Physical names for one deployment (an optional prefix keeps deployments and tests apart)."""

    prefix: str = ""

    def __call__(self, logical: str) -> str:
        return f"{self.prefix}{logical}"

    @property
    def syslog(self) -> str:
        return self("logs-syslog")

    @property
    def web(self) -> str:
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
    def pipeline(self) -> str:
        return self(INGEST_PIPELINE)

    def stream_for(self, dataset: str) -> str:
        """The data stream an event of ``event.dataset`` belongs to."""
        return self.web if dataset.endswith(".access") or dataset.startswith("web") else self.syslog


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
