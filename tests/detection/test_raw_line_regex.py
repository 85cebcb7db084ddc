"""``|re|i`` on the raw line (a case-sensitive keyword) ignores case on the real node; ``|re`` does not."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from soc import search
from soc.alerts import store as alert_store
from soc.config import Settings
from soc.detection import convert, pipeline, rules, runner, store
from soc.detection.settings import DetectionSettings

DS = DetectionSettings(settle_s=0, first_lookback_s=600)


def _sshd(line: str, ip: str) -> dict[str, Any]:
    return {"@timestamp": store.iso(datetime.now(UTC)), "organization": {"id": "dept-r"},
            "event": {"dataset": "syslog", "original": line}, "process": {"name": "sshd"}, "source": {"ip": ip}}


def _compile(tmp_path: Path, detection: str) -> list[convert.Result]:
    f = tmp_path / "r.yml"
    f.write_text("title: raw regex\nid: 3b1d6f2a-5c4e-4d7a-8e9f-0a1b2c3d4e5f\n"
                 f"logsource: {{product: linux, service: sshd}}\ndetection:\n{detection}\nlevel: medium\n")
    loaded, problems = rules.load([f])
    assert not problems
    return convert.compile_rules(loaded)


def _fired(settings: Settings, compiled: list[convert.Result], events: list[dict[str, Any]]) -> list[str]:
    client, names = search.client(settings), search.names(settings)
    store.index_events(client, names, events)
    report = runner.run_cycle(settings, DS, compiled)
    assert not report.errors, report.errors
    return sorted(a["source"]["ip"] for a in alert_store.alerts_by_org(client, names))


@pytest.mark.parametrize(("detection", "hits", "misses"), [
    # letters, a class with a range, escapes (\d, \.) and an alternation
    ("    sel: {message|re|i: 'failed (password|publickey) for [a-z]+ from \\d+\\.\\d+'}",
     ["sshd[1]: FAILED Password for ROOT from 10.1.2.3", "sshd[2]: failed PUBLICKEY for bob from 10.9.9.9"],
     ["sshd[3]: failed password for r00t from 10.1.2.3", "sshd[4]: Accepted password for bob from 10.1.1.1"]),
    # a negated class keeps its meaning in both cases; an anchor at the start
    ("    sel: {message|re|i: '^sshd\\[\\d+\\]: invalid user [^a-z]'}",
     ["sshd[7]: Invalid User 9lives from 10.0.0.1"],
     ["sshd[8]: Invalid user Admin from 10.0.0.1", "x sshd[9]: Invalid user 9lives"]),
])
def test_re_i_on_raw_line_ignores_case(isolated: Settings, tmp_path: Path, detection: str, hits: list[str],
                                        misses: list[str]) -> None:
    compiled = _compile(tmp_path, detection + "\n    condition: sel")
    assert isinstance(compiled[0], convert.Compiled), compiled
    events = [_sshd(line, f"192.0.2.{i}") for i, line in enumerate(hits, 1)]
    events += [_sshd(line, f"198.51.100.{i}") for i, line in enumerate(misses, 1)]
    assert _fired(isolated, compiled, events) == sorted(f"192.0.2.{i}" for i in range(1, len(hits) + 1))


def test_re_without_i_stays_case_sensitive(isolated: Settings, tmp_path: Path) -> None:
    compiled = _compile(tmp_path, "    sel: {message|re: 'Accepted \\w+ for'}\n    condition: sel")
    events = [_sshd("sshd[1]: Accepted password for bob", "192.0.2.1"),
              _sshd("sshd[2]: ACCEPTED password for bob", "198.51.100.1")]
    assert _fired(isolated, compiled, events) == ["192.0.2.1"]


def test_raw_line_keywords_with_lucene_operators_are_literal(isolated: Settings, tmp_path: Path) -> None:
    compiled = _compile(tmp_path, "    kw: ['@@version', '<tag>']\n    condition: kw")
    events = [_sshd("sshd[1]: x=@@VERSION", "192.0.2.1"), _sshd("sshd[2]: x=<TAG>", "192.0.2.2"),
              _sshd("sshd[3]: Safari Version/17.5", "198.51.100.1"), _sshd("sshd[4]: xtagx", "198.51.100.2")]
    assert _fired(isolated, compiled, events) == ["192.0.2.1", "192.0.2.2"]


def test_template_only_touches_case_insensitive_raw_line_regexes() -> None:
    from jinja2.sandbox import SandboxedEnvironment

    template = SandboxedEnvironment().from_string(pipeline.RAW_LINE_IGNORE_CASE)
    query = ("url.original:/(?i)ab/ AND event.original.keyword:/(?i)a[b-c\\d]\\W\\/x/ "
             "OR event.original.keyword:/Ab/")
    assert template.render(query=query) == ("url.original:/(?i)ab/ AND event.original.keyword:/[aA][b-c\\dB-C\\d]"
                                            "\\W\\/[xX]/ OR event.original.keyword:/Ab/")
