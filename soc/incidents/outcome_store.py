"""What the logs say about whether an attack worked (read only): the usual response size of a path,
and logins and failures of an address or a user around a time."""

from __future__ import annotations

from typing import Any

from opensearchpy import OpenSearch

from soc.search import Names

MIN_SAMPLES = 3  # responses a path needs before its usual size is believed


class OutcomeStore:
    def __init__(self, client: OpenSearch, names: Names) -> None:
        self.client = client
        self.names = names

    def _search(self, stream: str, agency: str, body: dict[str, Any]) -> dict[str, Any]:
        """Search one agency's data stream (tenancy is where an event was written)."""
        try:
            index = self.names.stream(stream, agency)
        except ValueError:
            return {"hits": {"hits": [], "total": {"value": 0}}}
        resp: dict[str, Any] = self.client.search(index=index, body=body, ignore_unavailable=True,
                                                  allow_no_indices=True)
        return resp

    def usual_sizes_many(self, asks: dict[str, tuple[list[str], str, str]]) -> dict[str, dict[str, float]]:
        """Per agency (agency -> paths, start, end), the median size of successful responses per path
        where a path has enough of them: every agency in one ``_msearch``, each search in that
        agency's own stream."""
        lines: list[dict[str, Any]] = []
        asked: list[str] = []
        for agency, (paths, start, end) in asks.items():
            try:
                index = self.names.stream("logs-web", agency)
            except ValueError:
                continue
            if not paths:
                continue
            lines += [{"index": index, "ignore_unavailable": True, "allow_no_indices": True}, {
                "size": 0, "query": {"bool": {"filter": [
                    {"terms": {"url.path": paths[:500]}},
                    {"range": {"http.response.status_code": {"gte": 200, "lt": 300}}},
                    {"range": {"@timestamp": {"gte": start, "lte": end}}}]}},
                "aggs": {"paths": {"terms": {"field": "url.path", "size": len(paths[:500])}, "aggs": {
                    "size": {"percentiles": {"field": "http.response.body.bytes", "percents": [50]}}}}}}]
            asked.append(agency)
        if not lines:
            return {}
        responses = self.client.msearch(body=lines)["responses"]
        out: dict[str, dict[str, float]] = {}
        for agency, resp in zip(asked, responses, strict=True):
            if "error" in resp:
                raise RuntimeError(f"usual response sizes of {agency} not read: {resp['error']}")
            sizes: dict[str, float] = {}
            for bucket in resp.get("aggregations", {}).get("paths", {}).get("buckets", []):
                value = next(iter(bucket["size"]["values"].values()), None)
                if bucket["doc_count"] >= MIN_SAMPLES and value is not None:
                    sizes[str(bucket["key"])] = float(value)
            out[agency] = sizes
        return out

    def logins(self, agency: str, field: str, value: str, start: str, end: str, size: int = 5) -> list[dict[str, Any]]:
        """Accepted SSH logins where ``field`` (source.ip or user.name) is ``value``, oldest first."""
        body = {"size": size, "sort": [{"@timestamp": "asc"}], "_source": ["@timestamp", "user.name", "source.ip"],
                "query": {"bool": {"filter": [
                    {"term": {field: value}},
                    {"term": {"event.action": "ssh_login"}}, {"term": {"event.outcome": "success"}},
                    {"range": {"@timestamp": {"gte": start, "lte": end}}}]}}}
        return [h["_source"] for h in self._search("logs-syslog", agency, body)["hits"]["hits"]]

    def auth_failures(self, agency: str, address: str, start: str, end: str) -> int:
        """Failed authentications from an address between two times."""
        body = {"size": 0, "track_total_hits": True, "query": {"bool": {"filter": [
            {"term": {"source.ip": address}},
            {"term": {"event.category": "authentication"}}, {"term": {"event.outcome": "failure"}},
            {"range": {"@timestamp": {"gte": start, "lte": end}}}]}}}
        return int(self._search("logs-syslog", agency, body)["hits"]["total"]["value"])

