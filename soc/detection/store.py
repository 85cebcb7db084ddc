"""Detection's reads and writes in OpenSearch: node time, log searches, checkpoints, the lease, rule state."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from opensearchpy import OpenSearch, TransportError

from soc.search import Names
from soc.timefmt import iso as iso
from soc.timefmt import parse_time as parse_time

T = TypeVar("T")


class Stats:
    """Counters for metrics: rejections (429) and errors seen while talking to OpenSearch."""

    rejections = 0
    errors = 0


def with_backoff(call: Callable[[], T], attempts: int = 5) -> T:
    """Retry a request OpenSearch rejected (429, queue full) with exponential backoff."""
    delay = 0.5
    for attempt in range(attempts):
        try:
            return call()
        except TransportError as exc:
            if exc.status_code != 429 or attempt == attempts - 1:
                Stats.errors += 1
                raise
            Stats.rejections += 1
            time.sleep(delay)
            delay = min(delay * 2, 8.0)
    raise AssertionError("unreachable")


# The clock that stamps event.ingested is the ingest node's `_ingest.timestamp`: a simulated pipeline
# reads it exactly. The node's OS statistics carry a timestamp too, but it is refreshed only every
# second (monitor.os.refresh_interval), so a window ending there could end before documents already
# indexed: they were found a cycle later, and a one-shot run right after indexing missed them.
_CLOCK = {"pipeline": {"processors": [{"date": {"field": "_ingest.timestamp", "target_field": "now",
                                                "formats": ["ISO8601"]}}]}, "docs": [{"_source": {}}]}


def node_now(client: OpenSearch) -> datetime:
    """OpenSearch's clock (it stamps event.ingested), not this process's."""
    try:
        resp = client.ingest.simulate(body=_CLOCK)
        return parse_time(str(resp["docs"][0]["doc"]["_source"]["now"]))
    except (TransportError, KeyError, IndexError, ValueError):  # no right to simulate: the OS statistics' clock
        stats = client.nodes.stats(node_id="_local", metric="os")
        node = next(iter(stats["nodes"].values()))
        return datetime.fromtimestamp(node["timestamp"] / 1000, UTC)


def refresh_streams(client: OpenSearch, names: Names, streams: Sequence[str]) -> None:
    """Make every document the log streams have indexed so far searchable."""
    with_backoff(lambda: client.indices.refresh(index=",".join(names(s) for s in streams),
                                                ignore_unavailable=True, allow_no_indices=True))


def msearch(client: OpenSearch, index_bodies: list[tuple[str, dict[str, Any]]], concurrency: int,
            timeout_s: float) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    for index, body in index_bodies:
        lines += [{"index": index, "ignore_unavailable": True, "allow_no_indices": True}, body]
    resp = with_backoff(lambda: client.msearch(body=lines, max_concurrent_searches=concurrency,
                                               request_timeout=timeout_s))
    responses: list[dict[str, Any]] = resp["responses"]
    for r in responses:
        if r.get("status") == 429:
            Stats.rejections += 1
    return responses


def search(client: OpenSearch, index: str, body: dict[str, Any], timeout_s: float) -> dict[str, Any]:
    return with_backoff(lambda: client.search(index=index, body=body, request_timeout=timeout_s,
                                              ignore_unavailable=True, allow_no_indices=True))


def get_checkpoint(client: OpenSearch, names: Names, job: str) -> datetime | None:
    resp = client.get(index=names.checkpoints, id=job, ignore=[404])
    if not resp.get("found"):
        return None
    return parse_time(resp["_source"]["position"])


def set_checkpoint(client: OpenSearch, names: Names, job: str, position: datetime) -> None:
    client.index(index=names.checkpoints, id=job,
                 body={"job": job, "position": iso(position), "updated": iso(datetime.now(UTC))})


def get_docs(client: OpenSearch, names: Names, ids: list[str]) -> dict[str, dict[str, Any] | None]:
    """Realtime reads of checkpoint documents by id (no refresh needed): id -> hit with its version, or None."""
    resp = client.mget(index=names.checkpoints, body={"ids": ids})
    return {d["_id"]: (d if d.get("found") else None) for d in resp["docs"]}


def conditional_writes(client: OpenSearch, names: Names,
                       writes: Sequence[tuple[str, dict[str, Any], tuple[int, int] | None]],
                       also: Sequence[dict[str, Any]] = ()) -> dict[str, tuple[int, int] | None]:
    """Write checkpoint documents in one request, each only if it is still at the given version (or, with
    None, does not exist yet). id -> new (seq_no, primary_term), or None when another writer got there first.
    ``also``: more bulk operations for the same request, after the checkpoints (their outcome is not
    looked at, as ``write_rule_states``)."""
    if not writes:
        if also:
            client.bulk(body=list(also), refresh=False)
        return {}
    ops: list[dict[str, Any]] = []
    for doc_id, body, version in writes:
        if version is None:
            ops += [{"create": {"_index": names.checkpoints, "_id": doc_id}}, body]
        else:
            ops += [{"index": {"_index": names.checkpoints, "_id": doc_id, "if_seq_no": version[0],
                               "if_primary_term": version[1]}}, body]
    ops += also
    resp = with_backoff(lambda: client.bulk(body=ops, refresh=False))
    out: dict[str, tuple[int, int] | None] = {}
    for (doc_id, _, _), item in zip(writes, resp["items"][:len(writes)], strict=True):
        result = next(iter(item.values()))
        status = int(result.get("status", 500))
        if status < 300:
            out[doc_id] = (int(result["_seq_no"]), int(result["_primary_term"]))
        elif status == 409:
            out[doc_id] = None
        else:
            raise RuntimeError(f"checkpoint {doc_id} could not be written: {result.get('error')}")
    return out


def announce_instance(client: OpenSearch, names: Names, job: str, owner: str, until_ms: int,
                      now_ms: int) -> set[str]:
    """Record that ``owner`` runs until ``until_ms``; the owners of every instance still alive at ``now_ms``."""
    client.index(index=names.checkpoints, id=f"{job}:{owner}", refresh=True,
                 body={"job": job, "owner": owner, "lease_until_ms": until_ms})
    body = {"size": 1000, "_source": ["owner"], "query": {"bool": {"filter": [
        {"term": {"job": job}}, {"range": {"lease_until_ms": {"gt": now_ms}}}]}}}
    hits = client.search(index=names.checkpoints, body=body)["hits"]["hits"]
    return {str(h["_source"]["owner"]) for h in hits}


def drop_instance(client: OpenSearch, names: Names, job: str, owner: str) -> None:
    client.delete(index=names.checkpoints, id=f"{job}:{owner}", refresh=True, ignore=[404])


def write_rule_states(client: OpenSearch, names: Names, states: dict[str, dict[str, Any]]) -> None:
    if states:
        client.bulk(body=rule_state_ops(names, states), refresh=False)


def rule_state_ops(names: Names, states: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Bulk operations adding a cycle's outcome to each rule's state document."""
    ops: list[dict[str, Any]] = []
    for rule_id, state in states.items():
        ops += [{"update": {"_index": names.rules_state, "_id": rule_id}},
                {"script": {"lang": "painless", "params": state, "source": (
                    "ctx._source.rule_id = params.rule_id; ctx._source.last_run = params.last_run;"
                    "ctx._source.duration_ms = params.duration_ms; ctx._source.enabled = params.enabled;"
                    "ctx._source.hits = (ctx._source.hits == null ? 0 : ctx._source.hits) + params.hits;"
                    "ctx._source.errors = (ctx._source.errors == null ? 0 : ctx._source.errors) + params.errors;"
                    "if (params.last_error != null) { ctx._source.last_error = params.last_error; }")},
                 "upsert": {**state}}]
    return ops


def rule_states(client: OpenSearch, names: Names) -> dict[str, dict[str, Any]]:
    resp = client.search(index=names.rules_state, body={"size": 10000, "query": {"match_all": {}}},
                         ignore_unavailable=True)
    return {h["_id"]: h["_source"] for h in resp["hits"]["hits"]}


def target_stream(names: Names, event: dict[str, Any]) -> str:
    """The data stream of an event's agency (``organization.id``) and dataset; ValueError without a valid agency."""
    dataset = str((event.get("event") or {}).get("dataset") or "syslog")
    return names.stream_for(dataset, str((event.get("organization") or {}).get("id")))


def index_events(client: OpenSearch, names: Names, events: list[dict[str, Any]]) -> None:
    """Write test events into their agencies' data streams (create, refresh): only ``soc rules test`` does this."""
    ops: list[dict[str, Any]] = []
    for event in events:
        ops += [{"create": {"_index": target_stream(names, event)}}, event]
    if ops:
        resp = client.bulk(body=ops, refresh=True)
        if resp.get("errors"):
            bad = next(i["create"]["error"] for i in resp["items"] if "error" in i["create"])
            raise RuntimeError(f"test events were refused: {bad}")


def count_ingested(client: OpenSearch, names: Names, stream: str, start: str, end: str) -> int:
    """Events of a log stream whose event.ingested falls in (start, end]."""
    body = {"query": {"range": {"event.ingested": {"gt": start, "lte": end}}}}
    resp = client.count(index=names(stream), body=body, ignore_unavailable=True, allow_no_indices=True)
    return int(resp["count"])


def index_documents(client: OpenSearch, names: Names, docs: list[tuple[str, dict[str, Any]]],
                    chunk: int = 2000, refresh: bool = True) -> int:
    """Create events under given ids in their data streams (evaluation and benchmarks); returns how many
    were created. An id already present is left alone; any other refusal raises, naming the first."""
    made = 0
    for i in range(0, len(docs), chunk):
        ops: list[dict[str, Any]] = []
        for doc_id, event in docs[i:i + chunk]:
            ops += [{"create": {"_index": target_stream(names, event), "_id": doc_id}}, event]
        resp = _bulk(client, ops)
        for item in resp["items"]:
            status = item["create"].get("status", 500)
            if status < 300:
                made += 1
            elif status != 409:
                raise RuntimeError(f"events were refused: {item['create'].get('error')}")
    if refresh:
        client.indices.refresh(index=f"{names.syslog},{names.web}", ignore_unavailable=True)
    return made


def _bulk(client: OpenSearch, ops: list[dict[str, Any]]) -> dict[str, Any]:
    return with_backoff(lambda: client.bulk(body=ops, refresh=False, request_timeout=120))


def search_rejections(client: OpenSearch) -> int:
    """The cluster's search thread-pool rejections since its nodes started (summed over nodes)."""
    stats = client.nodes.stats(metric="thread_pool")
    return sum(int(n["thread_pool"]["search"]["rejected"]) for n in stats["nodes"].values())


def ingested_times(client: OpenSearch, names: Names, ids: list[str]) -> dict[str, datetime]:
    """``event.ingested`` of the given events (any log stream), by document id."""
    out: dict[str, datetime] = {}
    for i in range(0, len(ids), 5000):
        body = {"size": 5000, "_source": ["event.ingested"], "query": {"ids": {"values": ids[i:i + 5000]}}}
        for hit in client.search(index=f"{names.syslog},{names.web}", body=body)["hits"]["hits"]:
            out[hit["_id"]] = parse_time(hit["_source"]["event"]["ingested"])
    return out
