"""The parsers against the real logs in ../shared/testdata (skipped when that folder is absent)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from collectors.parsers import ParseContext
from tests.collectors.parsers.contract import RECEIVED, failed, get, run

SYSLOG_FILES = ("auth.log", "syslog.log", "messages.rfc5424.log", "messages.rfc3339.log")
# fields that must agree between the combined line and the JSON object of the same request
SAME_REQUEST = (
    "@timestamp", "source.ip", "user.name", "http.request.method", "url.original", "url.path", "url.query",
    "url.decoded.original", "http.version", "http.response.status_code", "http.response.body.bytes",
    "http.request.referrer", "user_agent.original", "user_agent.name", "message",
)  # fmt: skip


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines()


def parsed(kind: str, path: Path) -> list[dict[str, Any]]:
    ctx = ParseContext(received_at=RECEIVED)
    return [run(kind, line, ctx) for line in lines(path)]


@pytest.mark.parametrize("name", SYSLOG_FILES)
def test_every_syslog_line_parses(shared_dir: Path, name: str) -> None:
    events = parsed("syslog", shared_dir / "testdata" / "syslog" / name)
    assert len(events) > 0
    assert [e["event"]["original"] for e in events if failed(e)] == []
    assert all(e["@timestamp"].startswith(("2026-11-26T23:5", "2026-11-27T00:0")) for e in events)
    assert all(e["host"]["name"] == "vm" for e in events)


def test_the_four_syslog_files_tell_the_same_story(shared_dir: Path) -> None:
    folder = shared_dir / "testdata" / "syslog"
    traditional = parsed("syslog", folder / "auth.log") + parsed("syslog", folder / "syslog.log")

    def summary(events: list[dict[str, Any]]) -> Counter[tuple[Any, ...]]:
        keys = ("event.action", "event.outcome", "user.name", "user.target.name", "source.ip", "process.name")
        return Counter(tuple(get(e, k) for k in keys) for e in events)

    expected = summary(traditional)
    assert summary(parsed("syslog", folder / "messages.rfc5424.log")) == expected
    assert summary(parsed("syslog", folder / "messages.rfc3339.log")) == expected


def test_hydra_and_alice_in_auth_log(shared_dir: Path) -> None:
    folder = shared_dir / "testdata"
    events = parsed("syslog", folder / "syslog" / "auth.log")
    actors = (folder / "labels" / "syslog" / "auth.log.actors").read_text().split()
    assert len(actors) == len(events)
    hydra_failed = [e for e, actor in zip(events, actors, strict=True)
                    if actor == "hydra" and get(e, "event.action") == "ssh_login"]  # fmt: skip
    assert len(hydra_failed) == 24  # 4 tasks x 6 tries, each a "Failed password for root"
    for event in hydra_failed:
        assert (get(event, "source.ip"), get(event, "event.outcome"), get(event, "user.name")) == (
            "127.0.0.31",
            "failure",
            "root",
        )
    logins = [e for e in events if get(e, "event.action") == "ssh_login" and get(e, "event.outcome") == "success"]
    assert {(get(e, "user.name"), get(e, "source.ip")) for e in logins} == {("alice", "127.0.0.10")}
    sudo = [e for e in events if get(e, "event.action") == "sudo_command"]
    assert len(sudo) == 3
    assert {(get(e, "user.name"), get(e, "user.target.name")) for e in sudo} == {("alice", "root")}
    assert "/usr/bin/su - -c whoami" in {get(e, "process.command_line") for e in sudo}
    su = [e for e in events if get(e, "event.action") == "su_session"]
    assert [(get(e, "user.target.name"), get(e, "event.outcome")) for e in su] == [("root", "success")]
    sudo_pam = [
        e for e in events if get(e, "process.name") == "sudo" and get(e, "event.action") == "authentication_failure"
    ]
    assert [get(e, "user.name") for e in sudo_pam] == ["alice"]  # the mistyped sudo password
    pam_failures = [e for e in events if get(e, "event.action") == "authentication_failure" and get(e, "source.ip")]
    assert {get(e, "source.ip") for e in pam_failures} == {"127.0.0.31", "127.0.0.10"}


def test_cron_jobs_in_syslog_log(shared_dir: Path) -> None:
    events = parsed("syslog", shared_dir / "testdata" / "syslog" / "syslog.log")
    jobs = [
        (get(e, "user.name"), get(e, "process.command_line"))
        for e in events
        if get(e, "event.action") == "cron_command"
    ]
    assert ("alice", "/usr/bin/uptime >/dev/null 2>&1") in jobs and len(jobs) == 5


def test_access_logs_parse_and_both_formats_agree(shared_dir: Path) -> None:
    folder = shared_dir / "testdata" / "nginx"
    combined = parsed("nginx", folder / "access.log")
    as_json = parsed("nginx-json", folder / "access.json.log")
    assert len(combined) == len(as_json) == 2632
    assert [e["event"]["original"] for e in combined if failed(e)] == []
    assert [e["event"]["original"] for e in as_json if failed(e)] == []
    for one, other in zip(combined, as_json, strict=True):
        for field in SAME_REQUEST:
            assert get(one, field) == get(other, field), (field, one["event"]["original"])
    by_address = Counter(get(e, "source.ip") for e in combined)
    assert by_address == {"127.0.0.10": 1500, "127.0.0.22": 1084, "127.0.0.23": 47, "127.0.0.25": 1}
    domains = Counter(get(e, "url.domain") for e in as_json)  # nginx's $host: the client's Host header
    assert None not in domains and domains["shop.acme.test"] > 1500
    statuses = Counter(get(e, "http.response.status_code") for e in combined)
    assert statuses[400] > 0 and statuses[200] > 0
    assert {get(e, "event.outcome") for e in combined if get(e, "http.response.status_code") == 400} == {"failure"}


def test_attack_payloads_are_visible_decoded(shared_dir: Path) -> None:
    events = parsed("nginx", shared_dir / "testdata" / "nginx" / "access.log")
    curl = [e for e in events if get(e, "source.ip") == "127.0.0.23"]
    decoded = " ".join(str(get(e, "url.decoded.original")) for e in curl)
    assert "${jndi:" in decoded
    assert "../" in decoded
    assert any(
        "%2e" in str(get(e, "url.original")).lower() or "%2f" in str(get(e, "url.original")).lower() for e in curl
    )
    agents = Counter(get(e, "user_agent.name") for e in events if get(e, "source.ip") == "127.0.0.10")
    assert agents.most_common(1)[0][0] in {"Firefox", "Chrome", "Safari", "Edge"}


@pytest.mark.parametrize(
    ("kind", "name"),
    [("syslog", "loghub_OpenSSH_2k.log"), ("syslog", "loghub_Linux_2k.log"),
     ("apache", "elastic_examples_apache_logs_head3000.log")],
)  # fmt: skip
def test_third_party_samples_parse(shared_dir: Path, kind: str, name: str) -> None:
    events = parsed(kind, shared_dir / "testdata" / "public" / name)
    assert [e["event"]["original"] for e in events if failed(e)] == []
