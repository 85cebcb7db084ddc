"""A node with the security plugin, started once for the security tests and only when one runs.

The session's plain node serves every other test; this one (512 MB heap) is started by the first
test that asks for ``secured_node`` and stopped at the end of the session. Each test gets its own
index prefix and a service user whose ``soc_service`` role is written for that prefix.
"""

from __future__ import annotations

import contextlib
import io
import os
import secrets
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from soc import cli, search
from soc.config import Settings
from soc.opensearch import bootstrap, node, roles, secured, security_store


@dataclass(frozen=True)
class SecuredNode:
    home: Path
    url: str
    ca_file: str
    admin: Settings  # soc-admin (all_access): what an operator uses to manage identities


@pytest.fixture(scope="session")
def secured_node(geoip_databases: tuple[Path, ...]) -> Iterator[SecuredNode]:
    """Started with the operator's command, ``soc opensearch start --security``, and its ``env``; given
    the suite's geo databases as an operator's SOC_GEOIP_DATABASES would give them."""
    home = Path(tempfile.mkdtemp(prefix="soc-test-secured-"))
    home.chmod(0o755)  # the node runs as the service user when tests run as root
    with pytest.MonkeyPatch.context() as mp:
        for name in [n for n in os.environ if n.startswith("SOC_") and n not in ("SOC_CACHE_DIR", "SOC_M2_REPO")]:
            mp.delenv(name)
        mp.setenv("SOC_GEOIP_DATABASES", ",".join(str(p) for p in geoip_databases))
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = cli.main(["opensearch", "start", "--security", "--port", str(node.free_port()),
                             "--home", str(home), "--heap", "512m"])
        assert code == 0, out.getvalue()
    try:
        env = secured.env(home, admin=True)
        admin = Settings(opensearch_url=env["SOC_OPENSEARCH_URL"], opensearch_user=env["SOC_OPENSEARCH_USER"],
                         opensearch_password=env["SOC_OPENSEARCH_PASSWORD"],
                         opensearch_ca_file=env["SOC_OPENSEARCH_CA_FILE"])
        yield SecuredNode(home, env["SOC_OPENSEARCH_URL"], env["SOC_OPENSEARCH_CA_FILE"], admin)
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
