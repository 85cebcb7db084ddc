"""Run local OpenSearch nodes: write their configuration, start, wait for health, stop.

One node by default (single-node discovery). ``nodes > 1`` runs that many nodes on loopback
ports as one cluster, for the fail-over tests and for trying a replicated layout on one machine.
Each node's PID is recorded in its own folder so that ``stop`` ends exactly those processes.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from soc.errors import NodeError
from soc.opensearch import geoip
from soc.opensearch.java import check_java

CLUSTER_NAME = "soc-local"
# OpenSearch refuses to run as root. When we are root, nodes run as this system user, created on
# first use, as a packaged installation would do.
SERVICE_USER = "soc-opensearch"
# A folder of this name in a node's home (keys, passwords) is never handed to the service user.
PRIVATE = "private"


@dataclass(frozen=True)
class NodeSpec:
    name: str
    folder: Path
    http_port: int
    transport_port: int
    scheme: str = "http"

    @property
    def pidfile(self) -> Path:
        return self.folder / "opensearch.pid"

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.http_port}"


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def plan(home: Path, port: int, nodes: int = 1) -> list[NodeSpec]:
    """Folders and ports for ``nodes`` nodes; HTTP ports are port, port+1, ...; transport ports free ones."""
    if nodes == 1:
        return [NodeSpec("soc-node-0", home, port, _transport_for(home, port))]
    return [NodeSpec(f"soc-node-{i}", home / f"node-{i}", port + i, _transport_for(home / f"node-{i}", port + i))
            for i in range(nodes)]


def _transport_for(folder: Path, http_port: int) -> int:
    """Keep a node's transport port across restarts (recorded in its config) so peers find it again."""
    conf = folder / "config" / "opensearch.yml"
    if conf.exists():
        m = re.search(r"^transport\.port: (\d+)$", conf.read_text(), re.M)
        if m:
            return int(m.group(1))
    candidate = http_port + 100
    return candidate if port_free(candidate) else free_port()


def service_account() -> tuple[int, int] | None:
    """(uid, gid) to run nodes as when we are root, creating the system user if needed; None otherwise."""
    if os.geteuid() != 0:
        return None
    import pwd

    try:
        entry = pwd.getpwnam(SERVICE_USER)
    except KeyError:
        proc = subprocess.run(
            ["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
             "--shell", "/usr/sbin/nologin", SERVICE_USER],
            capture_output=True, text=True, check=False, timeout=60,
        )
        if proc.returncode != 0:
            raise NodeError(f"cannot create the system user {SERVICE_USER}: {proc.stderr.strip()}") from None
        entry = pwd.getpwnam(SERVICE_USER)
    return entry.pw_uid, entry.pw_gid


def _check_reachable(path: Path, what: str) -> None:
    """Every folder above ``path`` must be traversable by the service user (others' execute bit)."""
    for parent in [path, *path.parents]:
        if parent.exists() and not parent.stat().st_mode & 0o001:
            raise NodeError(f"{what} {path} is not reachable by the user {SERVICE_USER}: {parent} is not "
                            "traversable by others (chmod o+x it, or choose a folder elsewhere)")


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    for dirpath, dirnames, filenames in os.walk(root):
        if Path(dirpath) == root and PRIVATE in dirnames:
            dirnames.remove(PRIVATE)
        os.chown(dirpath, uid, gid)
        for name in dirnames + filenames:
            os.lchown(os.path.join(dirpath, name), uid, gid)


def write_config(spec: NodeSpec, dist: Path, peers: list[NodeSpec], heap: str,
                 extra: dict[str, object] | None = None) -> None:
    conf = spec.folder / "config"
    conf.mkdir(parents=True, exist_ok=True)
    for name in ("log4j2.properties",):
        shutil.copy2(dist / "config" / name, conf / name)
    # Heap is the only JVM option that differs from the distribution's defaults.
    jvm = (dist / "config" / "jvm.options").read_text()
    jvm = re.sub(r"^-Xms\S+$", f"-Xms{heap}", jvm, flags=re.M)
    jvm = re.sub(r"^-Xmx\S+$", f"-Xmx{heap}", jvm, flags=re.M)
    jvm = jvm.replace("-XX:HeapDumpPath=data", f"-XX:HeapDumpPath={spec.folder / 'data'}")
    jvm = jvm.replace("file=logs/gc.log", f"file={spec.folder / 'logs' / 'gc.log'}")
    jvm = jvm.replace("-XX:ErrorFile=logs/", f"-XX:ErrorFile={spec.folder / 'logs'}/")
    (conf / "jvm.options").write_text(jvm)
    settings = {
        "cluster.name": CLUSTER_NAME,
        "node.name": spec.name,
        "network.host": "127.0.0.1",
        "http.port": spec.http_port,
        "transport.port": spec.transport_port,
        "path.data": str(spec.folder / "data"),
        "path.logs": str(spec.folder / "logs"),
        # A developer machine's disk may be fuller than a server's; do not go read-only because of it.
        "cluster.routing.allocation.disk.threshold_enabled": False,
        "bootstrap.memory_lock": False,
        # Detection refreshes every agency's write index before each cycle (82 shards for 41 agencies);
        # OpenSearch sizes the refresh pool at half the cores, one thread on a 2-core machine, where the
        # shards then refresh one after another (BENCHMARKS.md, detection).
        "thread_pool.refresh.max": max(4, (os.cpu_count() or 2) // 2),
        **(extra or {}),
    }
    lines = [f"{k}: {json.dumps(v)}" if not isinstance(v, int) or isinstance(v, bool) else f"{k}: {v}"
             for k, v in settings.items()]
    if len(peers) == 1:
        lines.append('discovery.type: "single-node"')
    else:
        seeds = ", ".join(f'"127.0.0.1:{p.transport_port}"' for p in peers)
        names = ", ".join(f'"{p.name}"' for p in peers)
        lines.append(f"discovery.seed_hosts: [{seeds}]")
        lines.append(f"cluster.initial_cluster_manager_nodes: [{names}]")
    (conf / "opensearch.yml").write_text("\n".join(lines) + "\n")
    (spec.folder / "data").mkdir(exist_ok=True)
    (spec.folder / "logs").mkdir(exist_ok=True)


def read_pid(spec: NodeSpec) -> int | None:
    try:
        return int(spec.pidfile.read_text().strip())
    except (OSError, ValueError):
        return None


def _is_our_process(pid: int, spec: NodeSpec) -> bool:
    """True only for a live OpenSearch process whose configuration is this node's folder."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False
    if not any(b"org.opensearch.bootstrap.OpenSearch" in part for part in cmdline):
        return False
    want = f"OPENSEARCH_PATH_CONF={spec.folder / 'config'}".encode()
    return want in environ


def running_pid(spec: NodeSpec) -> int | None:
    pid = read_pid(spec)
    if pid is not None and _is_our_process(pid, spec):
        return pid
    return None


def http_get(url: str, timeout: float = 5.0, context: ssl.SSLContext | None = None) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=timeout, context=context) as resp:  # noqa: S310 - loopback URL we built
        data: dict[str, object] = json.loads(resp.read())
        return data


def _tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    interesting = [ln for ln in text if "ERROR" in ln or "Exception" in ln or "error" in ln.lower()]
    return " | ".join((interesting or text)[-lines:])[-600:]


@dataclass(frozen=True)
class Secured:
    """What a node with the security plugin adds: settings, files written before it starts, a TLS context."""

    settings: dict[str, object]
    prepare: Callable[[NodeSpec, tuple[int, int] | None], None]
    context: ssl.SSLContext


def start(
    dist: Path, home: Path, port: int, heap: str = "1g", nodes: int = 1, timeout: float = 120.0,
    secured: Secured | None = None, geoip_databases: Sequence[Path] = (),
) -> list[NodeSpec]:
    """Start the nodes and wait for the cluster to be yellow or green. Idempotent for running nodes.

    ``geoip_databases`` (the operator's SOC_GEOIP_DATABASES) are copied into each node's config folder,
    where the ingest pipeline's geoip processors find them (soc.opensearch.geoip)."""
    java = check_java()
    specs = plan(home, port, nodes)
    if secured is not None:
        specs = [replace(s, scheme="https") for s in specs]
    to_start: list[NodeSpec] = []
    for spec in specs:
        if running_pid(spec) is not None:
            continue
        for p, what in ((spec.http_port, "HTTP"), (spec.transport_port, "transport")):
            if not port_free(p):
                raise NodeError(f"port {p} ({what} for {spec.name}) is already in use on 127.0.0.1; "
                                "choose another with --port")
        to_start.append(spec)
    account = service_account()
    if account is not None:
        _check_reachable(dist / "bin", "the OpenSearch distribution")
    started: list[tuple[NodeSpec, subprocess.Popen[bytes]]] = []
    try:
        for spec in to_start:
            write_config(spec, dist, specs, heap, secured.settings if secured else None)
            geoip.place(spec.folder / "config", geoip_databases)
            if account is not None:
                _check_reachable(spec.folder, "the node folder")
                _chown_tree(spec.folder, *account)
            if secured is not None:
                secured.prepare(spec, account)
            env = dict(os.environ)
            env["OPENSEARCH_PATH_CONF"] = str(spec.folder / "config")
            env["OPENSEARCH_JAVA_HOME"] = str(java.parent.parent)
            env.pop("OPENSEARCH_JAVA_OPTS", None)
            out = (spec.folder / "logs" / "stdout.log").open("ab")
            proc = subprocess.Popen(  # the launcher script execs java, so this PID is the node's
                [str(dist / "bin" / "opensearch")], cwd=spec.folder, env=env, stdout=out,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                user=account[0] if account else None, group=account[1] if account else None,
                extra_groups=[] if account else None,
            )
            out.close()
            spec.pidfile.write_text(f"{proc.pid}\n")
            started.append((spec, proc))
        wait_healthy(specs, started, timeout, secured.context if secured else None)
    except BaseException:
        for spec, proc in started:
            _terminate(proc.pid, spec)
        raise
    return specs


def wait_healthy(specs: list[NodeSpec], started: list[tuple[NodeSpec, subprocess.Popen[bytes]]],
                 timeout: float, context: ssl.SSLContext | None = None) -> None:
    deadline = time.monotonic() + timeout
    want = len(specs)
    last = "no answer yet"
    while time.monotonic() < deadline:
        for spec, proc in started:
            if proc.poll() is not None:
                raise NodeError(f"{spec.name} exited with code {proc.returncode} while starting: "
                                f"{_tail(spec.folder / 'logs' / 'stdout.log') or 'see ' + str(spec.folder / 'logs')}")
        try:
            health = http_get(f"{specs[0].url}/_cluster/health?wait_for_status=yellow"
                              f"&wait_for_nodes={want}&timeout=2s", timeout=10, context=context)
            last = f"status {health.get('status')}, {health.get('number_of_nodes')} of {want} nodes"
            if health.get("status") in ("yellow", "green") and not health.get("timed_out"):
                return
        except (urllib.error.URLError, OSError, ValueError) as exc:
            last = str(getattr(exc, "reason", exc))
            time.sleep(0.5)
    raise NodeError(f"OpenSearch did not become healthy within {timeout:.0f} s ({last}); "
                    f"logs are in {specs[0].folder / 'logs'}")


def _terminate(pid: int, spec: NodeSpec, grace: float = 30.0) -> None:
    if not _is_our_process(pid, spec):
        spec.pidfile.unlink(missing_ok=True)
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and _is_our_process(pid, spec):
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.2)
    if _is_our_process(pid, spec):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
    spec.pidfile.unlink(missing_ok=True)


def existing_specs(home: Path) -> list[NodeSpec]:
    """The nodes laid out under ``home`` (one node, or node-N folders of a cluster)."""
    folders = [home] if (home / "config" / "opensearch.yml").exists() else sorted(home.glob("node-*"))
    specs = []
    for folder in folders:
        conf = folder / "config" / "opensearch.yml"
        if not conf.exists():
            continue
        text = conf.read_text()
        http = re.search(r"^http\.port: (\d+)$", text, re.M)
        tport = re.search(r"^transport\.port: (\d+)$", text, re.M)
        name = re.search(r'^node\.name: "([^"]+)"$', text, re.M)
        scheme = "https" if re.search(r"^plugins\.security\.ssl\.http\.enabled: true$", text, re.M) else "http"
        if http and tport and name:
            specs.append(NodeSpec(name.group(1), folder, int(http.group(1)), int(tport.group(1)), scheme))
    return specs


def stop(home: Path, grace: float = 30.0) -> list[str]:
    """Stop every node recorded under ``home``; returns the names of the nodes that were stopped."""
    stopped = []
    for spec in existing_specs(home):
        pid = read_pid(spec)
        if pid is None:
            continue
        if _is_our_process(pid, spec):
            _terminate(pid, spec, grace)
            stopped.append(spec.name)
        else:
            spec.pidfile.unlink(missing_ok=True)
    return stopped


def kill(spec: NodeSpec) -> None:
    """SIGKILL one node (fail-over tests)."""
    pid = running_pid(spec)
    if pid is not None:
        os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
        spec.pidfile.unlink(missing_ok=True)


def status(home: Path, context: ssl.SSLContext | None = None) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for spec in existing_specs(home):
        pid = running_pid(spec)
        row: dict[str, object] = {"node": spec.name, "url": spec.url, "pid": pid, "running": pid is not None}
        if pid is not None:
            try:
                info = http_get(spec.url + "/", context=context)
                version = info.get("version")
                row["version"] = version.get("number") if isinstance(version, dict) else None
                row["health"] = http_get(spec.url + "/_cluster/health", context=context).get("status")
            except (urllib.error.URLError, OSError, ValueError) as exc:
                row["error"] = str(getattr(exc, "reason", exc))
        out.append(row)
    return out
