"""A known dataset across two ISO weeks (2025-W09 and 2025-W10, Asia/Ho_Chi_Minh), written in the
documented shapes: events in the isolated data streams with explicit @timestamp, alerts, incidents,
audit entries and agency documents. The expected figures in the tests are counted by hand from it.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from opensearchpy import OpenSearch, helpers

from soc import search
from soc.alerts.documents import SEVERITY_RANK, alert_id
from soc.config import Settings
from soc.search import Names

# Week 2025-W10 starts on Monday 2025-03-03 00:00 in Hanoi, 2025-03-02 17:00 UTC.
S = datetime(2025, 3, 2, 17, 0, tzinfo=UTC)
E = S + timedelta(days=7)
AFTER = E + timedelta(hours=8)  # "now" when the report is produced: Monday 2025-03-10 08:00 local + 1 h
A, B, C = "so-tttt", "ubnd-dong-ha", "so-yte"
AGENCIES = [
    {"id": A, "name_vi": "Sở Thông tin và Truyền thông", "name_en": "Department of Information and Communications",
     "timezone": "Asia/Ho_Chi_Minh"},
    {"id": B, "name_vi": "Ủy ban nhân dân thành phố Đông Hà", "name_en": "Dong Ha City People's Committee",
     "timezone": "Asia/Ho_Chi_Minh"},
    {"id": C, "name_vi": "Sở Y tế", "name_en": "Department of Health", "timezone": "Asia/Ho_Chi_Minh"},
]
ATTACKER_WEB, ATTACKER_SSH = "203.0.113.7", "198.51.100.23"
XSS_PATH = "/<script>alert(1)</script>"
XSS_UA = "<img src=x onerror=alert(document.cookie)>"
FORMULA_USER = "=cmd|' /C calc'!A0"
XSS_TITLE = "<script>alert('xss')</script> attack"
XSS_COMMENT = "Blocked <b>203.0.113.7</b> at the firewall"


def _event(agency: str, source: str, at: datetime, ip: str, n: int, **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"@timestamp": at.isoformat(), "organization": {"id": agency},
                           "log": {"source": {"id": source}}, "source": {"ip": ip},
                           "event": {"original": f"line {source} {n} {at.isoformat()}"}}
    for key, value in extra.items():
        node = doc
        *parents, leaf = key.split("__")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return doc


def events() -> list[tuple[str, dict[str, Any]]]:
    """(stream, event) pairs."""
    web, ssh = "logs-web", "logs-syslog"
    out: list[tuple[str, dict[str, Any]]] = []
    h = timedelta(hours=1)
    # a-web this week: 8 events in hour 1, 8 in hour 2, 1 in hour 30 (17); hour 1 is the attacker's.
    paths = ["/wp-login.php"] * 5 + ["/.env"] * 2 + [XSS_PATH]
    for i, path in enumerate(paths):
        out.append((web, _event(A, "a-web", S + h + timedelta(minutes=i), ATTACKER_WEB, i, url__path=path,
                                user_agent__original=XSS_UA, event__dataset="nginx.access")))
    for i in range(8):
        out.append((web, _event(A, "a-web", S + 2 * h + timedelta(minutes=i), "10.0.0.5", 100 + i,
                                url__path="/index.html", event__dataset="nginx.access")))
    out.append((web, _event(A, "a-web", S + 30 * h, "10.0.0.5", 200, url__path="/", event__dataset="nginx.access")))
    # a-web last week: 4; a-old last week only: 2.
    for i in range(4):
        out.append((web, _event(A, "a-web", S - 48 * h + timedelta(minutes=i), "10.0.0.5", 300 + i, url__path="/")))
    for i in range(2):
        out.append((ssh, _event(A, "a-old", S - 60 * h + timedelta(minutes=i), "10.0.0.6", 400 + i)))
    # a-ssh this week: 3 from the SSH attacker at hour 100.
    for i, user in enumerate(["root", "root", FORMULA_USER]):
        out.append((ssh, _event(A, "a-ssh", S + 100 * h + timedelta(minutes=i), ATTACKER_SSH, 500 + i,
                                user__name=user, host__name="web01", event__dataset="syslog")))
    # b-ssh: 2 this week; 5 last week (one a second before the week starts); 1 at the next week's start.
    for i in range(2):
        out.append((ssh, _event(B, "b-ssh", S + 5 * h + timedelta(minutes=i), "10.1.1.1", 600 + i,
                                host__name="b-host")))
    for i in range(4):
        out.append((ssh, _event(B, "b-ssh", S - 24 * h + timedelta(minutes=i), "10.1.1.1", 700 + i)))
    out.append((ssh, _event(B, "b-ssh", S - timedelta(seconds=1), "10.1.1.1", 710)))
    out.append((ssh, _event(B, "b-ssh", E, "10.1.1.1", 720)))
    return out


def _alert(n: int, rule: str, name: str, level: str, tactic: str, agency: str, ip: str, at: datetime) -> dict[str, Any]:
    return {"kind": "match", "created": at.isoformat(), "@timestamp": at.isoformat(),
            "rule": {"id": rule, "name": name, "level": level, "author": "tests", "reference": [],
                     "tags": [f"attack.{tactic}"]},
            "threat": {"tactic": {"name": [tactic]}, "technique": {"id": ["T1190"]}},
            "severity": level, "severity_rank": SEVERITY_RANK[level], "organization": {"id": agency},
            "events": [{"index": "x", "id": f"e{n}"}], "event_count": 1, "group_key": f"source.ip={ip}",
            "summary": f"{name} from {ip}", "first_seen": at.isoformat(), "last_seen": at.isoformat(),
            "source": {"ip": ip}}


def alerts() -> list[dict[str, Any]]:
    h = timedelta(hours=1)
    return [
        _alert(1, "r-web", "Web scanner", "high", "initial-access", A, ATTACKER_WEB, S + h),
        _alert(2, "r-web", "Web scanner", "high", "initial-access", A, ATTACKER_WEB, S + 2 * h),
        _alert(3, "r-ssh", "SSH brute force", "medium", "credential-access", A, ATTACKER_SSH, S + 100 * h),
        _alert(4, "r-crit", "Web shell", "critical", "persistence", B, ATTACKER_WEB, S + 5 * h),
        _alert(5, "r-ssh", "SSH brute force", "medium", "credential-access", B, "10.9.9.9", S - 30 * h),
    ]


def _incident(ident: str, agency: str, severity: str, created: datetime, status: str, *,
              acked: datetime | None = None, resolved: datetime | None = None, resolution: str | None = None,
              ack_due: timedelta, resolve_due: timedelta, ack_breached: bool = False, resolve_breached: bool = False,
              title: str = "", comments: list[str] = (), merged_into: str | None = None) -> dict[str, Any]:  # type: ignore[assignment]
    def iso(t: datetime | None) -> str | None:
        return t.isoformat() if t else None

    return {"id": ident, "title": title or f"Incident {ident}", "status": status, "resolution": resolution,
            "severity": severity, "severity_rank": SEVERITY_RANK[severity], "assignee": None,
            "organization": {"id": agency}, "rule_ids": ["r-web"], "keys": [], "alert_count": 2,
            "first_seen": iso(created), "last_seen": iso(created), "tags": [],
            "entities": [f"source.ip={ATTACKER_WEB}"], "created": iso(created), "updated": iso(created),
            "acknowledged_at": iso(acked), "resolved_at": iso(resolved),
            "closed_at": None, "tta_seconds": int((acked - created).total_seconds()) if acked else None,
            "ttr_seconds": int((resolved - created).total_seconds()) if resolved else None,
            "history": [], "comments": [{"id": str(i), "at": iso(created), "author": "an", "text": t}
                                        for i, t in enumerate(comments)],
            "sla": {"ack_due": iso(created + ack_due), "resolve_due": iso(created + resolve_due),
                    "ack_breached": ack_breached, "resolve_breached": resolve_breached},
            "merged_into": merged_into, "merged_from": []}


def incidents() -> list[dict[str, Any]]:
    h, m = timedelta(hours=1), timedelta(minutes=1)
    return [
        _incident("i1", A, "critical", S + h, "resolved", acked=S + h + 10 * m, resolved=S + 3 * h,
                  resolution="true_positive", ack_due=15 * m, resolve_due=4 * h, title="Web shell upload",
                  comments=["first look", XSS_COMMENT]),
        _incident("i2", A, "high", S + 10 * h, "acknowledged", acked=S + 11 * h, ack_due=30 * m, resolve_due=8 * h,
                  ack_breached=True, resolve_breached=True, title=XSS_TITLE),
        _incident("i3", B, "medium", S - 50 * h, "closed", acked=S - 49 * h, resolved=S + 20 * h,
                  resolution="false_positive", ack_due=4 * h, resolve_due=24 * h, resolve_breached=True),
        _incident("i4", B, "low", S - 100 * h, "new", ack_due=24 * h, resolve_due=72 * h, ack_breached=True),
        _incident("i5", A, "high", S + 12 * h, "acknowledged", acked=S + 12 * h, ack_due=30 * m, resolve_due=8 * h,
                  merged_into="i2"),
        _incident("i6", B, "high", S - 120 * h, "resolved", acked=S - 119 * h - 30 * m, resolved=S - 110 * h,
                  resolution="benign", ack_due=30 * m, resolve_due=8 * h),
    ]


def audit() -> list[dict[str, Any]]:
    h = timedelta(hours=1)

    def entry(at: datetime, action: str, kind: str, ident: str, agency: str | None) -> dict[str, Any]:
        return {"@timestamp": at.isoformat(), "actor": "analyst1", "action": action, "object_type": kind,
                "object_id": ident, "organization": {"id": agency}, "summary": f"{action} {ident}", "details": {}}

    return [entry(S + 30 * h, "exception.create", "exception", "ex-1", A),
            entry(S + 40 * h, "rule.disable", "rule", "r-ssh", None),
            entry(S - 10 * h, "exception.create", "exception", "ex-0", A),
            entry(S + 50 * h, "incident.update", "incident", "i1", A)]


def load(client: OpenSearch, names: Names) -> None:
    actions: list[dict[str, Any]] = []
    for stream, doc in events():
        ident = hashlib.sha256(doc["event"]["original"].encode()).hexdigest()[:20]
        target = names.stream(stream, doc["organization"]["id"])
        actions.append({"_op_type": "create", "_index": target, "_id": ident, "_source": doc})
    for n, doc in enumerate(alerts()):
        actions.append({"_index": names.alerts, "_id": alert_id(doc["rule"]["id"], str(n)), "_source": doc})
    actions += [{"_index": names.incidents, "_id": d["id"], "_source": d} for d in incidents()]
    actions += [{"_index": names.audit, "_id": f"a{n}", "_source": d} for n, d in enumerate(audit())]
    actions += [{"_index": names.agencies, "_id": d["id"], "_source": d} for d in AGENCIES]
    _ok, errors = helpers.bulk(client, actions, refresh="wait_for", raise_on_error=False)
    assert not errors, errors
    client.indices.refresh(index=f"{names.prefix}*")


@pytest.fixture()
def dataset(isolated: Settings) -> Settings:
    load(search.client(isolated), search.names(isolated))
    return isolated
