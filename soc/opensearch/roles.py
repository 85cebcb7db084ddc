"""The security plugin roles of the service and of each agency's collector, declared as data.

``soc_service`` is what the running service needs and nothing more: it reads every agency's log
streams and manages them (templates, rollover, retention), owns the ``soc-*`` indices, and cannot
touch the security plugin's configuration. A collector role lets one agency's collector create
documents in its own log data streams (and their backing indices), create and write its own
dead-letter index, and write heartbeats; it reads nothing.

Names carry the deployment's index prefix, so several deployments (and tests) share a cluster.
A backing index is named with a regular expression anchored on both ends, so that agency ``ab``
is not given ``logs-web-x-ab`` or ``.ds-logs-web-ab-c-000001`` (agency ``ab-c``'s).
"""

from __future__ import annotations

import re
from typing import Any

from soc.search import LOG_STREAMS, Names

SERVICE_ROLE = "soc_service"
SERVICE_USER = "soc-service"
ADMIN_USER = "soc-admin"

# What a collector does with its own streams: bulk requests of create operations (a data stream
# accepts no other), and the first write creates the stream from its template.
COLLECTOR_STREAM_ACTIONS = ["indices:data/write/bulk*", "indices:data/write/index", "indices:admin/create"]


def service_role_name(prefix: str = "") -> str:
    return f"{prefix}{SERVICE_ROLE}"


def service_user(prefix: str = "") -> str:
    return f"{prefix}{SERVICE_USER}"


def collector_role_name(agency: str, prefix: str = "") -> str:
    return f"{prefix}soc_collector_{agency}"


def collector_user(agency: str, prefix: str = "") -> str:
    return f"{prefix}collector-{agency}"


def service_role(prefix: str = "") -> dict[str, Any]:
    return {
        "description": "The SOC service: reads and manages the log streams, owns the soc-* indices",
        "cluster_permissions": [
            "cluster_monitor", "cluster_composite_ops", "indices:data/read/scroll*",
            "indices:admin/index_template/*", "indices:admin/template/*", "cluster:admin/ingest/pipeline/*",
        ],
        "index_permissions": [
            {"index_patterns": [f"{prefix}logs-*", f".ds-{prefix}logs-*"],
             "allowed_actions": ["read", "indices:monitor/*", "indices:admin/refresh*", "indices:admin/mappings/get",
                                 "indices:admin/mapping/put", "indices:admin/data_stream/*", "indices:admin/create",
                                 "indices:admin/rollover", "indices:admin/delete", "indices:admin/resolve/index"]},
            {"index_patterns": [f"{prefix}soc-*", f".ds-{prefix}soc-*"],
             "allowed_actions": ["crud", "create_index", "manage", "indices:admin/resolve/index"]},
        ],
    }


def _backing(stream: str) -> str:
    return "/" + re.escape(f".ds-{stream}-") + "[0-9]{6,}/"


def collector_role(agency: str, prefix: str = "") -> dict[str, Any]:
    names = Names(prefix)
    streams = [names.stream(logical, agency) for logical in LOG_STREAMS]
    return {
        "description": f"The collectors of agency {agency}: create events in its own log streams only",
        "cluster_permissions": ["indices:data/write/bulk"],
        "index_permissions": [
            {"index_patterns": streams + [_backing(s) for s in streams],
             "allowed_actions": COLLECTOR_STREAM_ACTIONS},
            {"index_patterns": [names.deadletter(agency)],
             "allowed_actions": ["indices:data/write/bulk*", "indices:data/write/index", "indices:admin/create"]},
            {"index_patterns": [names.heartbeats],
             "allowed_actions": ["indices:data/write/bulk*", "indices:data/write/index"]},
        ],
    }
