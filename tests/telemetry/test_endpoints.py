"""/metrics, /healthz and /readyz on the real node: detection series after a cycle, requests by route,
and readiness that follows OpenSearch."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from soc import search
from soc.config import Settings
from soc.detection import convert, rules, runner, store
from soc.detection.settings import DetectionSettings
from soc.main import create_app
from soc.runtime import Runtime

ROOT = Path(__file__).resolve().parents[2]


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_metrics_carry_detection_series_after_a_cycle_and_requests_by_route(isolated: Settings) -> None:
    loaded, _ = rules.load([ROOT / "rules" / "web"])
    client, names = search.client(isolated), search.names(isolated)
    store.index_events(client, names, [{
        "@timestamp": store.iso(store.node_now(client)), "organization": {"id": "dept-a"},
        "event": {"dataset": "nginx.access", "original": "GET /../../etc/passwd"}, "source": {"ip": "192.0.2.9"},
        "url": {"original": "/../../etc/passwd"}, "http": {"response": {"status_code": 400}}}])
    before = None
    with TestClient(create_app(runtime=Runtime.build(isolated))) as api:
        before = _samples(api.get("/metrics").text)
        report = runner.run_cycle(isolated, DetectionSettings(settle_s=0), convert.compile_rules(loaded))
        assert report.alerts_created >= 1
        api.get("/api/v1/incidents/some-id")  # 401 without a token: counted under its route, not its path
        resp = api.get("/metrics")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
    after = _samples(resp.text)
    cycles = ("soc_detection_cycles_total", ())
    assert after[cycles] == before.get(cycles, 0) + 1
    assert after[("soc_detection_alerts_total", ())] >= before.get(("soc_detection_alerts_total", ()), 0) + 1
    assert ("soc_detection_lag_seconds", (("slot", "logs-web"),)) in after
    assert after[("soc_detection_cycle_seconds", ())] > 0
    routes = {dict(labels).get("route") for name, labels in after if name == "soc_api_requests_total"}
    assert "/api/v1/incidents/{incident_id}" in routes and not any("some-id" in str(r) for r in routes)
    assert ("soc_notifications_queued", ()) in after


def test_health_and_readiness_follow_opensearch(isolated: Settings) -> None:
    with TestClient(create_app(runtime=Runtime.build(isolated))) as api:
        assert api.get("/healthz").json() == {"status": "ok"}
        ready = api.get("/readyz")
        assert ready.status_code == 200 and ready.json()["checks"]["opensearch"]["ok"] is True
    # a node that is not there (a closed loopback port): alive, but not ready
    gone = Settings(opensearch_url="http://127.0.0.1:9", index_prefix=isolated.index_prefix)
    with TestClient(create_app(runtime=Runtime.build(gone))) as api:
        assert api.get("/healthz").status_code == 200
        ready = api.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["opensearch"]["ok"] is False
