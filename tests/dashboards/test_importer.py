"""The import client's request, checked by a loopback HTTP receiver.

OpenSearch Dashboards cannot be installed on this project's machines (it is on none of the package
registries they reach), so this checks what our client sends against the documented saved-objects
import API (path, overwrite, the osd-xsrf header, a multipart ndjson file) and how it reports
Dashboards' answers; it does not prove Dashboards renders the objects.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from soc.dashboards import importer
from soc.errors import Invalid


class Receiver:
    def __init__(self, answer: dict[str, Any], status: int = 200) -> None:
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture()
def ok_receiver() -> Iterator[Receiver]:
    r = Receiver({"success": True, "successCount": 19})
    yield r
    r.server.shutdown()


def test_import_posts_the_file_to_the_saved_objects_api(ok_receiver: Receiver) -> None:
    answer = importer.import_file(ok_receiver.url, importer.DEFAULT_FILE, auth=("admin", "pw"))
    assert answer["successCount"] == 19
    [req] = ok_receiver.requests
    assert req["path"] == "/api/saved_objects/_import?overwrite=true"
    assert req["headers"]["osd-xsrf"] == "true"
    assert req["headers"]["Authorization"].startswith("Basic ")
    assert req["headers"]["Content-Type"].startswith("multipart/form-data")
    assert b'filename="soc.ndjson"' in req["body"]
    assert importer.DEFAULT_FILE.read_bytes() in req["body"]


def test_partial_refusal_names_the_objects(tmp_path: Path) -> None:
    r = Receiver({"success": False, "successCount": 18, "errors": [
        {"type": "visualization", "id": "soc-http-status", "error": {"type": "missing_references"}}]})
    try:
        with pytest.raises(Invalid, match="visualization soc-http-status: missing_references"):
            importer.import_file(r.url, importer.DEFAULT_FILE)
    finally:
        r.server.shutdown()


def test_http_refusal_and_unreachable_are_clear_errors() -> None:
    r = Receiver({"statusCode": 401, "message": "Unauthorized"}, status=401)
    try:
        with pytest.raises(Invalid, match=r"refused the import \(401\)"):
            importer.import_file(r.url, importer.DEFAULT_FILE)
    finally:
        r.server.shutdown()
    with pytest.raises(Invalid, match="cannot reach OpenSearch Dashboards"):
        importer.import_file("http://127.0.0.1:9", importer.DEFAULT_FILE, timeout=2)
