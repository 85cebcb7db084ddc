"""Configuration: valid files load, wrong ones are refused with the line that is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors import cli
from collectors.config import CollectorConfigError, load_config, parse_config

GOOD = """\
organization:
  id: so-tttt
collector:
  id: col-01
  queue_dir: /tmp/q
opensearch:
  url: http://127.0.0.1:9200
sources:
  - id: fw-01
    protocol: udp
    listen: 0.0.0.0:514
    timezone: Asia/Ho_Chi_Minh
  - id: srv-01
    protocol: tcp
    listen: 0.0.0.0:601
"""


def test_a_good_file_loads_with_defaults() -> None:
    cfg = parse_config(GOOD)
    assert cfg.organization_id == "so-tttt"
    assert [s.id for s in cfg.sources] == ["fw-01", "srv-01"]
    assert cfg.sources[0].timezone == "Asia/Ho_Chi_Minh"
    assert cfg.sources[1].timezone == "UTC" and cfg.sources[1].max_message_bytes == 65536
    assert cfg.metrics_host == "127.0.0.1"


@pytest.mark.parametrize(
    ("old", "new", "line", "words"),
    [
        ("    protocol: udp", "    protocol: sctp", 10, "protocol must be udp, tcp or tls"),
        ("  queue_dir: /tmp/q", "  queue_dir: /tmp/q\n  colour: blue", 6, "unknown key 'colour'"),
        ("    listen: 0.0.0.0:514", "    listen: somewhere", 11, "numeric address"),
        ("    timezone: Asia/Ho_Chi_Minh", "    timezone: Mars/Olympus", 12, "unknown time zone"),
        ("  - id: srv-01", "  - id: fw-01", 13, "already used on line 9"),
        ("  url: http://127.0.0.1:9200", "  url: ftp://x", 7, "must start with http"),
        ("  id: so-tttt", "  id: [a, b]", 2, "must be a single value"),
        ("    protocol: tcp", "    protocol: tls", 13, "tls is required"),
        ("opensearch:", "metrics: {listen: '0.0.0.0:9108'}\nopensearch:", 6, "loopback"),
        ("  id: col-01", "  id: col-01\n bad: [", 5, "not valid YAML"),
    ],
)
def test_errors_name_the_line(old: str, new: str, line: int, words: str) -> None:
    with pytest.raises(CollectorConfigError) as err:
        parse_config(GOOD.replace(old, new, 1), "agency.yml")
    assert str(err.value).startswith(f"agency.yml:{line}: "), str(err.value)
    assert words in str(err.value)


def test_missing_required_key_is_reported() -> None:
    with pytest.raises(CollectorConfigError, match=r"^c.yml:1: organization is required$"):
        parse_config(GOOD.replace("organization:\n  id: so-tttt\n", ""), "c.yml")


def test_check_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.yml"
    good.write_text(GOOD)
    assert cli.main(["check", "-c", str(good)]) == 0
    assert "ok" in capsys.readouterr().out
    bad = tmp_path / "bad.yml"
    bad.write_text(GOOD.replace("protocol: tcp", "protocol: smoke"))
    assert cli.main(["check", "-c", str(bad)]) == 2
    assert f"{bad}:14:" in capsys.readouterr().err
    assert load_config(good).collector_id == "col-01"


def test_check_lists_file_sources_with_their_format_and_patterns(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "files.yml"
    path.write_text(GOOD + """\
  - id: portal-web
    type: file
    format: nginx-json
    paths: [/var/log/nginx/portal.log*, /var/log/nginx/api.log]
""")
    assert cli.main(["check", "-c", str(path)]) == 0
    out = capsys.readouterr().out
    assert "portal-web (file nginx-json: /var/log/nginx/portal.log*, /var/log/nginx/api.log)" in out
    assert "fw-01 (udp 0.0.0.0:514)" in out and ":0" not in out
