"""Onboarding: issue a source's ``log.source.id``, place it on a collector, list, show and remove it.

A syslog source gets its own listener on its agency's collector (the port tells the collector
which source a message belongs to): ports are handed out from ``FIRST_PORT`` upwards per
collector. A web source is a log file tailed by a collector on the web server itself.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from typing import Any

from opensearchpy import OpenSearch

from soc.agencies import store as agency_store
from soc.audit import store as audit_store
from soc.auth import Principal
from soc.errors import Invalid
from soc.opensearch import ingest
from soc.search import Names
from soc.sources import configs, store

TYPES = ("syslog", "nginx", "apache")
PROTOCOLS = ("tls", "tcp", "udp")
FIRST_PORT = 6514
MAX_PORT = 65535
DEFAULT_SILENCE_MINUTES = 60
_NAME = re.compile(r"^[\w .,()/:+-]{1,120}$")
_HOST = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.:\-]{0,252}$")
_PATH = re.compile(r"^/[A-Za-z0-9._/\-]{1,400}$")


def _check(value: str | None, pattern: re.Pattern[str], what: str, example: str) -> None:
    if value is not None and not pattern.match(value):
        raise Invalid(f"{what}: {value!r} is not acceptable ({example})")


def _free_port(client: OpenSearch, names: Names, collector_id: str) -> int:
    used = {int(s["collector"]["port"]) for s in store.search(client, names, collector_id=collector_id)
            if s.get("collector", {}).get("port")}
    port = FIRST_PORT
    while port in used:
        port += 1
    if port > MAX_PORT:
        raise Invalid(f"collector {collector_id} has no free port left")
    return port


def new_source(client: OpenSearch, names: Names, who: Principal, agency_id: str, source_type: str, name: str,
               host: str | None = None, expected_rate: float | None = None,
               silence_after: int = DEFAULT_SILENCE_MINUTES, collector_address: str | None = None,
               port: int | None = None, protocol: str = "tls", log_path: str | None = None,
               collector_id: str | None = None, now: datetime | None = None) -> dict[str, Any]:
    """Check everything, then store the source; returns the stored document."""
    who.require_admin()
    who.require_visible(agency_id, "agency", agency_id)
    agency = agency_store.get(client, names, agency_id)
    if source_type not in TYPES:
        raise Invalid(f"type: {source_type!r} is not a source type ({', '.join(TYPES)})")
    if protocol not in PROTOCOLS:
        raise Invalid(f"protocol: {protocol!r} is not one of {', '.join(PROTOCOLS)}")
    _check(name, _NAME, "name", "letters, digits, spaces and .,()/:+- up to 120 characters")
    _check(host, _HOST, "host", "a host name or address")
    _check(collector_address, _HOST, "collector_address", "a host name or address")
    _check(log_path, _PATH, "log_path", "an absolute path of letters, digits and ._-/")
    if expected_rate is not None and not 0 < expected_rate < 10_000_000:
        raise Invalid("expected_rate: events per minute must be above 0")
    if not 1 <= silence_after <= 10_080:
        raise Invalid("silence_after: minutes from 1 to 10080 (a week)")
    if port is not None and not 1 <= port <= MAX_PORT:
        raise Invalid("port: from 1 to 65535")
    web = source_type in configs.WEB_TYPES
    address = collector_address or agency.get("collector_address")
    if not web and not address:
        raise Invalid("collector_address: give the host name agency servers send to (or set it on the agency)")
    if web and not host:
        raise Invalid("host: a web source names the web server it is on (its collector runs there)")
    source_id = f"{agency_id}-{source_type}-{secrets.token_hex(3)}"
    collector = collector_id or (f"col-{agency_id}-{host.split('.')[0]}" if web and host else f"col-{agency_id}")
    _check(collector, re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"), "collector_id", "letters, digits, ._-")
    doc: dict[str, Any] = {
        "kind": "source", "id": source_id, "log": {"source": {"id": source_id}},
        "organization": {"id": agency_id}, "type": source_type, "name": name, "host": host,
        "expected_rate": expected_rate, "silence_after_minutes": silence_after,
        "log_path": (log_path or configs.DEFAULT_LOG_PATHS[source_type]) if web else None,
        "created": (now or datetime.now(UTC)).isoformat(), "created_by": who.name,
        "collector": {"id": collector, "address": host if web else address,
                      "port": None if web else (port or _free_port(client, names, collector)),
                      "protocol": None if web else protocol},
    }
    store.create(client, names, doc)
    ingest.refresh_sources(client, names)  # its events are no longer tagged _unknown_source
    audit_store.append(client, names, [audit_store.entry(
        datetime.now(UTC), who.name, "source.create", "source", source_id, agency_id,
        f"log source {source_id} ({source_type}, {name}) onboarded", after=doc)])
    return doc


def get(client: OpenSearch, names: Names, who: Principal, source_id: str) -> dict[str, Any]:
    doc = store.get(client, names, source_id)
    who.require_visible(doc["organization"]["id"], "source", source_id)
    return doc


def scope(who: Principal, agency: str | None = None) -> list[str] | None:
    """The agencies a listing covers: those of the caller (None: all), or the one asked for if seen."""
    if agency:
        return [agency] if who.sees(agency) else []
    return None if who.everywhere else list(who.agencies)


def listing(client: OpenSearch, names: Names, who: Principal, agency: str | None = None) -> list[dict[str, Any]]:
    agencies = scope(who, agency)
    return [] if agencies == [] else store.search(client, names, agencies)


def remove(client: OpenSearch, names: Names, who: Principal, source_id: str) -> dict[str, Any]:
    doc = get(client, names, who, source_id)
    who.require_admin()
    store.delete(client, names, source_id)
    ingest.refresh_sources(client, names)
    audit_store.append(client, names, [audit_store.entry(
        datetime.now(UTC), who.name, "source.delete", "source", source_id, doc["organization"]["id"],
        f"log source {source_id} removed (its events stay)", before=doc)])
    return doc


def configuration(client: OpenSearch, names: Names, who: Principal, source_id: str,
                  paths: configs.Paths | None = None) -> dict[str, str]:
    """The ready-to-use files of a source (file name -> content)."""
    doc = get(client, names, who, source_id)
    agency = agency_store.get(client, names, doc["organization"]["id"])
    return configs.bundle(doc, agency, paths or configs.Paths())


def collector_config(client: OpenSearch, names: Names, who: Principal, collector_id: str, opensearch_url: str,
                     index_prefix: str = "", paths: configs.Paths | None = None) -> str:
    """A whole collector file for every source placed on ``collector_id``."""
    sources = [s for s in store.search(client, names, None if who.everywhere else list(who.agencies),
                                       collector_id=collector_id)]
    if not sources:
        raise Invalid(f"collector {collector_id!r} serves no source you can see")
    agency = agency_store.get(client, names, sources[0]["organization"]["id"])
    return configs.collector_file(agency, collector_id, sources, paths or configs.Paths(), opensearch_url,
                                  index_prefix)
