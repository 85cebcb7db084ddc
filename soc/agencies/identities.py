"""Each agency's collector identity on a cluster with the security plugin: a role and a user.

The role (``soc_collector_<agency>``, see ``soc.opensearch.roles``) lets the agency's collectors
create events in their own log streams, their dead letters and heartbeats, and nothing else. The
user (``collector-<agency>``) is mapped to it; its password is shown once when issued and only
the plugin's hash of it is kept.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from opensearchpy import OpenSearch

from soc.agencies import store
from soc.audit import store as audit_store
from soc.auth import Principal
from soc.errors import Invalid
from soc.opensearch import roles, security_store
from soc.search import Names


@dataclass(frozen=True)
class Identity:
    role: str
    user: str


def identity(names: Names, agency_id: str) -> Identity:
    return Identity(roles.collector_role_name(agency_id, names.prefix), roles.collector_user(agency_id, names.prefix))


def ensure(client: OpenSearch, names: Names, agency_id: str) -> Identity | None:
    """Create or update the agency's collector role, user and mapping; None without the security plugin.

    A new user gets a random password that is not shown: ``issue`` gives it one to use.
    """
    if not security_store.enabled(client):
        return None
    ident = identity(names, agency_id)
    security_store.put_role(client, ident.role, roles.collector_role(agency_id, names.prefix))
    security_store.map_role(client, ident.role, [ident.user])
    if not security_store.user_exists(client, ident.user):
        security_store.put_user(client, ident.user, secrets.token_urlsafe(32), {"agency": agency_id})
    return ident


def issue(client: OpenSearch, names: Names, who: Principal, agency_id: str) -> tuple[Identity, str]:
    """Issue (or rotate) the password of the agency's collector user; the old one stops working."""
    who.require_admin(global_scope=True)
    store.get(client, names, agency_id)  # NotFound for an unknown agency
    ident = ensure(client, names, agency_id)
    if ident is None:
        raise Invalid("this cluster has no security plugin: collectors need no credentials there")
    password = secrets.token_urlsafe(24)
    security_store.put_user(client, ident.user, password, {"agency": agency_id})
    audit_store.append(client, names, [audit_store.entry(
        datetime.now(UTC), who.name, "agency.collector_credentials", "agency", agency_id, agency_id,
        f"collector password of {ident.user} issued")])
    return ident, password
