"""``python -m soc.demo.run``: the main job, run by ``make demo``.

Every step is real: the local OpenSearch node, ``soc init``, a collector process (syslog over TCP
and a tailed nginx access log), traffic from real programs, a detection cycle with grouping into
incidents, then the API and console served until Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from soc import search
from soc.accounts import store as accounts_store
from soc.agencies import store as agencies_store
from soc.alerts.store import AlertStore
from soc.config import Settings, load_settings
from soc.demo import traffic
from soc.errors import NotFound
from soc.incidents.store import IncidentStore
from soc.opensearch import node

AGENCY = "so-demo"


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def _free(port: int) -> int:
    return port if node.port_free(port) else node.free_port()


def write_collector_config(folder: Path, settings: Settings, syslog_port: int, access_log: Path) -> Path:
    conf = folder / "collector.yml"
    conf.write_text(
        f"organization:\n  id: {AGENCY}\n"
        f"collector:\n  id: col-{AGENCY}\n  queue_dir: {folder / 'queue'}\n  timezone: Asia/Ho_Chi_Minh\n"
        "  heartbeat_seconds: 10\n"
        f"opensearch:\n  url: {settings.url}\n  index_prefix: \"{settings.index_prefix}\"\n"
        "metrics:\n  listen: 127.0.0.1:0\n"
        "sources:\n"
        f"  - id: {AGENCY}-syslog\n    type: syslog\n    protocol: tcp\n    listen: 127.0.0.1:{syslog_port}\n"
        f"  - id: {AGENCY}-portal\n    type: file\n    format: nginx\n    paths: [{access_log}]\n"
        "    domain: shop.demo.local\n    partial_flush_seconds: 2\n"
    )
    return conf


def _metrics_url(queue_dir: Path, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    runtime = queue_dir / "runtime.json"
    while time.monotonic() < deadline:
        if runtime.exists():
            info = json.loads(runtime.read_text())
            return f"http://127.0.0.1:{info['metrics_port']}"
        time.sleep(0.2)
    raise RuntimeError(f"the collector did not start (no {runtime})")


def wait_shipped(metrics: str, count: int, timeout: float = 120) -> dict[str, int]:
    url = f"{metrics}/wait?shipped={count}&timeout={int(timeout)}"
    try:
        with urllib.request.urlopen(url, timeout=timeout + 10) as resp:  # noqa: S310 - loopback URL we built
            counters: dict[str, int] = json.loads(resp.read())
            return counters
    except urllib.error.HTTPError as exc:
        if exc.code == 408:
            raise RuntimeError(f"the collector shipped fewer than {count} events in {timeout:.0f} s: "
                               f"{exc.read().decode(errors='replace')[:300]}") from None
        raise


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="soc-demo")
    parser.add_argument("--no-serve", action="store_true", help="stop after detection instead of serving")
    parser.add_argument("--api-port", type=int, default=8000)
    args = parser.parse_args(argv)
    # A terminated demo still stops the collector and nginx it started (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    settings = load_settings()
    folder = Path(os.environ.get("SOC_DEMO_DIR", str(settings.node_home / "demo"))).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    client = search.client(settings)
    names = search.names(settings)

    try:
        agencies_store.get(client, names, AGENCY)
    except NotFound:
        subprocess.run([_bin("soc"), "agencies", "add", AGENCY, "--name-vi", "Sở Thông tin và Truyền thông (demo)",
                        "--name-en", "Department of Information and Communications (demo)"], check=True)
    site = traffic.start_nginx(folder / "site", _free(8088))
    collector: subprocess.Popen[bytes] | None = None
    try:
        syslog_port = _free(5514)
        conf = write_collector_config(folder, settings, syslog_port, site.access_log)
        (folder / "queue" / "runtime.json").unlink(missing_ok=True)
        log = (folder / "collector.log").open("ab")
        collector = subprocess.Popen([_bin("soc-collector"), "run", "-c", str(conf)], stdout=log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        metrics = _metrics_url(folder / "queue")
        before = wait_shipped(metrics, 0, timeout=1).get("shipped", 0)
        print(f"== collector running (syslog tcp 127.0.0.1:{syslog_port}, tailing {site.access_log})")
        web = traffic.browse(site.port) + traffic.attack(site.port)
        sent = traffic.syslog_activity(syslog_port)
        print(f"== traffic: {web} web requests (benign and attacks), {sent} syslog messages (ssh, sudo)")
        counters = wait_shipped(metrics, before + web + sent)
        print(f"== shipped by the collector: {counters.get('shipped')} events "
              f"(received {counters.get('received')}, parse failures {counters.get('parse_failures')})")

        time.sleep(5)  # detection reads only what is older than its settle delay (4 s)
        from soc.scheduler import ServiceScheduler

        scheduler = ServiceScheduler(settings)
        scheduler.detect_and_group()
        alerts = AlertStore(client, names).total()
        incidents = IncidentStore(client, names)
        incidents.refresh()
        top, total = incidents.search({"match_all": {}}, [{"severity_rank": "desc"}], 20)
        print(f"== detection: {alerts} alerts grouped into {total} incidents")
        for _, stored in top:
            src = stored.doc
            print(f"   [{src.get('severity'):>8}] {src.get('title')} ({src.get('alert_count')} alerts)")

        week = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).strftime("%G-W%V")
        print(f"== weekly report for {week} (this week so far), province-wide and per agency:")
        subprocess.run([_bin("soc"), "report", "weekly", "--week", week, "--all", "--lang", "vi",
                        "--format", "html,pdf,json", "--out", str(folder / "reports")], check=True)

        token = accounts_store.create_token(client, names, "demo-admin", "admin", ["*"])
        if args.no_serve:
            return 0
        url = f"http://127.0.0.1:{args.api_port}"
        print("\n== serving the API and console (Ctrl-C to stop)")
        print(f"   console: {url}/   API: {url}/api/v1/docs")
        print(f"   log in with this admin token (shown once): {token}")
        serve = subprocess.Popen([_bin("soc"), "serve", "--host", "127.0.0.1", "--port", str(args.api_port)])
        try:
            serve.wait()
        finally:
            if serve.poll() is None:
                serve.send_signal(signal.SIGINT)
                try:
                    serve.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    serve.kill()
        return 0
    finally:
        if collector is not None and collector.poll() is None:
            collector.terminate()
            try:
                collector.wait(timeout=20)
            except subprocess.TimeoutExpired:
                collector.kill()
        traffic.stop_nginx(site)


if __name__ == "__main__":
    sys.exit(main())
