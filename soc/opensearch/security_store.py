"""The security plugin's configuration through its REST API: roles, role mappings, internal users.

Only identities that the service itself defines are written here (its own role and user, and one
role and user per agency collector); nothing else of the plugin's configuration is changed.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from opensearchpy import NotFoundError, OpenSearch

API = "/_plugins/_security/api"


def enabled(client: OpenSearch) -> bool:
    """True when the cluster runs the security plugin."""
    plugins = client.cat.plugins(format="json")
    return any(isinstance(p, dict) and p.get("component") == "opensearch-security" for p in plugins)


def _put(client: OpenSearch, kind: str, name: str, body: dict[str, Any]) -> None:
    client.transport.perform_request("PUT", f"{API}/{kind}/{quote(name, safe='')}", body=body)


def put_role(client: OpenSearch, name: str, body: dict[str, Any]) -> None:
    _put(client, "roles", name, body)


def map_role(client: OpenSearch, role: str, users: list[str]) -> None:
    _put(client, "rolesmapping", role, {"users": users})


def put_user(client: OpenSearch, name: str, password: str, attributes: dict[str, str] | None = None) -> None:
    """Create the internal user or replace its password (the plugin stores only a hash)."""
    _put(client, "internalusers", name, {"password": password, "attributes": attributes or {}})


def user_exists(client: OpenSearch, name: str) -> bool:
    try:
        client.transport.perform_request("GET", f"{API}/internalusers/{quote(name, safe='')}")
    except NotFoundError:
        return False
    return True
