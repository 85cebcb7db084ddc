"""kill -9 during tailing and during replay, then a restart: every line in OpenSearch exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from soc.config import Settings
from tests.collectors.conftest import REPO, CollectorProcess, config_dict
from tests.collectors.tail.harness import Writer, docs, file_source, originals


def _committed_lines(queue_dir: Path, log: Path) -> int:
    """How many lines of ``log`` the checkpoint says OpenSearch has."""
    state = yaml.safe_load((queue_dir / "offsets-web.json").read_text())
    offset = max((f["offset"] for f in state["files"]), default=0)
    return log.read_bytes()[:offset].count(b"\n")


@pytest.mark.parametrize("checkpoint", [0.01, 30.0], ids=["checkpoint-each-ack", "checkpoint-lagging"])
def test_kill_9_while_tailing_then_restart(isolated: Settings, tmp_path: Path, processes: list[Any],
                                           checkpoint: float) -> None:
    log, queue = tmp_path / "access.log", tmp_path / "q"
    source = file_source("web", "nginx", [str(log)], checkpoint_seconds=checkpoint)
    cfg = config_dict(isolated, queue, [source], sink={"batch_max_events": 500})
    path = tmp_path / "collector.yml"
    path.write_text(yaml.safe_dump(cfg))
    writer = Writer(log, "kill", rate=4000)
    first = CollectorProcess(path, queue)
    processes.append(first)
    with writer:
        first.start()
        first.wait(shipped=3000)
        first.kill()  # mid-stream: lines read, queued, in flight and acknowledged at once
        writer.wait_for(2000)
    writer.close()
    total = writer.count
    committed = _committed_lines(queue, log)
    # a checkpoint written on every acknowledgement has moved; one that lags may still be at the start
    # (identities are recorded at offset 0 when first seen), and the restart reads those lines again
    assert committed < total
    if checkpoint < 1:
        assert committed > 0
    second = CollectorProcess(path, queue)
    processes.append(second)
    second.start()
    recovered = second.wait(recovered=0)["recovered"]
    second.wait(timeout=120, shipped=recovered + total - committed)
    second.stop()
    got = originals(isolated, "web")
    assert max(got.values()) == 1 and set(got) == writer.expected()


def _replay(args: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "collectors.cli", "replay", *args], cwd=REPO,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_kill_9_during_replay_then_again_and_a_rerun_from_scratch(
        isolated: Settings, tmp_path: Path, processes: list[Any]) -> None:
    plain = tmp_path / "access.log.1"
    writer = Writer(plain, "replay")
    writer.write(30000)
    writer.close()
    # small batches, one at a time: the first replay takes long enough to be killed midway
    settings = tmp_path / "replay.yml"
    settings.write_text(yaml.safe_dump(config_dict(isolated, tmp_path / "unused", [
        {"id": "unused", "protocol": "udp", "listen": "127.0.0.1:0"}], sink={"batch_max_events": 500, "in_flight": 1})))
    args = ["--type", "nginx", "--agency", "so-test", "--source", "web", "--url", isolated.url,
            "--index-prefix", isolated.index_prefix, "--queue-dir", str(tmp_path / "rq"), str(plain)]
    proc = _replay(["-c", str(settings), *args])
    processes.append(proc)
    assert proc.stderr is not None
    for raw in proc.stderr:  # progress lines: kill once some, not all, is shipped
        line = raw.decode()
        if "shipped" in line and not line.rstrip().endswith(" shipped 0"):
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert len(docs(isolated, "web", ["event.original"])) < 30000
    again = _replay(args)
    processes.append(again)
    out, err = again.communicate(timeout=180)
    assert again.returncode == 0, err.decode()[-2000:]
    summary = out.decode().strip().splitlines()[-1]
    assert "failed 0" in summary
    fresh = _replay([*args[:-2], str(tmp_path / "rq2"), str(plain)])  # a fresh queue: everything read again
    processes.append(fresh)
    out, err = fresh.communicate(timeout=180)
    assert fresh.returncode == 0 and "read 30000 lines" in out.decode(), err.decode()[-2000:]
    got = originals(isolated, "web")
    assert len(got) == 30000 and max(got.values()) == 1 and set(got) == writer.expected()
    assert os.path.exists(tmp_path / "rq" / "offsets-web.json")
