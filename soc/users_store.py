"""Stored users and tokens in ``soc-users``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from opensearchpy import OpenSearch

from soc import auth
from soc.search import Names


def admin_token_exists(client: OpenSearch, names: Names) -> bool:
    resp = client.search(index=names.users, body={"size": 0, "query": {"bool": {"filter": [
        {"term": {"kind": "token"}}, {"term": {"role": "admin"}}]}}}, track_total_hits=True)
    return int(resp["hits"]["total"]["value"]) > 0


def create_token(client: OpenSearch, names: Names, name: str, role: str, agencies: list[str]) -> str:
    """Store a new token's hash and return the token (the only time it is ever seen)."""
    if role not in auth.ROLES:
        raise ValueError(f"unknown role {role!r}; roles are {', '.join(auth.ROLES)}")
    token = auth.new_token()
    digest = auth.token_hash(token)
    doc: dict[str, Any] = {"kind": "token", "name": name, "role": role, "agencies": agencies,
                           "token_hash": digest, "created": datetime.now(UTC).isoformat(), "disabled": False}
    client.index(index=names.users, id=f"token-{digest[:32]}", body=doc, refresh=True)
    return token
