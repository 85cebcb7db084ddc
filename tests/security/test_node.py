"""The secured node: TLS on HTTP and transport with the project's certificates, users, least privilege."""

from __future__ import annotations

import contextlib
import io
import os
import shlex
import ssl
import urllib.error
import urllib.request
from pathlib import Path

import httpx
import pytest
from opensearchpy import AuthorizationException

from soc import cli, search
from soc.config import load_settings
from soc.opensearch import node, retention, roles, secured, security_store
from soc.sources import jobs
from tests.security.conftest import Deployment, SecuredNode


def test_http_is_tls_only_and_needs_credentials(secured_node: SecuredNode) -> None:
    trust = ssl.create_default_context(cafile=secured_node.ca_file)
    with pytest.raises(httpx.HTTPError):  # plain HTTP on the HTTPS port
        httpx.get(secured_node.url.replace("https://", "http://"), timeout=10)
    with pytest.raises(httpx.ConnectError):  # a certificate the system does not trust
        httpx.get(secured_node.url, timeout=10)
    assert httpx.get(secured_node.url, verify=trust, timeout=10).status_code == 401
    admin = secured_node.admin
    r = httpx.get(f"{secured_node.url}/_cluster/health", verify=trust, timeout=10,
                  auth=(admin.opensearch_user or "", admin.opensearch_password or ""))
    assert r.status_code == 200 and r.json()["status"] in ("green", "yellow")


def test_transport_and_http_use_the_project_certificates(secured_node: SecuredNode) -> None:
    client = secured.admin_client(secured_node.home, secured_node.url)  # authenticated by the admin certificate
    certs = client.transport.perform_request("GET", "/_plugins/_security/api/ssl/certs")
    for layer in ("http_certificates_list", "transport_certificates_list"):
        subjects = {c["subject_dn"] for c in certs[layer]}
        assert "CN=soc-node,OU=SOC,O=SOC Service" in subjects, certs
        assert all("soc-local-ca" in c["issuer_dn"] for c in certs[layer])


def test_env_prints_what_the_settings_read(secured_node: SecuredNode) -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["opensearch", "env", "--home", str(secured_node.home)]) == 0
    env: dict[str, str] = {}
    for line in out.getvalue().splitlines():
        export, assignment = shlex.split(line)
        assert export == "export"
        name, _, value = assignment.partition("=")
        env[name] = value
    assert set(env) == {"SOC_OPENSEARCH_URL", "SOC_OPENSEARCH_USER", "SOC_OPENSEARCH_PASSWORD",
                        "SOC_OPENSEARCH_CA_FILE"}
    settings = load_settings(env=env)
    assert settings.opensearch_user == roles.SERVICE_USER and settings.url == secured_node.url
    assert search.client(settings).cluster.health()["status"] in ("green", "yellow")


def test_keys_stay_private(secured_node: SecuredNode) -> None:
    private = secured.private(secured_node.home)
    for path in (private / "pki" / "ca-key.pem", private / "pki" / "admin-key.pem", private / "passwords.json"):
        assert path.stat().st_mode & 0o077 == 0, path
        assert path.stat().st_uid == os.geteuid()
    pid = node.running_pid(node.existing_specs(secured_node.home)[0])
    assert pid is not None
    if os.geteuid() == 0:  # the node runs as its system user, which cannot read the CA's key
        import pwd

        assert os.stat(f"/proc/{pid}").st_uid == pwd.getpwnam(node.SERVICE_USER).pw_uid
        assert private.stat().st_mode & 0o077 == 0 and (private / "pki").stat().st_mode & 0o077 == 0


def test_service_user_has_least_privilege(deployment: Deployment) -> None:
    client = search.client(deployment.service)
    names = search.names(deployment.service)
    client.index(index=names.incidents, id="x", body={"title": "ok"}, refresh=True)  # owns its indices
    retention.apply(deployment.service, client, names)  # rollover and deletion of the log streams
    jobs.run_health(deployment.service)  # reads the log streams, heartbeats and sources
    with pytest.raises(AuthorizationException):
        security_store.put_user(client, "intruder", "a-Long-password-123")
    with pytest.raises(AuthorizationException):
        client.indices.put_settings(index=".opendistro_security", body={"index": {"number_of_replicas": 1}})
    with pytest.raises(AuthorizationException):  # another deployment's indices
        client.index(index="other-soc-incidents", body={"title": "no"})
    with pytest.raises(AuthorizationException):
        client.cluster.put_settings(body={"transient": {"cluster.routing.allocation.enable": "none"}})


def test_status_reads_the_secured_node(secured_node: SecuredNode) -> None:
    rows = node.status(secured_node.home, secured.admin_context(secured_node.home))
    assert rows[0]["running"] and rows[0]["health"] in ("green", "yellow"), rows
    with pytest.raises((urllib.error.URLError, ssl.SSLError)):
        urllib.request.urlopen(secured_node.url, timeout=10)


def test_env_without_a_secured_node_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["opensearch", "env", "--home", str(tmp_path)]) == 1
    assert "no secured node under" in capsys.readouterr().err
    assert cli.main(["opensearch", "start", "--security", "--nodes", "3", "--home", str(tmp_path)]) == 1
    assert "--security runs one node" in capsys.readouterr().err
