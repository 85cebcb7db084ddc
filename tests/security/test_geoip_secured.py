"""The secured node (2.19.4 with the security plugin) enriches at ingest like the plain one: its
distribution has the ingest-geoip module and ``soc opensearch start --security`` gave it the databases."""

from __future__ import annotations

from pathlib import Path

import pytest

from soc import search
from soc.opensearch import bootstrap
from tests.intel.feeds import web_event, write
from tests.security.conftest import Deployment


def test_the_service_user_builds_an_enriching_pipeline_and_events_get_geo(
        deployment: Deployment, geoip_databases: tuple[Path, ...], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOC_GEOIP_DATABASES", ",".join(str(p) for p in geoip_databases))
    service = deployment.service
    client, names = search.client(service), search.names(service)
    report = bootstrap.init(service, client, names)
    assert not [n for n in report.notes if "enrichment" in n], report.notes
    assert ("ingest pipeline " + names.pipeline, "updated") in report.steps
    # the service user may not write log streams (collectors do); the operator writes the test events
    write(deployment.admin, [web_event({"source.ip": "14.160.0.8"}), web_event({"source.ip": "198.51.100.8"})])
    index = names("logs-web")
    client.indices.refresh(index=index)
    docs = {h["_source"]["source"]["ip"]: h["_source"] for h in client.search(index=index)["hits"]["hits"]}
    assert docs["14.160.0.8"]["source"]["geo"]["country_iso_code"] == "VN"
    assert docs["14.160.0.8"]["source"]["as"]["organization"]["name"] == "Example Telecom VN"
    assert docs["198.51.100.8"]["source"] == {"ip": "198.51.100.8"}
    assert docs["198.51.100.8"]["labels"] == {"source_ip_scope": "documentation"}
