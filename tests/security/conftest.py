"""A node with the security plugin, started once for the security tests and only when one runs.

The session's plain node serves every other test; this one (512 MB heap) is started by the first
test that asks for ``secured_node`` and stopped at the end of the session. Each test gets its own
index prefix and a service user whose ``soc_service`` role is written for that prefix.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from soc import search
from soc.config import Settings, default_cache
from soc.opensearch import bootstrap, node, roles, secured, security_store


@dataclass(frozen=True)
class SecuredNode:
    home: Path
    url: str
    ca_file: str
    admin: Settings  # soc-admin (all_access): what an operator uses to manage identities


@pytest.fixture(scope="session")
def secured_node() -> Iterator[SecuredNode]:
    home = Path(tempfile.mkdtemp(prefix="soc-test-secured-"))
    home.chmod(0o755)  # the node runs as the service user when tests run as root
    dist_home = secured.install(secured.VERSION, default_cache())
    spec = node.start(dist_home, home, node.free_port(), heap="512m", timeout=180,
                      secured=secured.preparer(dist_home, home))[0]
    try:
        secured.provision(home, spec.url)
        env = secured.env(home, admin=True)
        admin = Settings(opensearch_url=env["SOC_OPENSEARCH_URL"], opensearch_user=env["SOC_OPENSEARCH_USER"],
                         opensearch_password=env["SOC_OPENSEARCH_PASSWORD"],
                         opensearch_ca_file=env["SOC_OPENSEARCH_CA_FILE"])
        yield SecuredNode(home, spec.url, env["SOC_OPENSEARCH_CA_FILE"], admin)
    finally:
        node.stop(home)
        shutil.rmtree(home, ignore_errors=True)


@dataclass(frozen=True)
class Deployment:
    admin: Settings  # the operator (soc-admin), with this test's prefix
    service: Settings  # the service's own user for this prefix (soc_service role)


@pytest.fixture()
def deployment(secured_node: SecuredNode) -> Iterator[Deployment]:
    """A prefix of its own, a service user with the soc_service role for it, bootstrapped by that user."""
    prefix = f"t{uuid.uuid4().hex[:10]}-"
    admin = replace(secured_node.admin, index_prefix=prefix)
    admin_client = search.client(admin)
    password = secrets.token_urlsafe(24)
    security_store.put_role(admin_client, roles.service_role_name(prefix), roles.service_role(prefix))
    security_store.map_role(admin_client, roles.service_role_name(prefix), [roles.service_user(prefix)])
    security_store.put_user(admin_client, roles.service_user(prefix), password)
    service = replace(admin, opensearch_user=roles.service_user(prefix), opensearch_password=password)
    bootstrap.init(service, search.client(service), search.names(service))
    yield Deployment(admin, service)
    bootstrap.remove_prefix(admin_client, prefix)
