"""The token cache: requests skip the token lookups, and revocations still apply within its ttl."""

from __future__ import annotations

from fastapi.testclient import TestClient

from soc.accounts import store as accounts_store
from soc.auth import Principal, PrincipalCache
from soc.runtime import Runtime
from tests.incidents.conftest import bearer


class Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_entries_expire_and_the_cache_is_bounded() -> None:
    ticks = Ticks()
    cache = PrincipalCache(ttl=5, max_entries=2, clock=ticks)
    ana = Principal("ana", "analyst", ("a",))
    cache.put("h1", ana)
    cache.put("h2", ana)
    assert cache.get("h1") == ana  # h1 is now the most recently used
    cache.put("h3", ana)
    assert cache.get("h2") is None and cache.get("h1") == ana and len(cache) == 2
    ticks.now += 4.9
    assert cache.get("h3") == ana
    ticks.now += 0.1
    assert cache.get("h3") is None and cache.get("h1") is None


def test_a_token_revoked_elsewhere_is_refused_within_the_ttl(rt: Runtime, api: TestClient) -> None:
    ticks = Ticks()
    rt.principals = PrincipalCache(ttl=3, clock=ticks)
    token = accounts_store.create_token(rt.client, rt.names, "script", "viewer", ["agency-a"])
    head = bearer(token)
    assert api.get("/api/v1/incidents", headers=head).status_code == 200
    assert len(rt.principals) == 1
    # Revoked by another process (the CLI, another worker): this one learns within the ttl.
    tokens = accounts_store.list_kind(rt.client, rt.names, "token")
    [(token_id, _)] = [(i, d) for i, d in tokens if d["name"] == "script"]
    accounts_store.revoke_token(rt.client, rt.names, token_id)
    ticks.now += 1
    assert api.get("/api/v1/incidents", headers=head).status_code == 200  # served from the cache
    ticks.now += 2
    refused = api.get("/api/v1/incidents", headers=head)
    assert refused.status_code == 401 and refused.json()["status"] == 401
    ticks.now += 100
    assert api.get("/api/v1/incidents", headers=head).status_code == 401  # refusals are never cached as valid


def test_a_user_disabled_elsewhere_is_refused_within_the_ttl(rt: Runtime, api: TestClient) -> None:
    ticks = Ticks()
    rt.principals = PrincipalCache(ttl=3, clock=ticks)
    accounts_store.create_user(rt.client, rt.names, "dan", "analyst", ["agency-a"])
    head = bearer(accounts_store.create_user_token(rt.client, rt.names, "dan"))
    assert api.get("/api/v1/incidents", headers=head).status_code == 200
    accounts_store.update_user(rt.client, rt.names, "dan", {"disabled": True})
    ticks.now += 3
    assert api.get("/api/v1/incidents", headers=head).status_code == 401


def test_changes_through_this_process_apply_at_once(rt: Runtime, api: TestClient, tokens: dict[str, str]) -> None:
    rt.principals = PrincipalCache(ttl=3600)
    admin = bearer(tokens["admin"])
    made = api.post("/api/v1/tokens", headers=admin, json={"name": "job", "role": "analyst", "agencies": ["agency-a"]})
    job = bearer(made.json()["token"])
    assert api.get("/api/v1/incidents", headers=job).status_code == 200
    assert api.delete(f"/api/v1/tokens/{made.json()['id']}", headers=admin).status_code == 200
    assert api.get("/api/v1/incidents", headers=job).status_code == 401
    accounts_store.create_user(rt.client, rt.names, "eve", "analyst", ["agency-a"])
    eve = bearer(accounts_store.create_user_token(rt.client, rt.names, "eve"))
    assert api.post("/api/v1/incidents/bulk", headers=eve,
                    json={"ids": ["x"], "action": "acknowledge"}).status_code == 422  # a writer: checked, none found
    assert api.patch("/api/v1/users/eve", headers=admin, json={"role": "viewer"}).status_code == 200
    assert api.post("/api/v1/incidents/bulk", headers=eve,
                    json={"ids": ["x"], "action": "acknowledge"}).status_code == 403  # now a viewer, at once
