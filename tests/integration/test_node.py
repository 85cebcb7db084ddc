"""The local node's lifecycle through the real CLI, and its failure modes."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from soc.config import Settings, default_cache
from soc.errors import NodeError
from soc.opensearch import dist, node


def soc(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "soc.cli", *args], capture_output=True, text=True,
                          timeout=300, env={**os.environ, **(env or {})})


def opensearch_processes(home: Path) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            env = (entry / "environ").read_bytes()
            cmd = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"org.opensearch.bootstrap.OpenSearch" in cmd and str(home).encode() in env:
            out.append(int(entry.name))
    return out


@pytest.fixture()
def home() -> Iterator[Path]:
    h = Path(tempfile.mkdtemp(prefix="soc-node-test-"))
    h.chmod(0o755)
    yield h
    node.stop(h, grace=5)
    shutil.rmtree(h, ignore_errors=True)


def test_start_status_stop_through_the_cli(home: Path) -> None:
    port = node.free_port()
    started = soc("opensearch", "start", "--port", str(port), "--home", str(home), "--heap", "512m")
    assert started.returncode == 0, started.stderr
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as resp:
        info = json.loads(resp.read())
    assert info["version"]["number"].startswith("2.19.")
    assert info["version"]["distribution"] == "opensearch"
    modules = json.loads(urllib.request.urlopen(
        f"http://127.0.0.1:{port}/_nodes/plugins?filter_path=nodes.*.modules.name", timeout=10).read())
    names = {m["name"] for n in modules["nodes"].values() for m in n["modules"]}
    assert {"lang-painless", "ingest-common", "analysis-common", "transport-netty4"} <= names

    status = soc("opensearch", "status", "--home", str(home))
    assert status.returncode == 0 and "2.19." in status.stdout and "running" in status.stdout
    assert len(opensearch_processes(home)) == 1

    again = soc("opensearch", "start", "--port", str(port), "--home", str(home))
    assert again.returncode == 0  # already running: nothing new is started
    assert len(opensearch_processes(home)) == 1

    stopped = soc("opensearch", "stop", "--home", str(home))
    assert stopped.returncode == 0 and "stopped soc-node-0" in stopped.stdout
    assert opensearch_processes(home) == []
    status = soc("opensearch", "status", "--home", str(home))
    assert status.returncode == 3 and "stopped" in status.stdout


def test_port_in_use_is_one_clear_error(home: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        result = soc("opensearch", "start", "--port", str(port), "--home", str(home))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"port {port}" in lines[0] and "already in use" in lines[0]
    assert opensearch_processes(home) == []


def test_missing_java_is_one_clear_error(home: Path) -> None:
    result = soc("opensearch", "start", "--port", str(node.free_port()), "--home", str(home),
                 env={"JAVA_HOME": "/nonexistent-java"})
    assert result.returncode == 1
    assert "JAVA_HOME is /nonexistent-java" in result.stderr
    assert opensearch_processes(home) == []


def test_node_that_does_not_become_healthy_is_stopped(home: Path) -> None:
    distribution = dist.install(Settings().opensearch_version, default_cache())
    with pytest.raises(NodeError, match="did not become healthy within 1 s"):
        node.start(distribution, home, node.free_port(), heap="256m", timeout=1)
    assert opensearch_processes(home) == []


def test_corrupted_cached_archive_is_refused(tmp_path: Path) -> None:
    cache = default_cache()
    version = Settings().opensearch_version
    dist.fetch_archive(version, cache)
    copy = tmp_path / "cache"
    copy.mkdir()
    shutil.copy2(cache / f"opensearch-{version}.zip.sha1", copy)
    data = bytearray((cache / f"opensearch-{version}.zip").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (copy / f"opensearch-{version}.zip").write_bytes(bytes(data))
    with pytest.raises(NodeError, match="is corrupted"):
        dist.install(version, copy)


def test_unknown_version_is_not_downloadable(tmp_path: Path) -> None:
    with pytest.raises(NodeError, match=r"cannot download the OpenSearch 2\.19\.999 distribution"):
        dist.fetch_archive("2.19.999", tmp_path)
