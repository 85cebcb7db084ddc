"""Upgrade from the single log streams of earlier versions (``soc init`` and ``soc migrate`` run it).

Earlier versions wrote every agency's events into one ``logs-syslog`` and one ``logs-web`` data
stream, and the collectors' heartbeats into ``soc-sources``. Here:

- each event of an old stream is copied, under its own id, into the stream of the agency its
  ``organization.id`` names (``logs-syslog-<agency>``), by a reindex per agency (``op_type: create``:
  an id already there is not written twice, so a run that stopped half way is simply run again).
  The copies pass the ingest pipeline like any write: ``event.ingested`` becomes the time of the
  move (detection sees them once more; alert ids are deterministic, so no alert is duplicated),
  and the old event time may earn them ``_late``;
- only when every event of an old stream is accounted for (copied or already present) are the old
  stream and its template deleted; events whose ``organization.id`` is missing or is not a valid
  agency id stay where they are, counted in the report, and the old stream with them;
- heartbeats move from ``soc-sources`` to ``soc-heartbeats``.
"""

from __future__ import annotations

import time
from typing import Any

from opensearchpy import NotFoundError, OpenSearch

from soc.errors import BootstrapError
from soc.search import LOG_STREAMS, Names, is_agency_id

MAX_AGENCIES = 10_000
Step = tuple[str, str]  # (what, outcome), as the bootstrap report lists them


def _exists_stream(client: OpenSearch, name: str) -> bool:
    try:
        return bool(client.indices.get_data_stream(name=name)["data_streams"])
    except NotFoundError:
        return False


def _reindex(client: OpenSearch, body: dict[str, Any]) -> dict[str, Any]:
    """Run a reindex as a task and wait for its outcome (a long one outlives any request timeout)."""
    task = client.reindex(body=body, wait_for_completion=False, refresh=True)["task"]
    while True:
        status = client.tasks.get(task_id=task, params={"wait_for_completion": "true", "timeout": "50s"},
                                  request_timeout=70)
        if status.get("completed"):
            if "error" in status:
                raise BootstrapError(f"moving events failed: {status['error']}")
            return dict(status["response"])
        time.sleep(0.1)


def _agencies(client: OpenSearch, index: str) -> dict[str, int]:
    body = {"size": 0, "aggs": {"org": {"terms": {"field": "organization.id", "size": MAX_AGENCIES}}}}
    buckets = client.search(index=index, body=body)["aggregations"]["org"]["buckets"]
    return {str(b["key"]): int(b["doc_count"]) for b in buckets}


def _drop_template(client: OpenSearch, name: str) -> None:
    """Delete the old template ``name`` (pattern ``name*``). OpenSearch will not delete a template whose
    patterns match a data stream, even one another template serves: narrow it to its own name first."""
    try:
        body = client.indices.get_index_template(name=name)["index_templates"][0]["index_template"]
    except NotFoundError:
        return
    body["index_patterns"] = [name]
    client.indices.put_index_template(name=name, body=body)
    client.indices.delete_index_template(name=name)


def move_stream(client: OpenSearch, names: Names, logical: str) -> list[Step]:
    """Move one old single stream into the agencies' streams; what was done, as report steps."""
    old = names.legacy_stream(logical)
    if not _exists_stream(client, old):
        return []
    client.indices.refresh(index=old)
    total = int(client.count(index=old)["count"])
    steps: list[Step] = []
    accounted = 0
    for agency, count in sorted(_agencies(client, old).items()):
        if not is_agency_id(agency):
            continue
        target = names.stream(logical, agency)
        resp = _reindex(client, {
            "conflicts": "proceed",
            "source": {"index": old, "size": 1000, "query": {"term": {"organization.id": agency}}},
            "dest": {"index": target, "op_type": "create"}})
        if resp.get("failures"):
            raise BootstrapError(f"moving {old} into {target}: {resp['failures'][0]}")
        done = int(resp.get("created", 0)) + int(resp.get("version_conflicts", 0))
        if done != count:
            raise BootstrapError(f"moving {old} into {target}: {done} of {count} events accounted for")
        accounted += done
        steps.append((f"events of {agency} from {old}", f"moved into {target} ({resp.get('created', 0)} "
                                                        f"copied, {resp.get('version_conflicts', 0)} already there)"))
    left = total - accounted
    if left:
        steps.append((f"data stream {old}", f"kept: {left} events without a valid organization.id stay in it"))
        return steps
    client.indices.delete_data_stream(name=old)
    _drop_template(client, old)
    steps.append((f"data stream {old}", f"deleted after moving all {total} events"))
    return steps


def move_heartbeats(client: OpenSearch, names: Names) -> list[Step]:
    """Heartbeats of earlier collectors, from ``soc-sources`` into ``soc-heartbeats``."""
    if not client.indices.exists(index=names.sources):
        return []
    query = {"term": {"kind": "heartbeat"}}
    client.indices.refresh(index=names.sources)
    count = int(client.count(index=names.sources, body={"query": query})["count"])
    if not count:
        return []
    _reindex(client, {"conflicts": "proceed", "source": {"index": names.sources, "query": query},
                      "dest": {"index": names.heartbeats, "op_type": "create"}})
    client.delete_by_query(index=names.sources, body={"query": query}, refresh=True, conflicts="proceed")
    return [(f"heartbeats in {names.sources}", f"moved into {names.heartbeats} ({count})")]


def upgrade(client: OpenSearch, names: Names) -> list[Step]:
    """Everything an earlier version left to move (nothing on a current deployment)."""
    steps: list[Step] = []
    for logical in LOG_STREAMS:
        steps += move_stream(client, names, logical)
    return steps + move_heartbeats(client, names)
