"""OpenSearch unreachable for more than 30 s mid-stream, then back: nothing lost, nothing duplicated.

The outage is a loopback proxy in front of the real node that drops every connection while
"down" (the shared development node itself is never stopped). The collector's own health status
says when 30 s of failure have passed, so the test waits on the collector, not on a clock.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx

from soc.config import Settings
from tests.collectors.conftest import (
    InvariantWatch,
    config_dict,
    invariant_holds,
    marker_lines,
    originals,
    port_of,
    running,
    send_tcp,
    to_config,
)
from tests.collectors.fault_proxy import FaultProxy


def test_outage_of_thirty_seconds_loses_and_duplicates_nothing(isolated: Settings, tmp_path: Path) -> None:
    tag = f"out{uuid.uuid4().hex[:6]}"
    before, during = 1000, 2000
    with FaultProxy(isolated.url) as proxy:
        cfg = to_config(config_dict(isolated, tmp_path / "q", [{"id": "s", "protocol": "tcp", "listen": "127.0.0.1:0"}],
                                    url=proxy.url, sink={"unhealthy_after_seconds": 30, "retry_max_seconds": 2}))
        with running(cfg) as col, InvariantWatch(col) as watch:
            health = f"http://127.0.0.1:{col.metrics_server.port if col.metrics_server else 0}/health"
            send_tcp(port_of(col, "s"), marker_lines(tag, before), octet=True)
            assert col.metrics.wait({"shipped": before}, 60)
            proxy.mode = "down"
            send_tcp(port_of(col, "s"), marker_lines(tag, during, start=before))
            assert col.metrics.wait({"received": before + during}, 60)
            # the collector reports degraded health once the sink has failed for 30 s
            assert col.metrics.wait_for_state(lambda s: not s["healthy"], 90), col.metrics.snapshot()
            down = col.metrics.snapshot()
            r = httpx.get(health, timeout=10)
            assert r.status_code == 503 and r.json()["status"] == "degraded"
            assert proxy.dropped_connections > 3
            proxy.mode = "pass"
            assert col.metrics.wait({"shipped": before + during}, 120), col.metrics.snapshot()
            assert col.metrics.wait_for_state(lambda s: s["healthy"], 10)
            after = col.metrics.snapshot()
            assert httpx.get(health, timeout=10).status_code == 200
    assert down["sink_failing_seconds"] >= 30 and down["queued"] == during and down["shipped"] == before
    assert invariant_holds(down) and down["oldest_unacked_age_seconds"] >= 29
    assert after["received"] == after["shipped"] == before + during and after["queued"] == 0
    assert after["dropped"] == after["dead_lettered"] == 0
    assert watch.samples > 100 and watch.broken == []
    docs = originals(isolated)
    assert len(docs) == before + during and len(set(docs)) == before + during
