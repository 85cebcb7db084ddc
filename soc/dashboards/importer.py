"""Load the saved objects into OpenSearch Dashboards through its saved-objects import API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from soc.errors import Invalid

DEFAULT_FILE = Path(__file__).resolve().parents[2] / "dashboards" / "soc.ndjson"


def import_file(url: str, path: Path, auth: tuple[str, str] | None = None, verify: bool | str = True,
                timeout: float = 60.0) -> dict[str, Any]:
    """POST the ndjson file to ``URL/api/saved_objects/_import?overwrite=true``; returns Dashboards' answer.

    Raises Invalid with Dashboards' own reason when it refuses the file or some objects in it.
    """
    endpoint = url.rstrip("/") + "/api/saved_objects/_import"
    with path.open("rb") as fh:
        try:
            resp = httpx.post(endpoint, params={"overwrite": "true"}, headers={"osd-xsrf": "true"},
                              files={"file": (path.name, fh, "application/ndjson")}, auth=auth, verify=verify,
                              timeout=timeout)
        except httpx.HTTPError as exc:
            raise Invalid(f"cannot reach OpenSearch Dashboards at {url}: {exc}") from None
    if resp.status_code >= 400:
        raise Invalid(f"OpenSearch Dashboards refused the import ({resp.status_code}): {resp.text[:300]}")
    body: dict[str, Any] = resp.json()
    if not body.get("success", False):
        errors = "; ".join(f"{e.get('type')} {e.get('id')}: {e.get('error', {}).get('type')}"
                           for e in body.get("errors", [])[:10])
        raise Invalid(f"OpenSearch Dashboards imported {body.get('successCount', 0)} objects but refused some: "
                      f"{errors}")
    return body
