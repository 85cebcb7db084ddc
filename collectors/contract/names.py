"""Agency ids and the names of what a collector writes: its agency's log streams, dead letters, heartbeats.

A log stream is logical (type-dataset): each agency writes its own data stream of it,
``logs-syslog-<agency>`` (type-dataset-namespace), and readers name every agency's at once with
the pattern ``logs-syslog-*``. The agency of an event is the namespace it was written to. Physical
names add the deployment's prefix (tests use their own). The service's ``soc.search.Names``
extends ``StreamNames`` with the indices only the service uses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LOG_STREAMS = ("logs-syslog", "logs-web")
HEARTBEATS = "soc-heartbeats"  # one document per collector and source (``ids.heartbeat_id``)
DEADLETTER = "soc-deadletter"  # the collectors' dead letters, one index per agency: soc-deadletter-<agency>

# The one rule for an agency id (API, CLI, collector file, index names): a lower-case slug that can
# end an index name. ``*`` (all agencies in a user's scope) is never an agency id.
AGENCY_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{1,63}$"
AGENCY_ID_RULE = "lower-case letters, digits and '-', 2 to 64 characters, not starting with '-'"
_AGENCY_ID = re.compile(AGENCY_ID_PATTERN)


def is_agency_id(value: object) -> bool:
    return isinstance(value, str) and _AGENCY_ID.fullmatch(value) is not None


def check_agency_id(value: object) -> str:
    """``value`` when it is an agency id, else ValueError saying why."""
    if not is_agency_id(value):
        raise ValueError(f"{value!r} is not an agency id ({AGENCY_ID_RULE})")
    return str(value)


def logical_stream(dataset: str) -> str:
    """The log stream an event of ``event.dataset`` belongs to."""
    return "logs-web" if dataset.endswith(".access") or dataset.startswith("web") else "logs-syslog"


@dataclass(frozen=True)
class StreamNames:
    """Physical names for one deployment (an optional prefix keeps deployments and tests apart)."""

    prefix: str = ""

    def __call__(self, logical: str) -> str:
        """The physical name; for a log stream, the pattern that reads every agency's data stream."""
        return self.pattern(logical) if logical in LOG_STREAMS else f"{self.prefix}{logical}"

    def pattern(self, logical: str) -> str:
        return f"{self.prefix}{logical}-*"

    def stream(self, logical: str, agency: str) -> str:
        """The data stream one agency writes events of a log stream into (ValueError for a bad agency)."""
        if logical not in LOG_STREAMS:
            raise ValueError(f"{logical!r} is not a log stream ({', '.join(LOG_STREAMS)})")
        return f"{self.prefix}{logical}-{check_agency_id(agency)}"

    def stream_for(self, dataset: str, agency: str) -> str:
        """The data stream an agency's event of ``event.dataset`` is written to."""
        return self.stream(logical_stream(dataset), agency)

    def deadletter(self, agency: str) -> str:
        return f"{self.prefix}{DEADLETTER}-{check_agency_id(agency)}"

    @property
    def heartbeats(self) -> str:
        return self(HEARTBEATS)
