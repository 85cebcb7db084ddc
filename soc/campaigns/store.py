"""Campaign candidates from ``soc-incidents`` (read only; the incident service owns the index).

One aggregation: attacker keys (``@attacker|<agency>|<entity>``) are per agency, so the entity is
read from the incidents' ``entities`` (``source.ip=…``) and kept when its incidents belong to two or
more agencies; user agents likewise from ``fingerprints``. Each bucket returns, per agency, the
incidents (id, rules, seen times) it holds.
"""

from __future__ import annotations

from typing import Any

from opensearchpy import OpenSearch

from soc.search import Names

MAX_ENTITIES = 500
MAX_INCIDENTS = 100  # per entity and agency


class CampaignStore:
    def __init__(self, client: OpenSearch, names: Names) -> None:
        self.client = client
        self.names = names

    def shared_entities(self, field: str, entity_field: str, since: str, min_agencies: int) -> list[dict[str, Any]]:
        """Values ``<entity_field>=…`` of the incidents' ``field`` (entities, fingerprints) with incidents in
        at least ``min_agencies`` agencies, last seen since ``since``:
        ``[{entity, agencies: {agency: [incident docs (id, rule_ids, first/last seen)]}}]``."""
        pattern = entity_field.replace(".", "\\.") + "=.*"
        body = {"size": 0, "query": {"bool": {
                    "filter": [{"range": {"last_seen": {"gte": since}}}, {"prefix": {field: entity_field + "="}}],
                    "must_not": [{"exists": {"field": "merged_into"}}]}},
                "aggs": {"entities": {
                    "terms": {"field": field, "include": pattern, "size": MAX_ENTITIES},
                    "aggs": {"spread": {"cardinality": {"field": "organization.id"}},
                             "enough": {"bucket_selector": {"buckets_path": {"n": "spread"},
                                                            "script": f"params.n >= {int(min_agencies)}"}},
                             "agencies": {"terms": {"field": "organization.id", "size": 100}, "aggs": {
                                 "incidents": {"top_hits": {"size": MAX_INCIDENTS, "sort": [{"last_seen": "desc"}],
                                                            "_source": ["id", "rule_ids", "first_seen", "last_seen",
                                                                        "status", "severity", "outcome"]}}}}}}}}
        self.client.indices.refresh(index=self.names.incidents)
        resp = self.client.search(index=self.names.incidents, body=body)
        out = []
        for bucket in resp["aggregations"]["entities"]["buckets"]:
            agencies = {str(a["key"]): [h["_source"] for h in a["incidents"]["hits"]["hits"]]
                        for a in bucket["agencies"]["buckets"]}
            out.append({"entity": str(bucket["key"]), "agencies": agencies})
        return out
