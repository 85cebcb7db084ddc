"""Exception documents in ``soc-exceptions`` (contract in soc/alerts/documents.py)."""

from __future__ import annotations

import uuid
from typing import Any

from opensearchpy import NotFoundError, OpenSearch

from soc.errors import NotFound
from soc.search import Names

MAX_PAGE = 200


class ExceptionStore:
    def __init__(self, client: OpenSearch, names: Names) -> None:
        self.client = client
        self.names = names

    def create(self, doc: dict[str, Any]) -> dict[str, Any]:
        exception_id = uuid.uuid4().hex
        self.client.create(index=self.names.exceptions, id=exception_id, body=doc, refresh=True)
        return doc | {"id": exception_id}

    def get(self, exception_id: str) -> dict[str, Any]:
        try:
            resp = self.client.get(index=self.names.exceptions, id=exception_id)
        except NotFoundError:
            raise NotFound(f"exception {exception_id!r} does not exist") from None
        return dict(resp["_source"]) | {"id": resp["_id"]}

    def update(self, exception_id: str, changes: dict[str, Any]) -> None:
        self.client.update(index=self.names.exceptions, id=exception_id, body={"doc": changes}, refresh=True,
                           retry_on_conflict=5)

    def delete(self, exception_id: str) -> None:
        self.client.delete(index=self.names.exceptions, id=exception_id, refresh=True)

    def search(self, filters: list[dict[str, Any]], size: int, search_after: list[Any] | None = None
               ) -> list[tuple[list[Any], dict[str, Any]]]:
        body: dict[str, Any] = {"size": min(size, MAX_PAGE), "query": {"bool": {"filter": filters}},
                                "sort": [{"created": "desc"}, {"_id": "desc"}]}
        if search_after:
            body["search_after"] = search_after
        resp = self.client.search(index=self.names.exceptions, body=body)
        return [(h["sort"], h["_source"] | {"id": h["_id"]}) for h in resp["hits"]["hits"]]
