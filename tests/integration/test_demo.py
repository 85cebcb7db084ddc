"""The README's main job, end to end on the test node: real traffic in, incidents out."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from soc import search
from soc.config import Settings
from soc.demo import run


def test_demo_turns_real_traffic_into_incidents_for_attackers_only(isolated: Settings,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    folder = Path(tempfile.mkdtemp(prefix="soc-demo-test-"))
    folder.chmod(0o755)  # nginx's workers run as www-data and must reach the site
    monkeypatch.setenv("SOC_OPENSEARCH_URL", isolated.url)
    monkeypatch.setenv("SOC_INDEX_PREFIX", isolated.index_prefix)
    monkeypatch.setenv("SOC_DEMO_DIR", str(folder))
    assert run.main(["--no-serve"]) == 0

    client = search.client(isolated)
    names = search.names(isolated)
    client.indices.refresh(index=f"{names.web},{names.syslog},{names.incidents}")
    web = client.count(index=names.web)["count"]
    syslog = client.count(index=names.syslog)["count"]
    assert web >= 139 and syslog >= 33
    failures = client.count(index=f"{names.web},{names.syslog}",
                            body={"query": {"term": {"tags": "_parse_failure"}}})["count"]
    assert failures == 0
    incidents = [h["_source"] for h in client.search(index=names.incidents, body={"size": 100})["hits"]["hits"]]
    entities = {e for inc in incidents for e in inc.get("entities", [])}
    for attacker in ("127.0.0.22", "127.0.0.23", "127.0.0.31"):
        assert f"source.ip={attacker}" in entities, f"no incident for {attacker}"
    benign = [(inc["title"], inc["entities"]) for inc in incidents
              if "source.ip=127.0.0.10" in inc.get("entities", [])]
    assert not benign, f"benign visitors raised incidents: {benign}"
    assert all(inc["organization"]["id"] == run.AGENCY for inc in incidents)
