"""Delivery to a loopback webhook receiver and a local SMTP server, and the ``soc report`` command."""

from __future__ import annotations

import email
import json
import socket
import threading
from collections.abc import Iterator
from email.message import Message
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from aiosmtpd.controller import Controller

from soc import cli, search
from soc.config import Settings
from soc.incidents.notify import SIGNATURE_HEADER, verify
from soc.reports import delivery, period, service, store
from soc.reports.settings import ReportSettings
from tests.reports.conftest import AFTER, B


class Receiver(BaseHTTPRequestHandler):
    got: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.got.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def receiver() -> Iterator[str]:
    Receiver.got = []
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


@pytest.fixture()
def inbox() -> Iterator[tuple[Inbox, int]]:
    box, port = Inbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


def test_webhook_and_email(dataset: Settings, tmp_path: Path, receiver: str, inbox: tuple[Inbox, int]) -> None:
    box, port = inbox
    rs = ReportSettings(out_dir=tmp_path, webhook_url=receiver, webhook_secret="s3cret-for-tests",
                        smtp_host="127.0.0.1", smtp_port=port, mail_to=("ciso@example.org",))
    made = service.produce(search.client(dataset), search.names(dataset), rs, period.parse("2025-W10", rs.timezone),
                           B, "vi", ("pdf", "csv"), "test", AFTER)
    outcome = delivery.deliver(rs, made.doc, made.paths)
    assert outcome["webhook"] == {"ok": True, "status": 204}
    assert outcome["email"]["ok"] is True
    (headers, body), = Receiver.got
    assert verify("s3cret-for-tests", headers[SIGNATURE_HEADER], body)
    assert not verify("another-secret", headers[SIGNATURE_HEADER], body)
    payload = json.loads(body)
    assert payload["event"] == "report.weekly"
    assert payload["report"]["id"] == f"2025-W10.{B}.vi" and payload["report"]["summary"]["events"] == 2
    (msg,) = box.messages
    assert "2025-W10" in str(email.header.make_header(email.header.decode_header(msg["Subject"])))
    names = {part.get_filename(): part for part in msg.walk() if part.get_filename()}
    assert set(names) == {f"2025-W10.{B}.vi.pdf", f"2025-W10.{B}.vi.csv"}
    assert names[f"2025-W10.{B}.vi.pdf"].get_payload(decode=True).startswith(b"%PDF-")


def test_failed_delivery_is_reported_and_keeps_the_report(dataset: Settings, tmp_path: Path) -> None:
    dead = free_port()  # nothing listens there
    rs = ReportSettings(out_dir=tmp_path, webhook_url=f"http://127.0.0.1:{dead}/", webhook_secret="x",
                        smtp_host="127.0.0.1", smtp_port=dead, mail_to=("a@example.org",))
    client, names = search.client(dataset), search.names(dataset)
    made = service.produce(client, names, rs, period.parse("2025-W10", rs.timezone), None, "en", ("json",), "test",
                           AFTER)
    outcome = delivery.deliver(rs, made.doc, made.paths)
    assert outcome["webhook"]["ok"] is False and "ConnectError" in outcome["webhook"]["error"]
    assert outcome["email"]["ok"] is False
    assert store.get_report(client, names, "2025-W10.province.en") is not None
    assert made.paths["json"].is_file()


def test_cli_weekly_and_list(dataset: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SOC_OPENSEARCH_URL", dataset.url)
    monkeypatch.setenv("SOC_INDEX_PREFIX", dataset.index_prefix)
    code = cli.main(["report", "weekly", "--week", "2025-W10", "--agency", B, "--lang", "en", "--format", "json,csv",
                     "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"2025-W10.{B}.en: events 2, alerts 1, incidents opened 0, open at week end 1" in out
    data = json.loads((tmp_path / "2025-W10" / f"2025-W10.{B}.en.json").read_text(encoding="utf-8"))
    assert data["report"]["agency"]["name_vi"] == "Ủy ban nhân dân thành phố Đông Hà"
    assert data["events"]["total"]["current"] == 2
    assert cli.main(["report", "list"]) == 0
    assert f"2025-W10.{B}.en" in capsys.readouterr().out
    # Bad input: a clear error, nothing produced.
    assert cli.main(["report", "weekly", "--week", "2025-10", "--out", str(tmp_path)]) == 1
    assert "YYYY-Www" in capsys.readouterr().err
    assert cli.main(["report", "weekly", "--week", "2025-W10", "--format", "docx", "--out", str(tmp_path)]) == 1
    assert "formats must be among" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "2025-W10").iterdir()) == [f"2025-W10.{B}.en.csv",
                                                                       f"2025-W10.{B}.en.json"]
