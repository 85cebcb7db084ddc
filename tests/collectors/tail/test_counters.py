"""A file source's own counters reach the operator: the Prometheus endpoint and the heartbeat document;
an unreadable checkpoint stops ``soc-collector run`` with one line naming the file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import yaml

from soc import search
from soc.config import Settings
from tests.collectors.conftest import REPO, config_dict, running
from tests.collectors.tail.harness import Writer, file_source, tail_config


def _metric(text: str, name: str, source: str) -> int:
    prefix = f'soc_collector_tail_{name}_total{{source="{source}"}} '
    values = [line[len(prefix):] for line in text.splitlines() if line.startswith(prefix)]
    assert len(values) == 1, f"{prefix!r} not exported once"
    return int(float(values[0]))  # the exposition writes every value as a float


def test_tail_counters_in_metrics_and_heartbeats(isolated: Settings, tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    writer = Writer(log, "count")
    writer.write(300)
    cfg = tail_config(isolated, tmp_path / "q", [file_source("web", "nginx", [str(log)])])
    with running(cfg) as collector:
        tailer = collector.tailers[0]
        assert tailer.wait_caught_up(60), tailer.stats
        with open(log, "ab") as fh:  # a last line without its newline: flushed after partial_flush_seconds
            fh.write(writer.line(300).rstrip(b"\n"))
        assert collector.metrics.wait({"shipped": 301}, 30), collector.metrics.snapshot()
        os.truncate(log, 0)  # copytruncate without a copy: a truncation, its unread bytes lost
        writer.count = 400
        writer.write(50)
        assert collector.metrics.wait({"shipped": 351}, 30), collector.metrics.snapshot()
        assert tailer.wait_caught_up(60), tailer.stats
        assert collector.metrics_server is not None
        text = httpx.get(f"http://127.0.0.1:{collector.metrics_server.port}/metrics", timeout=10).text
        assert collector.heartbeat.beat() == 1
    writer.close()
    assert _metric(text, "lines", "web") == 351
    assert _metric(text, "partial_flushes", "web") == 1
    assert _metric(text, "truncations", "web") == 1
    assert _metric(text, "files", "web") == 2  # the file, and its new content after the truncation
    assert _metric(text, "lost_bytes", "web") == 0  # every byte before the truncation had been read
    client = search.client(isolated)
    index = search.names(isolated).heartbeats
    client.indices.refresh(index=index)
    beat = client.get(index=index, id="heartbeat.col-test.web")["_source"]
    assert beat["tail"]["lines_total"] == 351 and beat["tail"]["truncations_total"] == 1
    assert beat["tail"]["partial_flushes_total"] == 1 and beat["received_total"] == 351


def test_run_refuses_an_unreadable_checkpoint_with_one_line_naming_it(tmp_path: Path) -> None:
    queue = tmp_path / "q"
    queue.mkdir()
    checkpoint = queue / "offsets-web.json"
    checkpoint.write_text('{"version": 1, "files": [{"file_id": ')  # torn by hand: the store never writes this
    cfg = config_dict(None, queue, [file_source("web", "nginx", [str(tmp_path / "*.log")])])
    path = tmp_path / "collector.yml"
    path.write_text(yaml.safe_dump(cfg))
    proc = subprocess.run([sys.executable, "-m", "collectors.cli", "run", "-c", str(path)], cwd=REPO,
                          capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    err = proc.stderr.decode()
    assert proc.returncode == 1
    assert err.count("\n") == 1 and err.startswith("soc-collector: cannot start: ")
    assert str(checkpoint) in err and "move it aside" in err and "Traceback" not in err
    assert checkpoint.read_text() == '{"version": 1, "files": [{"file_id": '  # left for the operator
