"""deploy/compose.yaml: the service connects as its own least-privilege user and verifies the
cluster's certificate; the certificates compose makes are checked with openssl; the node trusts
exactly the administrator and node certificates pki.sh issues."""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from soc.opensearch import roles

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return data


def _openssl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=120, check=False)


def test_the_service_uses_its_own_user_and_verifies_tls() -> None:
    services = _compose()["services"]
    env = services["soc"]["environment"]
    assert env["SOC_OPENSEARCH_USER"] == roles.SERVICE_USER
    assert env["SOC_OPENSEARCH_PASSWORD"].startswith("${SOC_SERVICE_PASSWORD")
    assert str(env["SOC_OPENSEARCH_VERIFY_CERTS"]).lower() == "true"
    assert env["SOC_OPENSEARCH_URL"].startswith("https://")
    ca = env["SOC_OPENSEARCH_CA_FILE"]
    assert any(v.startswith("pki-public:") and ca.startswith(v.split(":")[1]) for v in services["soc"]["volumes"])
    assert services["soc"]["depends_on"]["security-setup"]["condition"] == "service_completed_successfully"
    # the CA and administrator keys reach only the jobs that make and use them
    private = {name for name, svc in services.items()
               if any(str(v).startswith("pki-private:") for v in svc.get("volumes", []))}
    assert private == {"pki", "security-setup"}
    for name in ("os-1", "os-2", "os-3"):
        assert services[name]["environment"]["DISABLE_INSTALL_DEMO_CONFIG"] == "true"
        assert "OPENSEARCH_INITIAL_ADMIN_PASSWORD" not in services[name]["environment"]
    assert "admin" not in str(services["soc"]).replace("SOC_ADMIN", "").lower()


def test_the_security_index_starts_empty_and_provision_loads_the_service_role() -> None:
    for name in ("internal_users", "roles", "roles_mapping"):
        doc = yaml.safe_load((DEPLOY / "compose" / "opensearch-security" / f"{name}.yml").read_text())
        assert set(doc) == {"_meta"}  # no demo or default accounts
    spec = importlib.util.spec_from_file_location("provision", DEPLOY / "compose" / "provision.py")
    assert spec is not None and spec.loader is not None
    provision = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(provision)
    written: list[tuple[str, Any]] = []

    class Recorder:
        def put_role(self, _client: object, name: str, body: dict[str, Any]) -> None:
            written.append(("role", (name, body)))

        def map_role(self, _client: object, role: str, users: list[str]) -> None:
            written.append(("mapping", (role, users)))

        def put_user(self, _client: object, name: str, password: str) -> None:
            written.append(("user", (name, len(password))))

    setattr(provision, "security_store", Recorder())  # noqa: B010 (a module loaded from a file)
    env = {"SOC_ADMIN_PASSWORD": "a" * 16, "SOC_SERVICE_PASSWORD": "s" * 14, "SOC_PROVISION_PKI": "/nonexistent"}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        assert provision.main() == 0
        mp.setenv("SOC_SERVICE_PASSWORD", "short")
        assert provision.main() == 2  # a weak password is refused before anything is written
    assert ("role", (roles.service_role_name(), roles.service_role())) in written
    assert ("mapping", (roles.service_role_name(), [roles.SERVICE_USER])) in written
    assert ("mapping", ("all_access", [roles.ADMIN_USER])) in written
    assert ("user", (roles.SERVICE_USER, 14)) in written and ("user", (roles.ADMIN_USER, 16)) in written


def test_pki_makes_certificates_the_nodes_and_clients_verify(tmp_path: Path) -> None:
    private, node, public = tmp_path / "private", tmp_path / "node", tmp_path / "public"
    run = subprocess.run(["sh", str(DEPLOY / "compose" / "pki.sh"), str(private), str(node), str(public)],
                         capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in public.iterdir()) == ["ca.pem"]
    assert sorted(p.name for p in node.iterdir()) == ["ca.pem", "node-key.pem", "node.pem"]  # no CA key
    assert (private / "ca-key.pem").stat().st_mode & 0o077 == 0
    for host in ("os-1", "os-2", "os-3", "localhost"):
        ok = _openssl("verify", "-CAfile", str(public / "ca.pem"), "-verify_hostname", host, str(node / "node.pem"))
        assert ok.returncode == 0, ok.stdout + ok.stderr
    wrong = _openssl("verify", "-CAfile", str(public / "ca.pem"), "-verify_hostname", "evil", str(node / "node.pem"))
    assert wrong.returncode != 0
    settings = yaml.safe_load((DEPLOY / "compose" / "opensearch.yml").read_text())

    def dn(cert: Path) -> str:
        out = _openssl("x509", "-in", str(cert), "-noout", "-subject", "-nameopt", "RFC2253").stdout
        return out.strip().removeprefix("subject=")

    assert settings["plugins.security.authcz.admin_dn"] == [dn(private / "admin.pem")]
    assert settings["plugins.security.nodes_dn"] == [dn(node / "node.pem")]
    before = (node / "node.pem").read_bytes()
    again = subprocess.run(["sh", str(DEPLOY / "compose" / "pki.sh"), str(private), str(node), str(public)],
                           capture_output=True, text=True, timeout=300, check=False)
    assert again.returncode == 0 and (node / "node.pem").read_bytes() == before  # made once, then kept
