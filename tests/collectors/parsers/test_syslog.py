# ruff: noqa: E501  (log lines are corpus data; they stay whole)
from datetime import UTC, datetime

import pytest

from tests.collectors.parsers.contract import failed, get, run


def test_rfc5424_header_and_structured_data_are_kept() -> None:
    line = (
        "<165>1 2026-08-24T05:14:15.000003-07:00 web01.example.gov evntslog 8710 ID47 "
        '[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][meta sequenceId="7" '
        'note="a \\"quoted\\" \\] and \\\\ slash"] An application event'
    )
    event = run("syslog", line)
    assert event["@timestamp"] == "2026-08-24T12:14:15.000003Z"
    syslog = event["log"]["syslog"]
    assert syslog["structured_data"] == {
        "exampleSDID@32473": {"iut": "3", "eventSource": "Application", "eventID": "1011"},
        "meta": {"sequenceId": "7", "note": 'a "quoted" ] and \\ slash'},
    }
    assert (syslog["priority"], syslog["facility"], syslog["severity"]) == (
        165,
        {"code": 20, "name": "local4"},
        {"code": 5, "name": "notice"},
    )
    assert (syslog["appname"], syslog["procid"], syslog["msgid"], syslog["version"]) == (
        "evntslog",
        "8710",
        "ID47",
        "1",
    )
    assert event["host"]["name"] == "web01.example.gov"
    assert event["process"] == {"name": "evntslog", "pid": 8710}
    assert event["message"] == "An application event"
    assert event["soc"]["parser"] == "rfc5424"
    assert not failed(event)


def test_rfc5424_bom_before_message_is_dropped_and_nil_values_left_out() -> None:
    event = run("syslog", "<34>1 2026-10-11T22:14:15.003Z - su - - - \ufeff'su root' failed for lonvick on /dev/pts/8")
    assert event["message"] == "'su root' failed for lonvick on /dev/pts/8"
    assert "hostname" not in event["log"]["syslog"] and "procid" not in event["log"]["syslog"]
    assert "structured_data" not in event["log"]["syslog"]
    assert event["event"]["original"].startswith("<34>1 ")


def test_rfc5424_nil_timestamp_takes_the_receive_time_and_host_falls_back_to_context() -> None:
    received = datetime(2026, 5, 1, 8, 0, 0, tzinfo=UTC)
    event = run(
        "syslog", "<13>1 - - app - - - hello", received_at=received, hostname="sender.example", peer_ip="10.1.2.3"
    )
    assert event["@timestamp"] == "2026-05-01T08:00:00Z"
    assert event["host"] == {"name": "sender.example", "ip": "10.1.2.3"}


def test_rfc5424_two_spaces_after_nil_structured_data_as_rsyslog_writes() -> None:
    event = run(
        "syslog", "<38>1 2026-11-26T23:59:17.277913+00:00 vm sshd 18241 - -  Server listening on 127.0.0.1 port 2222."
    )
    assert event["message"] == "Server listening on 127.0.0.1 port 2222."
    assert event["event"]["action"] == "ssh_server_start"


@pytest.mark.parametrize(
    ("line", "received", "expected"),
    [
        # a Dec 31 line received on Jan 1 is from last year
        ("<13>Dec 31 23:59:58 host app: bye", datetime(2027, 1, 1, 0, 0, 5, tzinfo=UTC), "2026-12-31T23:59:58Z"),
        # a Jan 1 line received on Dec 31 (sender's clock ahead) is from next year
        ("<13>Jan  1 00:00:03 host app: hi", datetime(2026, 12, 31, 23, 59, 50, tzinfo=UTC), "2027-01-01T00:00:03Z"),
        ("<13>Jun 15 12:00:00 host app: mid", datetime(2026, 6, 15, 12, 0, 1, tzinfo=UTC), "2026-06-15T12:00:00Z"),
        # Feb 29 only exists in leap years: the nearest one that has it
        ("Feb 29 10:00:00 host app: leap", datetime(2028, 3, 1, tzinfo=UTC), "2028-02-29T10:00:00Z"),
    ],
)
def test_rfc3164_year_is_inferred_across_new_year(line: str, received: datetime, expected: str) -> None:
    assert run("syslog", line, received_at=received)["@timestamp"] == expected


def test_rfc3164_time_is_read_in_the_source_time_zone() -> None:
    line = "Nov 27 07:00:00 vm sshd[1]: Server listening on 0.0.0.0 port 22."
    assert run("syslog", line, timezone="Asia/Ho_Chi_Minh")["@timestamp"] == "2026-11-27T00:00:00Z"
    assert run("syslog", line, timezone="+07:00")["@timestamp"] == "2026-11-27T00:00:00Z"
    event = run("syslog", line, timezone="America/New_York")
    assert event["@timestamp"] == "2026-11-27T12:00:00Z"
    assert event["event"]["timezone"] == "America/New_York"


def test_unknown_time_zone_is_flagged_not_silently_guessed() -> None:
    event = run("syslog", "Nov 27 07:00:00 vm app: x", timezone="Mars/Olympus")
    assert event["@timestamp"] == "2026-11-27T07:00:00Z"
    assert "_timezone_unknown" in event["tags"]


def test_rfc3164_without_hostname() -> None:
    event = run("syslog", "<38>Nov 26 23:59:44 sshd[18349]: Failed password for root from 127.0.0.31 port 46232 ssh2",
                hostname="from-config", peer_ip="192.0.2.7")  # fmt: skip
    assert "hostname" not in event["log"]["syslog"]
    assert event["host"] == {"name": "from-config", "ip": "192.0.2.7"}
    assert event["process"] == {"name": "sshd", "pid": 18349}
    assert event["source"] == {"ip": "127.0.0.31", "port": 46232}


def test_rfc3164_with_year_fraction_and_ipv6_host() -> None:
    event = run("syslog", "<14>Nov 26 2025 23:59:17.250 fe80::1 app[7]: with year")
    assert event["@timestamp"] == "2025-11-26T23:59:17.250000Z"
    assert event["log"]["syslog"]["hostname"] == "fe80::1"
    assert event["message"] == "with year"


def test_rfc3164_without_tag_keeps_the_message() -> None:
    event = run("syslog", "<13>Nov 26 23:59:17 printer01 paper jam in tray 2")
    assert event["host"]["name"] == "printer01"
    assert event["message"] == "paper jam in tray 2"
    assert "process" not in event and not failed(event)


@pytest.mark.parametrize(
    ("line", "sequence", "host", "stamp"),
    [
        ("<189>1234: router1: *Mar  1 00:00:00.123: %SYS-5-CONFIG_I: Configured from console by vty0",
         1234, "router1", "2027-03-01T00:00:00.123000Z"),
        ("<187>57: *Mar  1 18:46:11: %LINK-3-UPDOWN: Interface Gi0/1, changed state to up",
         57, None, "2027-03-01T18:46:11Z"),
        ("<190>4711: Nov 26 2026 23:10:00.5 UTC: %SEC-6-IPACCESSLOGP: list 101 denied tcp 10.1.1.1(1234) -> 10.2.2.2(22)",
         4711, None, "2026-11-26T23:10:00.500000Z"),
    ],
)  # fmt: skip
def test_cisco_sequence_numbers_and_star_timestamps(line: str, sequence: int, host: str | None, stamp: str) -> None:
    event = run("syslog", line)
    assert event["soc"] == {"parser": "cisco", "sequence": sequence}
    assert event["@timestamp"] == stamp
    assert get(event, "log.syslog.hostname") == host
    assert event["event"]["code"].count("-") >= 2
    assert not event["message"].startswith("%")
    assert not failed(event)


def test_cisco_zone_name_utc_wins_over_the_source_zone() -> None:
    line = "<190>1: Nov 26 2026 23:10:00 UTC: %SYS-5-RESTART: System restarted"
    assert run("syslog", line, timezone="Asia/Ho_Chi_Minh")["@timestamp"] == "2026-11-26T23:10:00Z"


def test_rsyslog_file_format_with_rfc3339_stamp() -> None:
    event = run("syslog", "2026-11-27T07:00:44.1+07:00 vm su[18681]: (to root) root on none")
    assert event["@timestamp"] == "2026-11-27T00:00:44.100000Z"
    assert event["soc"]["parser"] == "rfc3339"
    assert event["user"] == {"name": "root", "target": {"name": "root"}}


def test_program_with_pam_suffix_and_path() -> None:
    event = run("syslog", "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; logname= uid=0 "
                          "euid=0 tty=NODEVssh ruser= rhost=218.188.2.4 ")  # fmt: skip
    assert event["process"] == {"name": "sshd", "pid": 19939}
    assert event["event"]["action"] == "authentication_failure"
    assert event["source"] == {"ip": "218.188.2.4"}
    assert "user" not in event


@pytest.mark.parametrize(
    "line",
    ["", "hello world", "<13>", "<999>Nov 26 23:59:17 h a: b", "Nov 99 23:59:17 h a: b", "Foo 26 23:59:17 h a: b",
     "2026-13-45T99:99:99Z host app: x", "<13>1 not-a-date host app - - - msg", "<-1>x"],
)  # fmt: skip
def test_unknown_lines_are_kept_and_tagged(line: str) -> None:
    event = run("syslog", line or " ")
    if failed(event):
        assert event["message"] is not None
        assert event["@timestamp"] == "2026-11-27T00:03:00Z"  # receive time


def test_failures_really_are_failures() -> None:
    for line in ("hello world", "Foo 26 23:59:17 h a: b", "<13>1 not-a-date host app - - - msg"):
        event = run("syslog", line)
        assert failed(event), line
        assert event["message"]
    event = run("syslog", "<13>just text")
    assert failed(event) and event["message"] == "just text"
    assert event["log"]["syslog"]["severity"]["name"] == "notice"


def test_invalid_priority_is_tagged_not_trusted() -> None:
    event = run("syslog", "<999>Nov 26 23:59:17 host app: text")
    assert "_syslog_priority_invalid" in event["tags"]
    assert "priority" not in event["log"]["syslog"]
