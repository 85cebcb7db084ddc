"""Hunting's reads and writes in OpenSearch: searches in points in time over the log streams, rule-lab
searches, saved searches (``soc-saved-searches``, owned here) and the key that signs cursors."""

from __future__ import annotations

import contextlib
import secrets
from typing import Any

from opensearchpy import NotFoundError, OpenSearch, RequestError, TransportError

from soc import search, timefmt
from soc.errors import BadQuery, Conflict, Invalid, NotFound
from soc.search import Names

KEEP_ALIVE = "2m"  # a page must be asked for within this long of the previous one
REQUEST_TIMEOUT_S = 30
KEY_ID = "_cursor-key"
SAVED = "soc-saved-searches"


def log_index(names: Names) -> str:
    """Every agency's log data streams (the read patterns of the log streams)."""
    return ",".join(names(s) for s in search.LOG_STREAMS)


def _refused(exc: TransportError) -> Invalid:
    info = exc.info if isinstance(exc.info, dict) else {}
    causes = (info.get("error") or {}).get("root_cause") or [{}]
    reason = str(causes[0].get("reason") or exc.error)[:300]
    return BadQuery(f"OpenSearch refused the search: {reason}")


def open_pit(client: OpenSearch, names: Names) -> str | None:
    """A point in time over the log streams, or None when no log stream exists yet."""
    try:
        resp = client.create_pit(index=log_index(names), params={"keep_alive": KEEP_ALIVE})
    except NotFoundError:
        return None
    pit: str = resp["pit_id"]
    return pit


def close_pit(client: OpenSearch, pit: str) -> None:
    with contextlib.suppress(TransportError):  # else it expires on its own
        client.delete_pit(body={"pit_id": [pit]})


def search_pit(client: OpenSearch, pit: str, body: dict[str, Any]) -> dict[str, Any]:
    """One page in a point in time (its keep-alive renewed). A point in time that expired or never
    existed is a 4xx: the caller starts the search again."""
    body = body | {"pit": {"id": pit, "keep_alive": KEEP_ALIVE}}
    try:
        resp: dict[str, Any] = client.search(body=body, request_timeout=REQUEST_TIMEOUT_S)
    except NotFoundError:
        raise Invalid("cursor: the search expired (pages must be fetched within 2 minutes); search again") from None
    except RequestError as exc:
        if "pit" in str(exc.error).lower() or "point in time" in str(exc.info).lower():
            raise Invalid("cursor: not a search of this service, or it expired; search again") from None
        raise _refused(exc) from None
    return resp


def search_logs(client: OpenSearch, names: Names, body: dict[str, Any]) -> dict[str, Any]:
    """A plain search of the log streams (the rule lab, counts)."""
    try:
        resp: dict[str, Any] = client.search(index=log_index(names), body=body, request_timeout=REQUEST_TIMEOUT_S,
                                             ignore_unavailable=True, allow_no_indices=True)
    except RequestError as exc:
        raise _refused(exc) from None
    return resp


_keys: dict[tuple[str, str], bytes] = {}  # (cluster hosts, index) -> key: it never changes once made


def cursor_key(client: OpenSearch, names: Names) -> bytes:
    """The deployment's key for signing cursors: made once, shared by every service process."""
    index = names(SAVED)
    cache_key = (repr(client.transport.hosts), index)
    if cache_key in _keys:
        return _keys[cache_key]
    got = client.get(index=index, id=KEY_ID, ignore=[404])
    if not got.get("found"):
        doc = {"kind": "cursor-key", "key": secrets.token_hex(32), "created": _now()}
        client.index(index=index, id=KEY_ID, body=doc, op_type="create", ignore=[409], refresh="wait_for")
        got = client.get(index=index, id=KEY_ID)
    _keys[cache_key] = bytes.fromhex(got["_source"]["key"])
    return _keys[cache_key]


def _now() -> str:
    return timefmt.now_iso()


# saved searches ----------------------------------------------------------------------------------
def save(client: OpenSearch, names: Names, saved_id: str, doc: dict[str, Any]) -> None:
    try:
        client.index(index=names(SAVED), id=saved_id, body={"kind": "search", **doc}, op_type="create",
                     refresh="wait_for")
    except TransportError as exc:
        if exc.status_code == 409:
            raise Conflict(f"saved search {saved_id!r} already exists") from None
        raise


def get_saved(client: OpenSearch, names: Names, saved_id: str) -> dict[str, Any]:
    got = client.get(index=names(SAVED), id=saved_id, ignore=[404])
    if not got.get("found") or got["_source"].get("kind") != "search":
        raise NotFound(f"saved search {saved_id!r} does not exist")
    doc: dict[str, Any] = got["_source"]
    return doc


def list_saved(client: OpenSearch, names: Names, visible: dict[str, Any], limit: int) -> list[dict[str, Any]]:
    body = {"size": limit, "sort": [{"name": "asc"}, {"id": "asc"}],
            "query": {"bool": {"filter": [{"term": {"kind": "search"}}, visible]}}}
    hits = client.search(index=names(SAVED), body=body)["hits"]["hits"]
    return [h["_source"] for h in hits]


def delete_saved(client: OpenSearch, names: Names, saved_id: str) -> None:
    client.delete(index=names(SAVED), id=saved_id, refresh="wait_for", ignore=[404])
