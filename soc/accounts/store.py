"""Users, API tokens, console sessions, preferences, login counters and subscriptions in ``soc-users``:
the only code that reads or writes that index.

Documents (``kind`` tells them apart):

- user: id ``user-<name>``: ``{kind, name, role, agencies, password_hash, created, disabled}``
- token: id ``token-<first 32 hex of its hash>``: ``{kind, name, user, role, agencies,
  token_hash, created, expires, disabled}``; a token of a user takes the user's live role and
  agencies (changing or disabling the user changes every token of theirs).
- webhook: ``{kind, name, url, secret, agencies, min_severity, events, created, disabled}``
- email: ``{kind, name, to: [addresses], agencies, min_severity, created, disabled}``: incidents of
  those agencies at or above the minimum severity are mailed to ``to``
- session: id ``session-<first 40 hex of the SHA-256 of the cookie value>``: ``{kind, name, user,
  token_id, csrf, lang, flash, created, expires}`` (only the hash of a cookie value is stored)
- preference: id ``pref-<user>``: ``{kind, name, lang}``
- login-failures: id ``login-failures-<first 40 hex of the SHA-256 of the address or account key>``:
  ``{kind, attempts: [epoch ms]}`` (soc.accounts.limiter)
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from opensearchpy import ConflictError, NotFoundError, OpenSearch

from soc import auth, timefmt
from soc.errors import Conflict, NotFound
from soc.search import Names


def _now() -> str:
    return timefmt.now_iso(exact=True)


def admin_token_exists(client: OpenSearch, names: Names) -> bool:
    resp = client.search(index=names.users, body={"size": 0, "query": {"bool": {"filter": [
        {"term": {"kind": "token"}}, {"term": {"role": "admin"}}]}}}, track_total_hits=True)
    return int(resp["hits"]["total"]["value"]) > 0


def create_token(client: OpenSearch, names: Names, name: str, role: str, agencies: list[str],
                 user: str | None = None) -> str:
    """Store a new token's hash and return the token (the only time it is ever seen)."""
    auth.check_role(role)
    agencies = auth.check_agencies(agencies)
    token = auth.new_token()
    digest = auth.token_hash(token)
    doc: dict[str, Any] = {"kind": "token", "name": name, "user": user, "role": role, "agencies": agencies,
                           "token_hash": digest, "created": _now(), "disabled": False}
    client.index(index=names.users, id=f"token-{digest[:32]}", body=doc, refresh=True)
    return token


def create_user_token(client: OpenSearch, names: Names, user: str, label: str | None = None) -> str:
    """A token acting as ``user`` (role and agencies follow the user)."""
    doc = get_user(client, names, user)
    return create_token(client, names, label or user, doc["role"], doc["agencies"], user=user)


def principal_for_token(client: OpenSearch, names: Names, token: str) -> auth.Principal | None:
    """The principal a presented token stands for, or None (unknown, disabled, expired)."""
    digest = auth.token_hash(token)
    try:
        doc = client.get(index=names.users, id=f"token-{digest[:32]}")["_source"]
    except NotFoundError:
        return None
    if doc.get("kind") != "token" or doc.get("token_hash") != digest or doc.get("disabled"):
        return None
    expires = doc.get("expires")
    if expires and datetime.fromisoformat(expires) <= datetime.now(UTC):
        return None
    if doc.get("user"):
        try:
            user = client.get(index=names.users, id=f"user-{doc['user']}")["_source"]
        except NotFoundError:
            return None
        if user.get("disabled"):
            return None
        return auth.Principal(user["name"], user["role"], tuple(user["agencies"]))
    return auth.Principal(doc["name"], doc["role"], tuple(doc["agencies"]))


def create_user(client: OpenSearch, names: Names, name: str, role: str, agencies: list[str],
                password: str | None = None) -> dict[str, Any]:
    auth.check_role(role)
    agencies = auth.check_agencies(agencies)
    doc: dict[str, Any] = {"kind": "user", "name": name, "role": role, "agencies": agencies,
                           "password_hash": auth.hash_password(password) if password else None,
                           "created": _now(), "disabled": False}
    try:
        client.create(index=names.users, id=f"user-{name}", body=doc, refresh=True)
    except ConflictError:
        raise Conflict(f"user {name!r} already exists") from None
    return public_user(doc)


def get_user(client: OpenSearch, names: Names, name: str) -> dict[str, Any]:
    try:
        doc: dict[str, Any] = client.get(index=names.users, id=f"user-{name}")["_source"]
    except NotFoundError:
        raise NotFound(f"user {name!r} does not exist") from None
    return doc


def update_user(client: OpenSearch, names: Names, name: str, changes: dict[str, Any]) -> dict[str, Any]:
    get_user(client, names, name)
    new_password = "password" in changes
    if new_password:
        password = changes.pop("password")
        changes["password_hash"] = auth.hash_password(password)
    if "role" in changes:
        auth.check_role(changes["role"])
    if "agencies" in changes:
        changes["agencies"] = auth.check_agencies(changes["agencies"])
    client.update(index=names.users, id=f"user-{name}", body={"doc": changes}, refresh=True)
    if new_password:
        end_sessions(client, names, name)
    return public_user(get_user(client, names, name))


def end_sessions(client: OpenSearch, names: Names, name: str, keep: str | None = None) -> int:
    """Delete the console sessions of user ``name`` (all but the one stored as ``keep``): a new
    password ends every session opened with the old one. Returns how many ended."""
    query: dict[str, Any] = {"bool": {"filter": [{"term": {"kind": "session"}}, {"term": {"user": name}}]}}
    if keep:
        query["bool"]["must_not"] = [{"ids": {"values": [keep]}}]
    resp = client.delete_by_query(index=names.users, refresh=True, conflicts="proceed", body={"query": query})
    return int(resp.get("deleted", 0))


@functools.cache
def _dummy_hash() -> str:
    """A hash of a random password, made once per process when first needed."""
    return auth.hash_password(secrets.token_urlsafe(24))


def check_password(client: OpenSearch, names: Names, name: str, password: str) -> auth.Principal | None:
    """The user when the password is theirs. An unknown, disabled or password-less user costs the
    same hashing as a wrong password, so the time taken does not tell which names exist."""
    try:
        doc: dict[str, Any] = get_user(client, names, name)
    except NotFound:
        doc = {}
    stored = doc.get("password_hash")
    matched = auth.verify_password(stored or _dummy_hash(), password)
    if not doc or doc.get("disabled") or not stored or not matched:
        return None
    return auth.Principal(doc["name"], doc["role"], tuple(doc["agencies"]))


def public_user(doc: dict[str, Any]) -> dict[str, Any]:
    return {"name": doc["name"], "role": doc["role"], "agencies": list(doc["agencies"]),
            "created": doc.get("created"), "disabled": bool(doc.get("disabled")),
            "has_password": bool(doc.get("password_hash"))}


def list_kind(client: OpenSearch, names: Names, kind: str, size: int = 1000) -> list[tuple[str, dict[str, Any]]]:
    resp = client.search(index=names.users, body={"size": size, "query": {"term": {"kind": kind}},
                                                  "sort": [{"created": "asc"}]})
    return [(hit["_id"], hit["_source"]) for hit in resp["hits"]["hits"]]


def public_token(doc_id: str, doc: dict[str, Any]) -> dict[str, Any]:
    return {"id": doc_id, "name": doc["name"], "user": doc.get("user"), "role": doc["role"],
            "agencies": list(doc["agencies"]), "created": doc.get("created"),
            "disabled": bool(doc.get("disabled"))}


def get_token(client: OpenSearch, names: Names, token_id: str) -> dict[str, Any]:
    try:
        doc = client.get(index=names.users, id=token_id)["_source"]
    except NotFoundError:
        doc = {}
    if not token_id.startswith("token-") or doc.get("kind") != "token":
        raise NotFound(f"token {token_id!r} does not exist")
    return public_token(token_id, doc)


def revoke_token(client: OpenSearch, names: Names, token_id: str) -> dict[str, Any]:
    info = get_token(client, names, token_id)
    client.update(index=names.users, id=token_id, body={"doc": {"disabled": True}}, refresh=True)
    return info | {"disabled": True}


def create_webhook(client: OpenSearch, names: Names, name: str, url: str, agencies: list[str],
                   min_severity: str, secret: str | None = None) -> tuple[str, dict[str, Any]]:
    doc: dict[str, Any] = {"kind": "webhook", "name": name, "url": url, "agencies": auth.check_agencies(agencies),
                           "min_severity": min_severity, "secret": secret or secrets.token_urlsafe(32),
                           "created": _now(), "disabled": False}
    resp = client.index(index=names.users, body=doc, refresh=True)
    return str(resp["_id"]), doc


def create_email(client: OpenSearch, names: Names, name: str, to: list[str], agencies: list[str],
                 min_severity: str) -> tuple[str, dict[str, Any]]:
    doc: dict[str, Any] = {"kind": "email", "name": name, "to": sorted(set(to)),
                           "agencies": auth.check_agencies(agencies), "min_severity": min_severity,
                           "created": _now(), "disabled": False}
    resp = client.index(index=names.users, body=doc, refresh=True)
    return str(resp["_id"]), doc


def delete_webhook(client: OpenSearch, names: Names, webhook_id: str, kind: str = "webhook") -> None:
    """Delete a subscription of ``kind`` (webhook or email) by id."""
    try:
        doc = client.get(index=names.users, id=webhook_id)["_source"]
    except NotFoundError:
        doc = {}
    if doc.get("kind") != kind:
        raise NotFound(f"{kind} subscription {webhook_id!r} does not exist")
    client.delete(index=names.users, id=webhook_id, refresh=True)


def webhooks_for(client: OpenSearch, names: Names, agency: str, severity_rank: int,
                 ranks: dict[str, int]) -> list[dict[str, Any]]:
    return subscriptions_for(client, names, "webhook", agency, severity_rank, ranks)


def subscriptions_for(client: OpenSearch, names: Names, kind: str, agency: str, severity_rank: int,
                      ranks: dict[str, int]) -> list[dict[str, Any]]:
    """Enabled subscriptions of ``kind`` whose agencies include ``agency`` (or '*') and whose minimum is met."""
    return [s for s in subscriptions_of(client, names, kind, [agency]) if wants(s, agency, severity_rank, ranks)]


def subscriptions_of(client: OpenSearch, names: Names, kind: str, agencies: Collection[str]) -> list[dict[str, Any]]:
    """Enabled subscriptions of ``kind`` for any of ``agencies`` (or '*'), in one search; ``wants`` picks."""
    terms = sorted({*agencies, auth.ALL_AGENCIES})
    resp = client.search(index=names.users, body={"size": min(200 * len(terms), 10_000), "query": {"bool": {
        "filter": [{"term": {"kind": kind}}, {"term": {"disabled": False}}, {"terms": {"agencies": terms}}]}}})
    return [hit["_source"] | {"id": hit["_id"]} for hit in resp["hits"]["hits"]]


def wants(subscription: dict[str, Any], agency: str, severity_rank: int, ranks: dict[str, int]) -> bool:
    """Whether a subscription covers an incident of ``agency`` at ``severity_rank``."""
    agencies = subscription.get("agencies") or []
    return ((agency in agencies or auth.ALL_AGENCIES in agencies)
            and ranks.get(subscription.get("min_severity", ""), 0) <= severity_rank)


def session_id(secret: str) -> str:
    return "session-" + hashlib.sha256(secret.encode("utf-8")).hexdigest()[:40]


def create_session(client: OpenSearch, names: Names, secret: str, doc: dict[str, Any]) -> None:
    client.index(index=names.users, id=session_id(secret), body={"kind": "session", **doc}, refresh=True)


def get_session(client: OpenSearch, names: Names, secret: str) -> dict[str, Any] | None:
    try:
        doc: dict[str, Any] = client.get(index=names.users, id=session_id(secret))["_source"]
    except NotFoundError:
        return None
    return doc if doc.get("kind") == "session" else None


def update_session(client: OpenSearch, names: Names, secret: str, changes: dict[str, Any]) -> None:
    client.update(index=names.users, id=session_id(secret), body={"doc": changes}, refresh=True)


def delete_session(client: OpenSearch, names: Names, secret: str) -> None:
    client.delete(index=names.users, id=session_id(secret), refresh=True, ignore=[404])


def purge_sessions(client: OpenSearch, names: Names, now: datetime) -> int:
    """Delete the sessions that expired before ``now`` (they no longer log anyone in, but stayed
    stored); returns how many."""
    resp = client.delete_by_query(index=names.users, refresh=True, conflicts="proceed", body={"query": {"bool": {
        "filter": [{"term": {"kind": "session"}}, {"range": {"expires": {"lt": now.isoformat()}}}]}}})
    return int(resp.get("deleted", 0))


def get_doc(client: OpenSearch, names: Names, doc_id: str) -> dict[str, Any] | None:
    """A user or token document of ``soc-users`` (sessions re-check them on every request)."""
    try:
        doc: dict[str, Any] = client.get(index=names.users, id=doc_id)["_source"]
    except NotFoundError:
        return None
    return doc


def get_language(client: OpenSearch, names: Names, user: str) -> str | None:
    doc = get_doc(client, names, f"pref-{user}")
    return str(doc["lang"]) if doc and doc.get("kind") == "preference" and doc.get("lang") else None


def set_language(client: OpenSearch, names: Names, user: str, lang: str) -> None:
    client.index(index=names.users, id=f"pref-{user}", body={"kind": "preference", "name": user, "lang": lang},
                 refresh=True)


def login_attempt(client: OpenSearch, names: Names, doc_id: str, script: str,
                  params: dict[str, Any]) -> dict[str, Any] | None:
    """Run the login limiter's attempt script on one counter document (created when absent) in one
    atomic update. None when the attempt was recorded, else the document as it stands (refused)."""
    resp = client.update(index=names.users, id=doc_id, retry_on_conflict=20, refresh=False, _source=True,
                         body={"scripted_upsert": True, "upsert": {},
                               "script": {"lang": "painless", "source": script, "params": params}})
    if resp.get("result") != "noop":
        return None
    source: dict[str, Any] = (resp.get("get") or {}).get("_source") or {}
    return source


def login_succeeded(client: OpenSearch, names: Names, account_id: str, address_id: str, script: str,
                    params: dict[str, Any]) -> None:
    """Forget an account's counter and take a successful attempt back from its address's counter."""
    client.delete(index=names.users, id=account_id, ignore=[404])
    client.update(index=names.users, id=address_id, retry_on_conflict=20, ignore=[404],
                  body={"script": {"lang": "painless", "source": script, "params": params}})
