"""Rollover and retention with core APIs, for clusters without the ISM plugin (such as the local node).

Where ISM is installed, ``soc init`` installs policies instead and this job has nothing to do.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from opensearchpy import NotFoundError, OpenSearch

from soc.config import Settings
from soc.opensearch.templates import DATA_CLASS
from soc.search import LOG_STREAMS, Names

DAY_MS = 86_400_000


@dataclass
class RetentionResult:
    rolled_over: list[str]
    deleted_indices: list[str]
    deleted_documents: dict[str, int]


def _roll_and_expire(settings: Settings, client: OpenSearch, name: str, days: int, now_ms: int,
                     result: RetentionResult) -> None:
    # The setting is per primary shard (as ISM's min_primary_shard_size); the core API's max_size
    # is the total of the write index's primaries, so it scales with their number.
    write = client.indices.get_data_stream(name=name)["data_streams"][0]["indices"][-1]["index_name"]
    shards = int(client.indices.get_settings(index=write)[write]["settings"]["index"]["number_of_shards"])
    resp = client.indices.rollover(alias=name, body={"conditions": {
        "max_age": f"{settings.rollover_max_age_days}d",
        "max_size": f"{settings.rollover_max_size_gb * shards}gb"}})
    if resp.get("rolled_over"):
        result.rolled_over.append(resp["new_index"])
    backing = [entry["index_name"] for entry in client.indices.get_data_stream(name=name)["data_streams"][0]["indices"]]
    created = [int(client.indices.get_settings(index=index)[index]["settings"]["index"]["creation_date"])
               for index in backing]
    for n in expired(created, days, now_ms):
        client.indices.delete(index=backing[n])
        result.deleted_indices.append(backing[n])


def expired(created_ms: list[int], days: int, now_ms: int) -> list[int]:
    """Which backing indices (by position, oldest first; the last is the write index) are past their
    days. An index received events until the next one was created (its rollover), so its age counts
    from then: nothing is deleted before it is ``days`` old, whatever the rollover period, and an index
    is kept at most ``days`` plus one rollover period."""
    return [n for n in range(len(created_ms) - 1) if now_ms - created_ms[n + 1] > days * DAY_MS]


def apply(settings: Settings, client: OpenSearch, names: Names, now_ms: int | None = None) -> RetentionResult:
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    result = RetentionResult([], [], {})
    for stream in LOG_STREAMS:
        try:
            streams = client.indices.get_data_stream(name=names(stream))["data_streams"]
        except NotFoundError:
            streams = []
        days = getattr(settings.retention, DATA_CLASS[stream])
        for info in streams:  # every agency's data stream of this log stream
            _roll_and_expire(settings, client, info["name"], days, now_ms, result)
    for logical, time_field in (("soc-alerts", "created"), ("soc-audit", "@timestamp")):
        days = getattr(settings.retention, DATA_CLASS[logical])
        index = names(logical)
        if not client.indices.exists(index=index):
            continue
        resp = client.delete_by_query(index=index, body={"query": {"range": {
            time_field: {"lt": now_ms - days * DAY_MS, "format": "epoch_millis"}}}}, refresh=True,
            conflicts="proceed")
        result.deleted_documents[index] = int(resp.get("deleted", 0))
    return result
