"""Users, tokens and subscriptions (webhooks, e-mail) managed through the API: admin only, audited."""

from __future__ import annotations

from typing import Any

from soc.accounts import store
from soc.audit import store as audit_store
from soc.auth import Principal, token_hash
from soc.errors import Invalid
from soc.incidents import destinations
from soc.runtime import Runtime


def _audit(rt: Runtime, who: Principal, action: str, kind: str, ident: str, before: dict[str, Any],
           after: dict[str, Any]) -> None:
    if kind in ("user", "token"):
        rt.principals.clear()  # a change to who may do what applies to the next request in this process
    audit_store.append(rt.client, rt.names, [audit_store.entry(rt.clock(), who.name, action, kind, ident, None,
                                                               f"{action} {ident}", before=before, after=after)])


def add_user(rt: Runtime, who: Principal, name: str, role: str, agencies: list[str],
             password: str | None) -> dict[str, Any]:
    who.require_admin(global_scope=True)
    user = store.create_user(rt.client, rt.names, name, role, agencies, password)
    _audit(rt, who, "user.create", "user", name, {}, user)
    return user


def list_users(rt: Runtime, who: Principal) -> list[dict[str, Any]]:
    who.require_admin(global_scope=True)
    return [store.public_user(doc) for _, doc in store.list_kind(rt.client, rt.names, "user")]


def change_user(rt: Runtime, who: Principal, name: str, changes: dict[str, Any]) -> dict[str, Any]:
    who.require_admin(global_scope=True)
    before = store.public_user(store.get_user(rt.client, rt.names, name))
    after = store.update_user(rt.client, rt.names, name, dict(changes))
    b, a = audit_store.changed(before, after)
    if "password" in changes:
        b["password"], a["password"] = "(old)", "(changed)"
    _audit(rt, who, "user.update", "user", name, b, a)
    return after


def create_token(rt: Runtime, who: Principal, name: str, user: str | None, role: str | None,
                 agencies: list[str] | None) -> tuple[str, dict[str, Any]]:
    who.require_admin(global_scope=True)
    if user:
        token = store.create_user_token(rt.client, rt.names, user, name)
    elif role and agencies:
        token = store.create_token(rt.client, rt.names, name, role, agencies)
    else:
        raise Invalid("a token acts as a user, or needs a role and agencies of its own")
    token_id = f"token-{token_hash(token)[:32]}"
    info = store.get_token(rt.client, rt.names, token_id)
    _audit(rt, who, "token.create", "token", token_id, {}, info)
    return token, info


def list_tokens(rt: Runtime, who: Principal) -> list[dict[str, Any]]:
    who.require_admin(global_scope=True)
    return [store.public_token(i, d) for i, d in store.list_kind(rt.client, rt.names, "token")]


def revoke_token(rt: Runtime, who: Principal, token_id: str) -> dict[str, Any]:
    who.require_admin(global_scope=True)
    info = store.revoke_token(rt.client, rt.names, token_id)
    _audit(rt, who, "token.revoke", "token", token_id, {"disabled": False}, {"disabled": True})
    return info


def add_webhook(rt: Runtime, who: Principal, spec: dict[str, Any]) -> dict[str, Any]:
    who.require_admin(global_scope=True)
    destinations.check(spec["url"], rt.settings.webhook_allow_private)
    hook_id, doc = store.create_webhook(rt.client, rt.names, spec["name"], spec["url"], spec["agencies"],
                                              spec["min_severity"], spec.get("secret"))
    public = {k: v for k, v in doc.items() if k != "secret"} | {"id": hook_id}
    _audit(rt, who, "webhook.create", "webhook", hook_id, {}, public)
    return public | {"secret": doc["secret"]}


def list_webhooks(rt: Runtime, who: Principal) -> list[dict[str, Any]]:
    who.require_admin(global_scope=True)
    return [{k: v for k, v in d.items() if k != "secret"} | {"id": i}
            for i, d in store.list_kind(rt.client, rt.names, "webhook")]


def delete_webhook(rt: Runtime, who: Principal, hook_id: str) -> None:
    who.require_admin(global_scope=True)
    store.delete_webhook(rt.client, rt.names, hook_id)
    _audit(rt, who, "webhook.delete", "webhook", hook_id, {"id": hook_id}, {})


def add_email(rt: Runtime, who: Principal, spec: dict[str, Any]) -> dict[str, Any]:
    who.require_admin(global_scope=True)
    sub_id, doc = store.create_email(rt.client, rt.names, spec["name"], spec["to"], spec["agencies"],
                                           spec["min_severity"])
    public = doc | {"id": sub_id}
    _audit(rt, who, "email.create", "email", sub_id, {}, public)
    return public


def list_emails(rt: Runtime, who: Principal) -> list[dict[str, Any]]:
    who.require_admin(global_scope=True)
    return [d | {"id": i} for i, d in store.list_kind(rt.client, rt.names, "email")]


def delete_email(rt: Runtime, who: Principal, sub_id: str) -> None:
    who.require_admin(global_scope=True)
    store.delete_webhook(rt.client, rt.names, sub_id, kind="email")
    _audit(rt, who, "email.delete", "email", sub_id, {"id": sub_id}, {})

