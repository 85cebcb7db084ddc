"""``soc sources test``: send a marker event along the source's real path and wait until it is searchable.

A syslog source's marker goes to its listener on the collector (same protocol, TLS verified
against the SOC CA); a web source's marker is a request to the web server, whose access log the
collector tails. The marker is a random alphanumeric token, so the search for it is exact and
nothing from the network is ever put into a query. Whatever stops the event is named: the
connection to the collector or web server, the TLS handshake, or the way to OpenSearch.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from opensearchpy import OpenSearch

from soc.search import Names
from soc.sources import configs, store


@dataclass
class ProbeResult:
    ok: bool
    stage: str  # "searchable", "collector", "web server", "opensearch"
    message: str
    marker: str
    latency_s: float | None = None  # from sending to searchable
    ingest_delay_s: float | None = None  # from sending to event.ingested


def _frame(marker: str, source_id: str) -> bytes:
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    host = socket.gethostname().split(".")[0] or "soc"
    return f"<14>1 {now} {host} soc-source-test - - - SOC source test for {source_id}: {marker}".encode()


def send_syslog(address: str, port: int, protocol: str, frame: bytes, ca_file: str | None, timeout: float,
                client_cert: tuple[str, str] | None = None) -> None:
    """Deliver one frame; raises OSError / ssl.SSLError when the collector cannot take it.
    ``client_cert`` (certificate, key): what TLS listeners requiring client certificates ask for."""
    if protocol == "udp":
        with socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(frame, (address, port))
        return
    with socket.create_connection((address, port), timeout=timeout) as raw:
        data = b"%d %s" % (len(frame), frame)
        if protocol == "tls":
            ctx = ssl.create_default_context(cafile=ca_file)
            if client_cert is not None:
                ctx.load_cert_chain(client_cert[0], client_cert[1])
            with ctx.wrap_socket(raw, server_hostname=address) as tls:
                tls.sendall(data)
        else:
            raw.sendall(data)


def _where(source: dict[str, Any]) -> str:
    col = source["collector"]
    return f"{col['address']}:{col['port']}"


def run(client: OpenSearch, names: Names, source: dict[str, Any], ca_file: str | None = None,
        url: str | None = None, timeout: float = 60.0, poll: float = 0.25,
        client_cert: tuple[str, str] | None = None) -> ProbeResult:
    marker = "soctest" + uuid.uuid4().hex
    web = source["type"] in configs.WEB_TYPES
    index = names.web if web else names.syslog
    sent = time.monotonic()
    sent_wall = datetime.now(UTC)
    try:
        if web:
            target = (url or f"http://{source['host']}").rstrip("/") + f"/soc-source-test/{marker}"
            httpx.get(target, timeout=min(timeout, 30.0), verify=ca_file or True)
        else:
            col = source["collector"]
            send_syslog(col["address"], int(col["port"]), col["protocol"], _frame(marker, source["id"]),
                        ca_file, min(timeout, 30.0), client_cert)
    except httpx.ConnectError as exc:
        return ProbeResult(False, "web server", "stopped at the web server: cannot connect to "
                                                f"{url or source['host']}: {exc}", marker)
    except httpx.HTTPError as exc:
        return ProbeResult(False, "web server", f"stopped at the web server {url or source['host']}: {exc}", marker)
    except ConnectionRefusedError:
        return ProbeResult(False, "collector", f"stopped at the collector: connection refused to collector at "
                                               f"{_where(source)} (is soc-collector running with this source's "
                                               "listener?)", marker)
    except ssl.SSLError as exc:
        return ProbeResult(False, "collector", f"stopped at the collector: TLS with collector at {_where(source)} "
                                               f"failed: {exc.reason or exc}", marker)
    except OSError as exc:
        return ProbeResult(False, "collector", f"stopped at the collector: cannot reach collector at "
                                               f"{_where(source)}: {exc.strerror or exc}", marker)
    wake = threading.Event()
    deadline = sent + timeout
    while True:
        found = store.find_marker(client, index, source["id"], marker)
        if found is not None:
            latency = time.monotonic() - sent
            ingested = (found.get("event") or {}).get("ingested")
            delay = None
            if isinstance(ingested, str):
                delay = max(0.0, (datetime.fromisoformat(ingested.replace("Z", "+00:00")) - sent_wall).total_seconds())
            return ProbeResult(True, "searchable", f"the marker event is searchable in {index} after "
                                                   f"{latency:.2f}s", marker, latency, delay)
        if time.monotonic() >= deadline:
            hop = "the web server took the request" if web else f"the collector at {_where(source)} accepted it"
            return ProbeResult(False, "opensearch", f"stopped between the collector and OpenSearch: {hop}, but the "
                                                    f"event was not searchable in {index} within {timeout:.0f}s "
                                                    "(check the collector's /health and its queue)", marker)
        wake.wait(poll)
