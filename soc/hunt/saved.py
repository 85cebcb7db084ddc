"""Saved searches: each belongs to its owner and one agency; shared ones are seen by everyone who sees
that agency. Only the owner (or an admin of the agency) deletes one."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from opensearchpy import OpenSearch

from soc.auth import Principal
from soc.errors import Invalid, NotFound
from soc.hunt import query, store
from soc.hunt.schemas import SavedIn
from soc.hunt.service import facet_field, iso, sort_spec
from soc.search import Names

MAX_LISTED = 500


def create(client: OpenSearch, names: Names, who: Principal, body: SavedIn, now: datetime) -> dict[str, Any]:
    who.require_reader()
    query.parse(body.query)  # a saved search runs: it must parse
    sort_spec(body.sort)
    for name in body.facets:
        facet_field(name)
    agency = body.agency
    if agency is None:
        if who.everywhere or len(who.agencies) != 1:
            raise Invalid("agency: name the agency the search belongs to")
        agency = who.agencies[0]
    if not who.sees(agency):
        raise Invalid(f"agency: {agency!r} is not one of your agencies")
    saved_id = uuid.uuid4().hex[:16]
    doc = body.model_dump() | {"id": saved_id, "owner": who.name, "agency": agency, "created": iso(now)}
    store.save(client, names, saved_id, doc)
    return doc


def _visible(who: Principal) -> dict[str, Any]:
    shared: list[dict[str, Any]] = [{"term": {"shared": True}}]
    if not who.everywhere:
        shared.append({"terms": {"agency": list(who.agencies)}})
    return {"bool": {"should": [{"term": {"owner": who.name}}, {"bool": {"filter": shared}}],
                     "minimum_should_match": 1}}


def listing(client: OpenSearch, names: Names, who: Principal) -> list[dict[str, Any]]:
    who.require_reader()
    return store.list_saved(client, names, _visible(who), MAX_LISTED)


def get(client: OpenSearch, names: Names, who: Principal, saved_id: str) -> dict[str, Any]:
    who.require_reader()
    doc = store.get_saved(client, names, saved_id)
    if doc.get("owner") != who.name and not (doc.get("shared") and who.sees(doc.get("agency"))):
        raise NotFound(f"saved search {saved_id!r} does not exist")
    return doc


def delete(client: OpenSearch, names: Names, who: Principal, saved_id: str) -> None:
    doc = get(client, names, who, saved_id)
    if doc.get("owner") != who.name:
        who.require_admin()  # an admin of the agency tidies shared searches of people who left
    store.delete_saved(client, names, saved_id)
