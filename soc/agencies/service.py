"""Adding, listing and reading agencies, checked and audited."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from opensearchpy import OpenSearch

from soc.agencies import store
from soc.audit import store as audit_store
from soc.auth import Principal
from soc.errors import Invalid
from soc.search import AGENCY_ID_RULE, Names, is_agency_id

_ADDRESS = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.:\-]{0,252}$")


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"timezone: unknown time zone {name!r} (for example Asia/Ho_Chi_Minh)") from None
    return name


def new_document(agency_id: str, name_vi: str, name_en: str, timezone: str = "Asia/Ho_Chi_Minh",
                 contacts: list[str] | None = None, collector_address: str | None = None,
                 now: datetime | None = None) -> dict[str, Any]:
    """The stored agency, or Invalid naming the first wrong value."""
    if not is_agency_id(agency_id):
        raise Invalid(f"id: {agency_id!r} is not an agency id ({AGENCY_ID_RULE})")
    for label, value in (("name_vi", name_vi), ("name_en", name_en)):
        if not value.strip() or len(value) > 200:
            raise Invalid(f"{label}: a name of 1 to 200 characters is needed")
    if collector_address is not None and not _ADDRESS.match(collector_address):
        raise Invalid(f"collector_address: {collector_address!r} is not a host name or address")
    cleaned = [c.strip() for c in contacts or [] if c.strip()]
    if any(len(c) > 200 for c in cleaned):
        raise Invalid("contacts: a contact has at most 200 characters")
    return {"id": agency_id, "name_vi": name_vi.strip(), "name_en": name_en.strip(),
            "timezone": check_timezone(timezone), "contacts": cleaned, "collector_address": collector_address,
            "created": (now or datetime.now(UTC)).isoformat()}


def add(client: OpenSearch, names: Names, who: Principal, doc: dict[str, Any]) -> dict[str, Any]:
    who.require_admin(global_scope=True)
    store.create(client, names, doc)
    audit_store.append(client, names, [audit_store.entry(
        datetime.now(UTC), who.name, "agency.create", "agency", doc["id"], doc["id"],
        f"agency {doc['id']} added", after=doc)])
    return doc


def get(client: OpenSearch, names: Names, who: Principal, agency_id: str) -> dict[str, Any]:
    who.require_visible(agency_id, "agency", agency_id)
    return store.get(client, names, agency_id)


def listing(client: OpenSearch, names: Names, who: Principal) -> list[dict[str, Any]]:
    return store.search(client, names, None if who.everywhere else list(who.agencies))
