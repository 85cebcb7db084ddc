"""Per-agency collector identities: an agency's collector creates events in its own streams only."""

from __future__ import annotations

import contextlib
import io
import ssl
from datetime import UTC, datetime

import httpx
import orjson
import pytest

from collectors.sink import DEADLETTER_MAPPING
from soc import cli
from soc.config import Settings
from tests.security.conftest import Deployment

EVENT = {"event": {"original": "GET / 200", "dataset": "nginx.access"}, "message": "GET / 200"}


def run_cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, *argv: str) -> tuple[int, str, str]:
    monkeypatch.delenv("SOC_CONFIG", raising=False)
    for name, value in (("SOC_OPENSEARCH_URL", settings.url), ("SOC_OPENSEARCH_USER", settings.opensearch_user),
                        ("SOC_OPENSEARCH_PASSWORD", settings.opensearch_password),
                        ("SOC_OPENSEARCH_CA_FILE", settings.opensearch_ca_file),
                        ("SOC_INDEX_PREFIX", settings.index_prefix)):
        monkeypatch.setenv(name, value or "")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(argv))
    return code, out.getvalue(), err.getvalue()


def add_agency(settings: Settings, monkeypatch: pytest.MonkeyPatch, agency: str) -> str:
    code, out, err = run_cli(settings, monkeypatch, "agencies", "add", agency, "--name-vi", f"Sở {agency}",
                             "--name-en", f"Department {agency}")
    assert code == 0, err
    return out


def credentials(settings: Settings, monkeypatch: pytest.MonkeyPatch, agency: str) -> tuple[str, str]:
    code, out, err = run_cli(settings, monkeypatch, "agencies", "collector-credentials", agency)
    assert code == 0, err
    user, password = out.strip().splitlines()[-1].split(" ")
    return user, password


def _doc() -> bytes:
    return orjson.dumps({"@timestamp": datetime.now(UTC).isoformat(), **EVENT})


class Collector:
    """HTTP requests as a collector makes them, over TLS with its credentials."""

    def __init__(self, settings: Settings, auth: tuple[str, str] | None) -> None:
        self.client = httpx.Client(base_url=settings.url, auth=auth, timeout=30,
                                   verify=ssl.create_default_context(cafile=settings.opensearch_ca_file))

    def create(self, index: str, doc_id: str) -> int:
        return self.client.put(f"/{index}/_doc/{doc_id}", params={"op_type": "create"}, content=_doc(),
                               headers={"Content-Type": "application/json"}).status_code

    def bulk_create(self, index: str, doc_id: str) -> int:
        body = orjson.dumps({"create": {"_index": index, "_id": doc_id}}) + b"\n" + _doc() + b"\n"
        r = self.client.post("/_bulk", content=body, headers={"Content-Type": "application/x-ndjson"})
        if r.status_code != 200:
            return r.status_code
        return int(r.json()["items"][0]["create"]["status"])


def test_collector_writes_only_its_own_streams(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> None:
    admin, p = deployment.admin, deployment.admin.index_prefix
    out = add_agency(admin, monkeypatch, "ab")
    assert f"user {p}collector-ab, role {p}soc_collector_ab" in out
    add_agency(admin, monkeypatch, "x-ab")  # its name ends with the first one's: patterns must not mix them
    user, password = credentials(admin, monkeypatch, "ab")
    assert user == f"{p}collector-ab" and len(password) >= 24
    a = Collector(admin, (user, password))

    assert a.bulk_create(f"{p}logs-web-ab", "e1") == 201  # creates the agency's stream on its first write
    assert a.create(f"{p}logs-web-ab", "e2") == 201
    assert a.bulk_create(f"{p}logs-syslog-ab", "e3") == 201
    assert a.create(f"{p}logs-web-ab", "e2") == 409  # written once; never overwritten
    assert a.bulk_create(f"{p}logs-web-x-ab", "e4") == 403  # another agency's stream
    assert a.create(f"{p}logs-web-x-ab", "e5") == 403
    assert a.create(f"{p}soc-sources", "s1") == 403  # source definitions
    assert a.client.get(f"/{p}logs-web-ab/_search").status_code == 403  # reads nothing, not even its own
    assert a.client.delete(f"/{p}logs-web-ab/_doc/e2").status_code == 403
    backing = a.client.get(f"/_data_stream/{p}logs-web-ab").status_code
    assert backing == 403
    # what a collector also writes: its dead letters (an index it creates) and heartbeats
    assert a.client.put(f"/{p}soc-deadletter-ab", json={"mappings": DEADLETTER_MAPPING}).status_code == 200
    assert a.create(f"{p}soc-deadletter-ab", "d1") == 201
    assert a.client.put(f"/{p}soc-deadletter-x-ab", json={"mappings": DEADLETTER_MAPPING}).status_code == 403
    beat = {"kind": "heartbeat", "@timestamp": datetime.now(UTC).isoformat(), "organization": {"id": "ab"}}
    assert a.client.put(f"/{p}soc-heartbeats/_doc/heartbeat.col.src", json=beat).status_code in (200, 201)
    assert a.client.get(f"/{p}soc-heartbeats/_doc/heartbeat.col.src").status_code == 403

    assert Collector(admin, None).bulk_create(f"{p}logs-web-ab", "e6") == 401
    assert Collector(admin, (user, "wrong-password")).create(f"{p}logs-web-ab", "e7") == 401


def test_rotation_ends_the_old_password(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> None:
    admin, p = deployment.admin, deployment.admin.index_prefix
    add_agency(admin, monkeypatch, "so-rot")
    first = credentials(admin, monkeypatch, "so-rot")
    assert Collector(admin, first).create(f"{p}logs-web-so-rot", "r1") == 201
    second = credentials(admin, monkeypatch, "so-rot")
    assert second[0] == first[0] and second[1] != first[1]
    assert Collector(admin, first).create(f"{p}logs-web-so-rot", "r2") == 401
    assert Collector(admin, second).create(f"{p}logs-web-so-rot", "r3") == 201


def test_identities_need_the_admin_user(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = run_cli(deployment.service, monkeypatch, "agencies", "add", "so-svc", "--name-vi", "Sở",
                           "--name-en", "Dept")
    assert code == 1 and "collector identity was not created" in err and "--admin" in err, err
    code, _, err = run_cli(deployment.service, monkeypatch, "agencies", "collector-credentials", "so-svc")
    assert code == 1 and "OpenSearch refused" in err, err
    code, _, err = run_cli(deployment.admin, monkeypatch, "agencies", "collector-credentials", "no-such")
    assert code == 1 and "'no-such' does not exist" in err, err
    # the admin makes the missing identity when issuing its first password
    admin, p = deployment.admin, deployment.admin.index_prefix
    assert Collector(admin, credentials(admin, monkeypatch, "so-svc")).create(f"{p}logs-web-so-svc", "v1") == 201
