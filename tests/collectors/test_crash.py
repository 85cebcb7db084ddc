"""Crash test: 100k events through ``soc-collector run`` while it is killed with SIGKILL and restarted;
afterwards OpenSearch holds every event exactly once.

Each chunk of events is sent over TCP, the test waits until the collector has queued all of it (a
syslog sender has no acknowledgement, so what sits unread in a killed process's socket buffer is
gone on any syslog receiver: the test does not kill in that window), then kills the process at a
moment chosen at random while the sink is shipping, and restarts it on the same queue folder.
Small segments make the kills land around segment rolls and deletions too.
"""

from __future__ import annotations

import random
import uuid
from pathlib import Path
from typing import Any

import yaml

from soc import search
from soc.config import Settings
from tests.collectors.conftest import CollectorProcess, config_dict, marker_lines, originals, send_tcp

TOTAL = 100_000
CHUNKS = 5


def test_sigkill_during_shipping_neither_loses_nor_duplicates(isolated: Settings, tmp_path: Path,
                                                             processes: list[Any]) -> None:
    rng = random.Random(20261127)
    tag = f"crash{uuid.uuid4().hex[:6]}"
    queue_dir = tmp_path / "q"
    cfg = config_dict(isolated, queue_dir, [{"id": "s", "protocol": "tcp", "listen": "127.0.0.1:0"}],
                      collector={"segment_bytes": 1 << 20}, sink={"batch_max_events": 2000})
    path = tmp_path / "collector.yml"
    path.write_text(yaml.safe_dump(cfg))
    per_chunk = TOTAL // CHUNKS
    kills = 0
    recovered_seen = []
    for chunk in range(CHUNKS):
        proc = CollectorProcess(path, queue_dir)
        processes.append(proc)
        proc.start()
        start = proc.wait(timeout=5)
        recovered_seen.append(start["recovered"])
        send_tcp(proc.port("s"), marker_lines(tag, per_chunk, start=chunk * per_chunk), octet=chunk % 2 == 0)
        queued = proc.wait(received=start["received"] + per_chunk, timeout=120)
        if chunk % 2:  # otherwise kill at once, while the sink is still behind
            proc.wait(shipped=min(queued["shipped"] + rng.randint(1, per_chunk // 2), queued["received"]), timeout=120)
        proc.kill()
        kills += 1
    final = CollectorProcess(path, queue_dir)
    processes.append(final)
    final.start()
    backlog = final.wait(timeout=5)["recovered"]
    done = final.wait(shipped=backlog, timeout=180)
    final.stop()
    assert kills == CHUNKS and any(r > 0 for r in [*recovered_seen[1:], backlog])  # kills left work behind
    assert done["received"] == done["shipped"] == backlog and done["queued"] == 0
    docs = originals(isolated)
    client = search.client(isolated)
    assert client.count(index=search.names(isolated).syslog)["count"] == TOTAL  # independent of the scroll
    assert len(set(docs)) == TOTAL, f"{TOTAL - len(set(docs))} events missing"
    assert len(docs) == TOTAL, f"{len(docs) - TOTAL} duplicates"
