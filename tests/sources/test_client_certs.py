"""TLS sources require client certificates by default, and ``soc sources add`` issues the host's
certificate from the SOC CA (checked with openssl); without a CA nothing is stored."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from soc import cli, search
from soc.config import Settings
from soc.sources import store
from tests.sources.conftest import add_agency


@pytest.fixture()
def cli_env(isolated: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("SOC_OPENSEARCH_URL", isolated.url)
    monkeypatch.setenv("SOC_INDEX_PREFIX", isolated.index_prefix)
    add_agency(isolated, "so-test", address="collector.so-test.vn")
    return isolated


def _openssl(*args: str) -> str:
    return subprocess.run(["openssl", *args], capture_output=True, text=True, check=True, timeout=60).stdout


def test_sources_add_issues_a_client_certificate_and_requires_one(cli_env: Settings, pki: Path, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "db01"
    assert cli.main(["sources", "add", "--agency", "so-test", "--type", "syslog", "--name", "Database",
                     "--host", "db01.so-test.vn", "--ca-dir", str(pki), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    cert, key = out / "client-db01.so-test.vn.pem", out / "client-db01.so-test.vn-key.pem"
    assert f"wrote {cert}" in printed and key.stat().st_mode & 0o077 == 0  # the key is private
    assert "OK" in _openssl("verify", "-CAfile", str(pki / "ca.pem"), str(cert))
    text = _openssl("x509", "-in", str(cert), "-noout", "-text")
    assert "TLS Web Client Authentication" in text and "TLS Web Server Authentication" not in text
    assert "DNS:db01.so-test.vn" in text and "OU = so-test" in text
    # the certificate and the key belong together
    assert _openssl("x509", "-in", str(cert), "-noout", "-pubkey") == _openssl("pkey", "-in", str(key), "-pubout")
    entry = yaml.safe_load(next(out.glob("collector-source-*.yml")).read_text())[0]
    assert entry["tls"]["client_auth"] == "required" and entry["tls"]["ca"] == "/etc/soc/tls/ca.pem"
    rsyslog = next(out.glob("rsyslog-*.conf")).read_text()
    assert 'StreamDriver.CertFile="/etc/ssl/soc/client.pem"' in rsyslog
    assert 'StreamDriver.KeyFile="/etc/ssl/soc/client-key.pem"' in rsyslog


def test_without_a_ca_nothing_is_stored(cli_env: Settings, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["sources", "add", "--agency", "so-test", "--type", "syslog", "--name", "Database",
                     "--host", "db02", "--ca-dir", str(tmp_path / "no-ca"), "--out", str(tmp_path / "out")])
    assert code == 1
    assert "no SOC CA to sign the host's client certificate" in capsys.readouterr().err
    client, names = search.client(cli_env), search.names(cli_env)
    client.indices.refresh(index=names.sources)
    assert store.search(client, names, None) == []
    assert not (tmp_path / "out").exists()
