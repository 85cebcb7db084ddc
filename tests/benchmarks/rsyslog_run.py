"""rsyslog with omelasticsearch as a competent admin would set it up, for the collector benchmark.

imtcp hands messages to a ruleset with its own in-memory queue (the input thread never waits on
OpenSearch); the omelasticsearch action has its own queue with ``workers`` worker threads, each
with its own connection, dequeuing batches of ``batch`` messages, and sends each batch as one bulk
request (``bulkmode``, up to ``maxbytes``). A second worker starts as soon as a batch's worth is
waiting (``queue.workerThreadMinimumMessages``), not only when the queue is nearly full (rsyslog's
default threshold is the queue size divided by the workers). Its documents are thinner than the
collector's: no parsing beyond the syslog header.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from soc.config import Settings
from tests.benchmarks import measure

CONF = """\
global(workDirectory="{work}")
module(load="imtcp")
module(load="omelasticsearch")
input(type="imtcp" address="127.0.0.1" port="{port}" ruleset="ship" SupportOctetCountedFraming="on")
template(name="doc" type="string" string="{{\\"@timestamp\\":\\"%timereported:::date-rfc3339%\\",\
\\"message\\":\\"%msg:::json%\\",\\"event\\":{{\\"original\\":\\"%rawmsg:::json%\\",\\"dataset\\":\\"syslog\\"}},\
\\"host\\":{{\\"name\\":\\"%hostname:::json%\\"}},\\"process\\":{{\\"name\\":\\"%app-name:::json%\\"}}}}")
template(name="bulkid" type="string" string="%uuid%")
ruleset(name="ship" queue.type="LinkedList" queue.size="500000" queue.dequeueBatchSize="{batch}") {{
  action(type="omelasticsearch" server="127.0.0.1" serverport="{es_port}" searchIndex="{index}"
         template="doc" bulkmode="on" writeoperation="create" bulkid="bulkid" dynbulkid="on"
         esVersion.major="8" maxbytes="16m" errorfile="{work}/errors.json"
         queue.type="LinkedList" queue.size="500000" queue.dequeueBatchSize="{batch}"
         queue.workerThreads="{workers}" queue.workerThreadMinimumMessages="{batch}"
         action.resumeRetryCount="-1")
}}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(settings: Settings, data: list[bytes], work: Path, index: str, pattern: str, workers: int,
        batch: int, send: Callable[[int, list[bytes]], None]) -> float:
    """Events/s from the first byte sent to the last stored document's ``event.ingested``."""
    port = _free_port()
    rdir = work / f"rsyslog-{uuid.uuid4().hex[:6]}"
    rdir.mkdir()
    conf = rdir / "rsyslog.conf"
    es_port = settings.url.rsplit(":", 1)[1].rstrip("/")
    conf.write_text(CONF.format(work=rdir, port=port, es_port=es_port, index=index, batch=batch, workers=workers))
    proc = subprocess.Popen(["rsyslogd", "-n", "-f", str(conf), "-i", str(rdir / "pid")], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        started = time.time()
        send(port, data)
        try:
            last = measure.wait_stored(settings, pattern, len(data), timeout=300)
        except RuntimeError:
            errors = rdir / "errors.json"
            if errors.exists():
                raise RuntimeError(f"rsyslog: {errors.read_text()[:500]}") from None
            raise
        return len(data) / (last - started)
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(rdir, ignore_errors=True)
